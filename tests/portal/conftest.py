"""A gateway served over a real loopback socket, and a headless Chromium to drive its portal.

The browser needs Debian's `chromium` and `chromium-driver` and the `selenium` package.
Without them the browser tests are skipped, except under `CI=true`, where they fail.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import uvicorn

from connectors.simulators.app import create_simulator_app
from connectors.simulators.population import Population
from gateway.app import create_app
from gateway.context import GatewayContext, build_context
from gateway.migrate import upgrade
from gateway.settings import DEVELOPMENT_SOURCE_CREDENTIALS, Settings
from tests.conftest import BASE_URL, in_ci
from tests.support import LogCapture, Stack

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = "chromium"
CHROMEDRIVER = "chromedriver"
SERVER_START_SECONDS = 15.0
SERVER_STOP_SECONDS = 10.0
PHONE_VIEWPORT = (390, 844)


@dataclass
class LiveGateway:
    """A gateway answering on `base_url`, plus an in-process twin over the same database.

    The twin (same database, keys and SMS outbox) does the operator's and the test's
    bookkeeping: registering lenders, reading codes, reading the audit log.
    """

    base_url: str
    stack: Stack


def _context(settings: Settings, population: Population) -> GatewayContext:
    simulators = {
        source: create_simulator_app(source, credential=credential, population=population)
        for source, credential in DEVELOPMENT_SOURCE_CREDENTIALS.items()
    }
    transports = {source: httpx.ASGITransport(app=app) for source, app in simulators.items()}
    return build_context(settings, source_transports=transports)


class _ServerThread(threading.Thread):
    """Serves `context`'s gateway on `sock` from an event loop of its own."""

    def __init__(self, context: GatewayContext, sock: socket.socket):
        super().__init__(name="live-gateway", daemon=True)
        config = uvicorn.Config(
            create_app(context), log_level="warning", access_log=False, lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.context = context
        self.sock = sock

    def run(self) -> None:
        """Serve until asked to stop."""
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        # The context's engine and clients are used only on this loop, so close them here.
        try:
            await self.server.serve(sockets=[self.sock])
        finally:
            await self.context.aclose()

    def wait_started(self) -> None:
        """Return once the server accepts connections; fail after a bounded wait."""
        deadline = time.monotonic() + SERVER_START_SECONDS
        while not self.server.started:
            if not self.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live gateway did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        """Ask the server to finish its requests and exit, and wait for it."""
        self.server.should_exit = True
        self.join(SERVER_STOP_SECONDS)


@pytest.fixture(scope="module")
async def live_gateway(
    population: Population,
    tmp_path_factory: pytest.TempPathFactory,
    captured_logs: LogCapture,
) -> AsyncIterator[LiveGateway]:
    """A gateway on a loopback port over a fresh SQLite database, with the simulators."""
    workdir = tmp_path_factory.mktemp("live-gateway")
    database_url = f"sqlite+aiosqlite:///{workdir / 'lendgate.db'}"
    await upgrade(database_url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(
        environment="test",
        data_dir=workdir,
        database_url=database_url,
        issuer=base_url,
        sms_outbox=workdir / "sms-outbox.jsonl",
        source_timeout_seconds=5.0,
    )
    # The twin first: it creates the keys the served gateway then loads.
    twin_context = _context(settings, population)
    twin_app = create_app(twin_context)
    server = _ServerThread(_context(settings, population), sock)
    server.start()
    try:
        server.wait_started()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=twin_app), base_url=BASE_URL
        ) as http:
            twin = Stack(
                app=twin_app,
                context=twin_context,
                http=http,
                population=population,
                simulators={},
            )
            yield LiveGateway(base_url=base_url, stack=twin)
    finally:
        server.stop()
        sock.close()
        await twin_context.aclose()


def _require(found: bool, what: str) -> None:
    if found:
        return
    if in_ci():
        pytest.fail(f"{what} (CI=true: the browser tests are mandatory)", pytrace=False)
    pytest.skip(what)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    """Headless Chromium with a phone-sized window and a fresh profile."""
    chromium, chromedriver = shutil.which(CHROMIUM), shutil.which(CHROMEDRIVER)
    _require(
        chromium is not None and chromedriver is not None,
        "Chromium is not installed (apt-get install chromium chromium-driver)",
    )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _require(False, "selenium is not installed (pip install selenium)")
        raise
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
        "--lang=zh-CN",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    # A desktop window cannot be narrower than about 500 px; a phone is emulated instead.
    width, height = PHONE_VIEWPORT
    options.add_experimental_option(
        "mobileEmulation", {"deviceMetrics": {"width": width, "height": height, "pixelRatio": 1}}
    )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path keeps Selenium Manager from looking for one online.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(chromedriver)))
    driver.set_page_load_timeout(15)
    driver.set_script_timeout(10)
    try:
        yield driver
    finally:
        driver.quit()
