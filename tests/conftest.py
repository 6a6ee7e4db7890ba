"""Fixtures: the real receiver and demo shop as processes, the app in process, a page host, the browsers, the store."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server import create_app
from server.automation.worker import INLINE_THREAD
from server.models import Site

from .support.browser import BROWSER_USER_AGENT, CHROMIUM_ARGS, PageHost
from .support.clock import Clock
from .support.dashboard import new_user, sign_in
from .support.databases import drop_created, fresh_database_url, on_postgres
from .support.engines import ChromiumBrowser, Engine, EngineBrowser, Engines
from .support.servers import ROOT, SA_JS, Process, start_gunicorn, start_receiver, start_shop
from .support.smtp_sink import SmtpSink
from .support.store import Store
from .support.tracked_pages import brevo_snippet


def pytest_report_header() -> str:
    return f"database: {'PostgreSQL' if on_postgres() else 'SQLite'}"


def pytest_sessionfinish() -> None:
    drop_created()


@pytest.fixture(autouse=True)
def no_inline_worker_left_running() -> Iterator[None]:
    """An app made with SIBYL_WORKER=inline (the default) starts a worker thread in this process at its first request,
    and nothing stops it: on the session's database it would claim other tests' due runs and, with no SMTP server,
    hold their emails. A test's app runs the automation only with `"WORKER": "external"`, or with the worker's `run`
    kept from running."""
    before = set(threading.enumerate())
    yield
    started = [thread for thread in threading.enumerate() if thread.name == INLINE_THREAD and thread not in before]
    for thread in started:
        thread.join(timeout=5)
    if any(thread.is_alive() for thread in started):
        pytest.fail('this test left an inline worker running: make its app with "WORKER": "external"')


@pytest.fixture(scope="session")
def built_tracker() -> Path:
    """The real `sa.js`, built once by the real build."""
    subprocess.run([sys.executable, "-m", "build_tracker"], cwd=ROOT, check=True, capture_output=True)
    return SA_JS


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLite by default; PostgreSQL when the run says so (see tests/support/databases.py)."""
    return fresh_database_url(tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="session")
def store(database_url: str) -> Store:
    """The test's own view of the receiver's database."""
    return Store(database_url)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


# The app in process (Flask's test client and CLI runner): a module needing other settings defines its own `app`.


@pytest.fixture(scope="module")
def app(database_url: str) -> Flask:
    return create_app({"DATABASE_URL": database_url, "WORKER": "external"})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """An anonymous client: a browser without a session, a shop's server, a stranger."""
    return app.test_client()


@pytest.fixture
def owner_email(app: Flask) -> str:
    """A dashboard user seeing every site (the password is PASSWORD)."""
    return new_user(app, prefix="owner")


@pytest.fixture
def owner(app: Flask, owner_email: str) -> Iterator[FlaskClient]:
    """A client signed in to the dashboard as `owner_email`."""
    with app.test_client() as signed_in:
        yield sign_in(signed_in, owner_email)


# Real processes


@pytest.fixture(scope="session")
def receiver(built_tracker: Path, database_url: str, store: Store) -> Iterator[Process]:
    """The real receiver; automation runs elsewhere (the tests' own workers)."""
    process = start_receiver(database_url, built_tracker, worker="external")
    yield process
    process.stop()


@pytest.fixture
def receiver_with_automation(built_tracker: Path, database_url: str, smtp_sink: SmtpSink) -> Iterator[Process]:
    """A receiver that runs the automation itself (SIBYL_WORKER=inline) and mails `smtp_sink`."""
    process = start_receiver(database_url, built_tracker, worker="inline", worker_poll="0.2", smtp_url=smtp_sink.url)
    yield process
    process.stop()


@pytest.fixture
def gunicorn(database_url: str) -> Iterator[Process]:
    """The web tier as `make serve` runs it: gunicorn, two workers, automation elsewhere."""
    process = start_gunicorn(database_url)
    yield process
    process.stop()


@pytest.fixture
def shop(store: Store, receiver: Process) -> Iterator[tuple[Process, Site]]:
    process, site = start_shop(store, receiver)
    yield process, site
    process.stop()


@pytest.fixture
def site(store: Store) -> Site:
    return store.create_site()


@pytest.fixture
def tracking_code(store: Store, site: Site, receiver: Process) -> str:
    """The site's snippet, exactly as `flask --app server sites snippet` prints it."""
    return store.snippet(site, receiver.url)


@pytest.fixture
def brevo_code(site: Site, receiver: Process) -> str:
    """Brevo's current loader snippet for the site, loading the receiver's sa.js."""
    return brevo_snippet(site, receiver.url)


# Chromium


@pytest.fixture(scope="session")
def page_host() -> Iterator[PageHost]:
    host = PageHost()
    yield host
    host.close()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any], playwright: Any) -> dict[str, Any]:
    """Playwright's own Chromium where it was downloaded, else the system's (Debian's `chromium`)."""
    args = {**browser_type_launch_args, "args": [*CHROMIUM_ARGS, f"--user-agent={BROWSER_USER_AGENT}"]}
    if not Path(playwright.chromium.executable_path).exists():
        system = os.environ.get("SIBYL_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
        if system is None:
            pytest.fail("no Chromium: run `make chromium` (Playwright's download or Debian's package)")
        args["executable_path"] = system
    return args


# Firefox and WebKit (Debian's builds, tests/support/engines.py)


@pytest.fixture(scope="session")
def engines() -> Iterator[Engines]:
    session = Engines()
    yield session
    session.close()


@pytest.fixture(params=list(Engine), ids=str)
def engine_browser(engines: Engines, request: pytest.FixtureRequest) -> Iterator[EngineBrowser]:
    """Chromium (the suite's Playwright page), a fresh Firefox window, then a fresh WebKit: a test taking it runs
    once in each."""
    if request.param is Engine.CHROMIUM:
        yield ChromiumBrowser(request.getfixturevalue("page"))
        return
    with engines.opened(request.param) as browser:
        yield browser
