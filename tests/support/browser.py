"""Browser tests of the portal and the console: a gateway on a real loopback socket, a
headless Chromium to drive its pages, and the waits and captures the tests share.

The browser needs Debian's `chromium` and `chromedriver` and the `selenium` package.
Without them the browser tests are skipped, except under `CI=true`, where they fail.
The fixtures reach every test folder as a plugin of the root conftest.py.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import uvicorn

from connectors.registry import load_sources
from connectors.simulators.app import create_simulator_app
from connectors.simulators.population import Population
from gateway.app import create_app
from gateway.core.migrate import upgrade
from gateway.core.settings import Settings
from gateway.runtime.context import GatewayContext, build_context
from tests.support.databases import in_ci
from tests.support.stack import BASE_URL, LogCapture, Stack

if TYPE_CHECKING:
    from selenium.webdriver import Chrome as WebDriver
    from selenium.webdriver.remote.webelement import WebElement

CHROMIUM = "chromium"
CHROMEDRIVER = "chromedriver"
SERVER_START_SECONDS = 15.0
SERVER_STOP_SECONDS = 10.0
PHONE_VIEWPORT = (390, 844)
DESKTOP = (1280, 900)
WAIT_SECONDS = 15.0
DOWNLOADS = "downloads"
POLL_SECONDS = 0.05


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
        for source, credential in load_sources().development_credentials.items()
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
    # Downloads land in the test's own folder, without asking.
    downloads = tmp_path / DOWNLOADS
    downloads.mkdir(exist_ok=True)
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    # An explicit driver path keeps Selenium Manager from looking for one online.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(chromedriver)))
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    driver.set_page_load_timeout(15)
    driver.set_script_timeout(10)
    try:
        yield driver
    finally:
        driver.quit()


def until(driver: WebDriver, condition: Callable[[WebDriver], Any], what: str) -> Any:
    """Wait for `condition` to hold (a truthy answer), or fail naming `what`."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.wait import WebDriverWait

    # The script replaces what it shows (a pending verdict by its outcome): look again.
    return WebDriverWait(
        driver,
        WAIT_SECONDS,
        poll_frequency=POLL_SECONDS,
        ignored_exceptions=(StaleElementReferenceException,),
    ).until(condition, f"timed out waiting for {what}")


def visible(driver: WebDriver, selector: str) -> WebElement:
    """The element matching `selector`, once it is on screen."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    element: WebElement = until(
        driver, ec.visibility_of_element_located((By.CSS_SELECTOR, selector)), selector
    )
    return element


def clickable(driver: WebDriver, selector: str) -> WebElement:
    """The element matching `selector`, once it can be clicked."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    element: WebElement = until(
        driver, ec.element_to_be_clickable((By.CSS_SELECTOR, selector)), selector
    )
    return element


def visible_now(driver: WebDriver, selector: str) -> bool:
    """Whether an element matching `selector` is on screen at this moment."""
    return any(element.is_displayed() for element in driver.find_elements("css selector", selector))


def desktop(driver: WebDriver) -> None:
    """A desk-sized window until the next page load (the shared fixture emulates a phone,
    and chromedriver applies that again on every navigation)."""
    width, height = DESKTOP
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )


def screenshot(driver: WebDriver, path: Path, *, desk: bool = True) -> Path:
    """The whole page as a PNG, at a desk's width unless `desk` is false."""
    if desk:
        desktop(driver)
        # Two frames: the page lays out (and redraws what it draws for its width) first.
        driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "requestAnimationFrame(() => requestAnimationFrame(() => done()));"
        )
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    width = metrics["cssLayoutViewport"]["clientWidth"]
    height = metrics["cssContentSize"]["height"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


PICTURE_SIZES = ((390, 844, True), (1280, 800, False))
"""The sizes `make screenshots` shows each main page at: a phone, and a desk."""


def _emulate(driver: WebDriver, width: int, height: int, mobile: bool) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )
    # Two frames: the page lays out (and redraws what it draws for its width) first.
    driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "requestAnimationFrame(() => requestAnimationFrame(() => done()));"
    )


def both_sizes(driver: WebDriver, folder: Path, name: str) -> list[Path]:
    """The whole page at a phone's and at a desk's size (`NAME-390x844.png`,
    `NAME-1280x800.png`), then the phone's size again for the steps that follow."""
    taken = []
    for width, height, mobile in PICTURE_SIZES:
        _emulate(driver, width, height, mobile)
        taken.append(screenshot(driver, folder / f"{name}-{width}x{height}.png", desk=False))
    _emulate(driver, *PHONE_VIEWPORT, True)
    return taken


def screenshot_dir(tmp_path: Path, keep_in: str) -> Path:
    """Where screenshots go: the environment variable `keep_in` (e.g.
    `LENDGATE_PORTAL_SCREENSHOTS`) keeps them for a person to look at."""
    shots = Path(os.environ.get(keep_in) or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    return shots


def console_errors(driver: WebDriver, source: str | None = None) -> list[str]:
    """Errors in the browser's console: script errors, CSP violations, failed loads (only
    those from `source`, e.g. "javascript", if given)."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and source in (None, entry.get("source"))
    ]


def horizontal_overflow(driver: WebDriver) -> int:
    """How many CSS pixels the page is wider than the window."""
    overflow: int = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return overflow


async def in_thread(steps: Callable[[], Any]) -> Any:
    """Run blocking Selenium steps off the event loop, which serves the twin gateway."""
    return await asyncio.to_thread(steps)


# The text a reader sees: every rendered text node, except inside `code` and `pre`, where a
# page shows identifiers on purpose (a consent id, a hash, a raw audit leaf) for copying.
_SEEN_TEXT = """
const parts = [document.title];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const parent = node.parentElement;
  if (!parent || parent.closest("code, pre, script, style, noscript, [hidden]")) continue;
  if (!parent.getClientRects().length) continue;
  parts.push(node.textContent);
}
for (const field of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
  if (field.getClientRects().length) parts.push(field.placeholder || "");
}
return parts.join("\\n");
"""


def codes_shown(driver: WebDriver) -> list[str]:
    """Every identifier-shaped token (snake_case, ALL-CAPS code, true/false) a reader sees
    on the page, outside the `code` and `pre` elements that show identifiers on purpose."""
    from policies.values import identifier_tokens

    return identifier_tokens(str(driver.execute_script(_SEEN_TEXT)))


def downloaded(tmp_path: Path, name: str) -> bytes:
    """The file `name` the browser downloaded, once it is complete."""
    path = tmp_path / DOWNLOADS / name
    deadline = time.monotonic() + WAIT_SECONDS
    while not path.is_file() or (path.parent / (name + ".crdownload")).exists():
        if time.monotonic() > deadline:
            found = sorted(item.name for item in path.parent.iterdir())
            raise AssertionError(f"{name} was not downloaded (found {found})")
        time.sleep(POLL_SECONDS)
    return path.read_bytes()
