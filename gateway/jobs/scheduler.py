"""One scheduler for every periodic job the running gateway does, started with the app.

Each domain lists its jobs in its own `scheduled.py` as `(name, interval, run)`:
`interval` reads the seconds between runs from the settings (0 or less: off),
`run` takes the gateway context and opens the transactions it needs. Jobs run
one after another in the order they are listed, so jobs due together run in
that order; a failed run is logged and the job runs again at its next turn.
Several gateways may run the same jobs: each job is written to be safe at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import NamedTuple

import structlog

from consent import scheduled as consent_scheduled
from gateway.audit import scheduled as audit_scheduled
from gateway.core.settings import Settings
from gateway.runtime.context import GatewayContext
from gateway.security import scheduled as security_scheduled

log = structlog.get_logger()


class Job(NamedTuple):
    """A periodic job: its name, its interval from the settings, and what it runs."""

    name: str
    interval: Callable[[Settings], float]
    run: Callable[[GatewayContext], Awaitable[object]]


JOBS: tuple[Job, ...] = tuple(
    Job(*entry)
    for entry in (*audit_scheduled.JOBS, *consent_scheduled.JOBS, *security_scheduled.JOBS)
)


async def run_job(context: GatewayContext, job: Job) -> None:
    """Run `job` once; a failure is logged, never raised."""
    try:
        await job.run(context)
    except Exception as error:
        # The schedule outlives a failed run: the next one picks up whatever was missed.
        log.error("job.failed", job=job.name, error=type(error).__name__)


async def run_periodically(context: GatewayContext, jobs: Iterable[Job]) -> None:
    """Run each job at once and then every interval, until cancelled."""
    loop = asyncio.get_running_loop()
    intervals = {job: job.interval(context.settings) for job in jobs}
    due = {job: loop.time() for job, interval in intervals.items() if interval > 0}
    while due:
        for job in list(due):
            if due[job] <= loop.time():
                await run_job(context, job)
                due[job] = loop.time() + intervals[job]
        await asyncio.sleep(max(0.0, min(due.values()) - loop.time()))


@contextlib.asynccontextmanager
async def scheduler(context: GatewayContext, jobs: Iterable[Job] = JOBS) -> AsyncIterator[None]:
    """Run the jobs for as long as the block runs (a job whose interval is 0 never runs)."""
    task = asyncio.create_task(run_periodically(context, jobs))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
