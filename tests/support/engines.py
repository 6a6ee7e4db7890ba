"""Firefox and WebKit, Debian's stock builds, behind one small interface: open a URL, evaluate JS, wait, close.

Playwright drives only its own builds of these engines, which cannot be downloaded here; Firefox is driven by
Puppeteer over WebDriver BiDi (tests/firefox_driver, no geckodriver needed) and WebKit by Selenium through
WebKitGTK's WebKitWebDriver on a virtual display (Xvfb). `make engines` installs both.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.webkitgtk.options import Options as WebKitOptions
from selenium.webdriver.webkitgtk.service import Service as WebKitService

from .servers import ROOT
from .waiting import wait_until

FIREFOX_DRIVER = ROOT / "tests" / "firefox_driver"
MINIBROWSERS = "lib/*/webkit2gtk-4.*/MiniBrowser"  # WebKitGTK's own browser, under /usr
INSTALL_HINT = "run `make engines` (Debian's firefox-esr, webkit2gtk-driver and xvfb, and the Firefox driver)"


class Engine(StrEnum):
    CHROMIUM = "chromium"
    FIREFOX = "firefox"
    WEBKIT = "webkit"


# The receiver keeps no events from bots: each engine says plainly which desktop browser it stands for.
USER_AGENTS = {
    Engine.FIREFOX: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
    Engine.WEBKIT: (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.0 Safari/605.1.15"
    ),
}


class ScriptError(Exception):
    """A script failed in the page, or there was no page to run it in (between two documents)."""


class EngineBrowser(ABC):
    """One browser window of an engine, on a fresh profile (no cookies, no storage)."""

    engine: Engine

    @abstractmethod
    def goto(self, url: str) -> None:
        """Open `url` and return once it has loaded."""

    @abstractmethod
    def evaluate(self, expression: str) -> Any:
        """The value of a JS expression in the page (awaited when a promise), as JSON gives it."""

    @abstractmethod
    def close(self) -> None: ...

    def wait_for(self, expression: str, timeout: float = 10.0) -> Any:
        """Poll a JS expression until it is truthy, a page between two documents counting as not yet; fail the test
        at the timeout, naming the last script error if any."""
        errors: list[str] = []

        def value() -> Any:
            try:
                return self.evaluate(expression)
            except ScriptError as error:
                errors.append(str(error))
                return None

        try:
            return wait_until(value, timeout)
        except pytest.fail.Exception:
            pytest.fail(f"{expression!r} not true within {timeout}s in {self.engine} (last error: {errors[-1:]})")


class ChromiumBrowser(EngineBrowser):
    """Chromium as the other engines are driven, over the suite's Playwright page (its desktop user agent)."""

    engine = Engine.CHROMIUM

    def __init__(self, page: Page) -> None:
        self.page = page

    def goto(self, url: str) -> None:
        self.page.goto(url)

    def evaluate(self, expression: str) -> Any:
        try:
            return self.page.evaluate(expression)
        except PlaywrightError as error:
            raise ScriptError(str(error)) from None

    def close(self) -> None:
        """Nothing: the page is the `page` fixture's, which closes it."""


