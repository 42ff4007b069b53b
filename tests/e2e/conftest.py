"""The pages in Debian's headless Chromium (through its chromedriver, with Selenium)
against the daemon on the lab Asterisk, with real SIP calls from sipp.

The lab fixtures are the integration tests' own (imported: pytest finds fixtures by
name). The daemon and the browsers share the test's event loop, so every browser call
(which blocks until Chromium has done it) runs in a thread: the loop keeps serving the
pages' requests and websockets meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.integration.conftest import (  # noqa: F401  (fixtures, found by name)
    agent_ports,
    daemon_factory,
    lab,
    lab_config,
    lab_state,
    second_line_port,
    sipp,
    trunk_port,
)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

_T = TypeVar("_T")
# The pages redraw a section on each update: an element found a moment ago may be gone.
REDRAWN = (StaleElementReferenceException, NoSuchElementException)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith("tests/e2e/"):
            # Also "integration": a run that leaves out the lab leaves these out too.
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.integration)


def chromium(width: int = 1440, height: int = 1000) -> webdriver.Chrome:
    # Never skipped: scripts/install-system-deps.sh installs both.
    for path in (CHROMIUM, CHROMEDRIVER):
        assert Path(path).exists(), f"{path} is missing: run scripts/install-system-deps.sh"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # the tests run as root, where Chromium's sandbox cannot start
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--lang=ja-JP",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(arg)
    # The users' browsers ask for Japanese (the pages choose by Accept-Language).
    options.add_experimental_option("prefs", {"intl.accept_languages": "ja,en-US"})
    # The page's console, to tell a script that broke (Page.script_errors).
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    return webdriver.Chrome(service=service, options=options)


@dataclass
class Page:
    """One person's browser on the daemon's pages (its own cookies: its own session)."""

    driver: webdriver.Chrome
    base: str
    name: str

    async def run(self, fn: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.to_thread(fn, *args)

    async def go(self, path: str) -> None:
        await self.run(self.driver.get, self.base + path)

    async def login(self, token: str, then: str, ready: str = "#conn[data-state='live']") -> None:
        """Through the login form, as a person pastes the token; then waits for
        ``ready`` (the live pages: their websocket is up)."""
        await self.go(f"/login?next={then}")

        def fill() -> None:
            self.driver.find_element(By.ID, "token").send_keys(token)
            self.driver.find_element(By.ID, "login-submit").click()

        await self.run(fill)
        await self.wait(lambda d: d.current_url.split("?")[0].endswith(then), 10, f"{then}")
        await self.wait_css(ready, 10)

    async def wait(self, until: Callable[[WebDriver], _T], timeout: float, what: str) -> _T:
        def waiting() -> _T:
            try:
                return WebDriverWait(
                    self.driver, timeout, poll_frequency=0.02, ignored_exceptions=REDRAWN
                ).until(until)
            except TimeoutException:
                raise AssertionError(
                    f"{self.name}: timed out after {timeout}s waiting for {what}"
                ) from None

        return await self.run(waiting)

    async def wait_css(self, css: str, timeout: float = 10) -> WebElement:
        def found(d: WebDriver) -> WebElement | bool:
            els = d.find_elements(By.CSS_SELECTOR, css)
            return els[0] if els and els[0].is_displayed() else False

        element = await self.wait(found, timeout, css)
        assert isinstance(element, WebElement)
        return element

    async def wait_text(self, css: str, text: str, timeout: float = 10) -> None:
        def has(d: WebDriver) -> bool:
            return any(text in e.text for e in d.find_elements(By.CSS_SELECTOR, css))

        await self.wait(has, timeout, f"{css} showing {text!r}")

    async def gone(self, css: str, timeout: float = 10) -> None:
        await self.wait(lambda d: not d.find_elements(By.CSS_SELECTOR, css), timeout, f"no {css}")

    async def click(self, css: str) -> None:
        def click() -> None:
            for _ in range(20):
                try:
                    WebDriverWait(self.driver, 5, ignored_exceptions=REDRAWN).until(
                        expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, css))
                    ).click()
                    return
                except StaleElementReferenceException:
                    continue  # redrawn between finding and clicking: find it again
            raise AssertionError(f"{self.name}: {css} kept being redrawn")

        await self.run(click)

    async def accept_dialog(self) -> str:
        """Accept the confirm() the last click opened; its text."""

        def accept() -> str:
            alert = WebDriverWait(self.driver, 5).until(expected_conditions.alert_is_present())
            text = alert.text
            alert.accept()
            return text

        return await self.run(accept)

    async def type(self, css: str, text: str) -> None:
        def fill() -> None:
            box = self.driver.find_element(By.CSS_SELECTOR, css)
            box.clear()
            box.send_keys(text)

        await self.run(fill)

    async def choose(self, css: str, value: str) -> None:
        await self.run(
            lambda: Select(self.driver.find_element(By.CSS_SELECTOR, css)).select_by_value(value)
        )

    async def text(self, css: str) -> str:
        """The element's text as shown, read in one step (no element to go stale)."""
        value = await self.run(
            self.driver.execute_script,
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;",
            css,
        )
        assert isinstance(value, str), f"{self.name}: no {css}"
        return value

    async def texts(self, css: str) -> list[str]:
        """Every match's text, in one step."""
        value = await self.run(
            self.driver.execute_script,
            "return [...document.querySelectorAll(arguments[0])].map((e) => e.innerText);",
            css,
        )
        assert isinstance(value, list)
        return [str(v) for v in value]

    async def attrs(self, css: str, name: str) -> list[str]:
        value = await self.run(
            self.driver.execute_script,
            "return [...document.querySelectorAll(arguments[0])]"
            ".map((e) => e.getAttribute(arguments[1]) || '');",
            css,
            name,
        )
        assert isinstance(value, list)
        return [str(v) for v in value]

    async def attr(self, css: str, name: str) -> str | None:
        value = await self.run(
            self.driver.execute_script,
            "const e = document.querySelector(arguments[0]);"
            " return e ? e.getAttribute(arguments[1]) : null;",
            css,
            name,
        )
        return value if isinstance(value, str) else None

    async def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / name
        ok = await self.run(self.driver.save_screenshot, str(path))
        assert ok, path
        return path

    async def script_errors(self) -> list[str]:
        """Errors a page's scripts threw (a refused request is logged too, but is not one)."""
        logs: list[dict[str, Any]] = await self.run(self.driver.get_log, "browser")
        return [
            e["message"]
            for e in logs
            if e.get("level") == "SEVERE" and "Uncaught" in e.get("message", "")
        ]


@dataclass
class Browsers:
    base: str = ""
    pages: list[Page] = field(default_factory=list)

    async def open(self, name: str) -> Page:
        driver = await asyncio.to_thread(chromium)
        page = Page(driver, self.base, name)
        self.pages.append(page)
        return page


@pytest.fixture
async def browsers() -> AsyncIterator[Browsers]:
    b = Browsers()
    try:
        yield b
    finally:
        await asyncio.gather(*(asyncio.to_thread(p.driver.quit) for p in b.pages))


def elapsed(since: float) -> float:
    return time.monotonic() - since
