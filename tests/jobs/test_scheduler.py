"""The scheduler: jobs due together run in order, a failed run is retried, 0 turns a job off."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from gateway.jobs.scheduler import Job, scheduler
from gateway.runtime.context import GatewayContext


async def test_jobs_run_in_order_failures_are_retried_and_an_interval_of_0_is_off() -> None:
    runs: list[str] = []

    def job(name: str, interval: float, *, fails: bool = False) -> Job:
        async def run(_: GatewayContext) -> None:
            runs.append(name)
            if fails:
                raise RuntimeError("the job failed")

        return Job(name, lambda _settings: interval, run)

    context = cast(Any, SimpleNamespace(settings=None))
    jobs = [job("first", 0.01, fails=True), job("second", 0.01), job("off", 0)]
    async with scheduler(context, jobs):
        for _ in range(200):
            if runs.count("first") >= 3:
                break
            await asyncio.sleep(0.01)
    assert runs[:2] == ["first", "second"]
    assert runs.count("first") >= 3 and runs.count("second") >= 2
    assert "off" not in runs