class FirefoxDriver:
    """Firefox through tests/firefox_driver/drive.mjs, a Node process answering one JSON line per command."""

    def __init__(self, executable: str, node: str) -> None:
        command = [node, str(FIREFOX_DRIVER / "drive.mjs"), executable, USER_AGENTS[Engine.FIREFOX]]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            self._answer()  # the first answer: Firefox is up
        except BaseException:
            self.close()
            raise

    def _answer(self) -> Any:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            pytest.fail(f"the Firefox driver exited with {self.process.wait()}")
        answer = json.loads(line)
        if "error" in answer:
            raise ScriptError(answer["error"])
        return answer.get("value")  # a JS `undefined` leaves the value out

    def send(self, command: str, argument: str = "") -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"command": command, "argument": argument}) + "\n")
        self.process.stdin.flush()
        return self._answer()

    def running(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()  # the driver closes Firefox and exits
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class FirefoxBrowser(EngineBrowser):
    """A private window of a running Firefox: cookies and storage of its own, gone when it closes."""

    engine = Engine.FIREFOX

    def __init__(self, driver: FirefoxDriver) -> None:
        self.driver = driver
        driver.send("open")

    def goto(self, url: str) -> None:
        self.driver.send("goto", url)

    def evaluate(self, expression: str) -> Any:
        return self.driver.send("evaluate", expression)

    def close(self) -> None:
        self.driver.send("close")


class WebKitBrowser(EngineBrowser):
    """WebKitGTK's MiniBrowser through WebKitWebDriver (Selenium), on an Xvfb display of its own."""

    engine = Engine.WEBKIT

    def __init__(self, minibrowser: str, webdriver_path: str, xvfb: str) -> None:
        self.display = VirtualDisplay(xvfb)
        try:
            options = WebKitOptions()
            options.binary_location = minibrowser
            options.add_argument("--automation")
            options.add_argument(f"--user-agent={USER_AGENTS[self.engine]}")  # MiniBrowser takes WebKitSettings
            service = WebKitService(executable_path=webdriver_path, env={**os.environ, "DISPLAY": self.display.name})
            with warnings.catch_warnings():  # Selenium's WebKitGTK driver calls an API that Selenium deprecated
                warnings.filterwarnings("ignore", "setting remote_server_addr", DeprecationWarning)
                self.driver = webdriver.WebKitGTK(options=options, service=service)
        except BaseException:
            self.display.stop()
            raise

    def goto(self, url: str) -> None:
        self.driver.get(url)

    def evaluate(self, expression: str) -> Any:
        try:
            return self.driver.execute_script(f"return ({expression})")
        except WebDriverException as error:
            raise ScriptError(error.msg) from error

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            self.display.stop()


class VirtualDisplay:
    """An Xvfb X server on the first free display number (Xvfb picks it and writes it to a pipe)."""

    def __init__(self, xvfb: str) -> None:
        read, write = os.pipe()
        command = [xvfb, "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"]
        self.process = subprocess.Popen(command, pass_fds=[write], stderr=subprocess.DEVNULL)
        os.close(write)
        with os.fdopen(read) as numbers:
            number = numbers.readline().strip()
        if not number:
            pytest.fail(f"Xvfb exited with {self.process.wait()} before naming its display")
        self.name = f":{number}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def programs(engine: Engine) -> dict[str, str | None]:
    """Where each program that `engine` needs is installed, None where it is not."""
    if engine is Engine.FIREFOX:
        driver = FIREFOX_DRIVER / "node_modules" / "puppeteer-core"
        found = {"firefox-esr": shutil.which("firefox-esr"), "node": shutil.which("node")}
        return found | {"the Firefox driver": str(driver) if driver.is_dir() else None}
    minibrowser = next(map(str, Path("/usr").glob(MINIBROWSERS)), None)
    return {
        "WebKitWebDriver": shutil.which("WebKitWebDriver"),
        "Xvfb": shutil.which("Xvfb"),
        "MiniBrowser": minibrowser,
    }


def found(engine: Engine) -> dict[str, str]:
    """The programs `engine` needs, by name; the test is skipped, saying what to install, when one is missing."""
    paths = programs(engine)
    if absent := [name for name, path in paths.items() if path is None]:
        pytest.skip(f"{engine} needs {', '.join(absent)}: {INSTALL_HINT}")
    return {name: path for name, path in paths.items() if path is not None}


class Engines:
    """The engines for a test session: Firefox started once (3 to 4 s) with each browser a private window of it,
    WebKit started afresh for each browser (about a second)."""

    def __init__(self) -> None:
        self.firefox: FirefoxDriver | None = None

    def launch(self, engine: Engine) -> EngineBrowser:
        """A fresh browser of `engine`: no cookies, no storage."""
        path = found(engine)
        if engine is Engine.WEBKIT:
            return WebKitBrowser(path["MiniBrowser"], path["WebKitWebDriver"], path["Xvfb"])
        if self.firefox is None or not self.firefox.running():
            self.firefox = FirefoxDriver(path["firefox-esr"], path["node"])
        return FirefoxBrowser(self.firefox)

    @contextmanager
    def opened(self, engine: Engine) -> Iterator[EngineBrowser]:
        """A fresh browser of `engine` for the `with` block, closed after it."""
        browser = self.launch(engine)
        try:
            yield browser
        finally:
            browser.close()

    def close(self) -> None:
        if self.firefox is not None:
            self.firefox.close()
