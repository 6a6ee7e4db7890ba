"""Fixtures: the real receiver and demo shop as processes, a page host, Chromium, the store."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Page
from sqlalchemy import select, update

from server import create_app, db
from server.automation.carts import workflow_of
from server.models import Cart, Contact, Event, Site, Visitor
from server.sites import create_site, snippet

from .databases import drop_created, fresh_database_url, on_postgres
from .smtp_sink import SmtpSink, smtp_sink  # noqa: F401 (a fixture for every test module)

ROOT = Path(__file__).resolve().parent.parent
SA_JS = ROOT / "tracker_js" / "dist" / "sa.js"
POLL_SECONDS = 0.05
# The receiver keeps no events from bots, and headless Chromium names itself one ("HeadlessChrome"):
# test browsers (every request, beacons included) and test clients say plainly that they are the
# desktop Chrome they stand for.
BROWSER_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
)
BROWSER_HEADERS = {"User-Agent": BROWSER_USER_AGENT}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, page: Page | None = None) -> Any:
    """Poll `condition` until it returns something truthy; fail the test at the timeout.

    With `page`, the pauses go through Playwright, so that its route handlers keep running.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s (last value: {result!r})")
        if page is not None:
            page.wait_for_timeout(POLL_SECONDS * 1000)
        else:
            time.sleep(POLL_SECONDS)


class Clock:
    """The worker's clock, moved by the test instead of waiting hours."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class Process:
    """A server started as a child process on 127.0.0.1, stopped by its PID."""

    def __init__(self, args: list[str], port: int, env: dict[str, str], health: str, cwd: Path = ROOT) -> None:
        self.args, self.port, self.env, self.health, self.cwd = args, port, env, health, cwd
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.args, cwd=self.cwd, env=self.env)
        try:
            wait_until(self._healthy, timeout=30)
        except BaseException:
            self.stop()
            raise

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail(f"{self.args} exited with {self.proc.returncode}")
        try:
            return requests.get(self.url + self.health, timeout=5).ok
        except requests.RequestException:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def flask_command(app: str, port: int) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", app, "run", "--port", str(port), "--no-reload"]


@pytest.fixture(scope="session")
def built_tracker() -> Path:
    """The real `sa.js`, built once by the real build."""
    subprocess.run([sys.executable, "-m", "build_tracker"], cwd=ROOT, check=True, capture_output=True)
    return SA_JS


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLite by default; PostgreSQL when the run says so (see tests/databases.py)."""
    return fresh_database_url(tmp_path_factory.mktemp("db"))


def pytest_report_header() -> str:
    return f"database: {'PostgreSQL' if on_postgres() else 'SQLite'}"


def pytest_sessionfinish() -> None:
    drop_created()


class Store:
    """Direct access to the receiver's database, for arranging sites and reading results."""

    def __init__(self, database_url: str) -> None:
        self.app = create_app({"DATABASE_URL": database_url})

    def create_site(self, origins: list[str] | None = None, email_hosts: tuple[str, ...] = ("shop.example",)) -> Site:
        """A new site; its emails may link to the guide's shop (shop.example) besides its origins."""
        with db.new_session(self.app) as session:
            site = create_site(session, f"site-{uuid.uuid4().hex[:8]}", origins or [], self.app.config["CART_DELAY"])
            site.email_hosts = list(email_hosts)
            session.commit()
            return site

    def snippet(self, site: Site, base_url: str) -> str:
        with self.app.app_context():
            return snippet(site, base_url)

    def events(self, site: Site, kind: str | None = None) -> list[Event]:
        with db.new_session(self.app) as session:
            query = select(Event).where(Event.site_id == site.id).order_by(Event.id)
            if kind is not None:
                query = query.where(Event.kind == kind)
            return list(session.scalars(query))

    def wait_for_events(
        self, site: Site, count: int, kind: str | None = None, timeout: float = 15, page: Page | None = None
    ) -> list[Event]:
        """Wait until at least `count` events (of `kind`) are stored; return all of them."""
        events: list[Event] = wait_until(
            lambda: found if len(found := self.events(site, kind)) >= count else None, timeout, page
        )
        return events

    def leave_only_carts_of(self, site: Site) -> None:
        """Close other tests' carts, so that a worker with a moved clock mails this test's carts only."""
        with db.new_session(self.app) as session:
            session.execute(update(Cart).where(Cart.site_id != site.id).values(state="closed", due_at=None))
            session.commit()

    def receive_carts_at(self, site: Site, moment: datetime, cart_key: str | None = None) -> None:
        """Arrange the site's carts (or one) as if the receiver, whose clock tests cannot move, had received their
        last update at `moment`: their deadlines, which count from receipt, move with it."""
        with db.new_session(self.app) as session:
            query = select(Cart).where(Cart.site_id == site.id)
            for cart in session.scalars(query if cart_key is None else query.where(Cart.cart_key == cart_key)):
                shift = moment - cart.received_at
                cart.received_at = moment
                cart.deadline_at = cart.deadline_at + shift if cart.deadline_at else None
                cart.due_at = cart.due_at + shift if cart.due_at else None
            session.commit()

    def received(self, site: Site) -> list[datetime]:
        """When the receiver got each of the site's events, in order: deadlines count from there."""
        return [event.received_at for event in self.events(site)]

    def set_cart_delay(self, site: Site, seconds: float) -> None:
        with db.new_session(self.app) as session:
            workflow = workflow_of(session, site.id)
            workflow.delay_seconds = seconds
            session.commit()

    def visitor(self, visitor_id: int | None) -> Visitor | None:
        with db.new_session(self.app) as session:
            return session.get(Visitor, visitor_id) if visitor_id is not None else None

    def contact(self, site: Site, email: str) -> Contact | None:
        with db.new_session(self.app) as session:
            return session.scalar(select(Contact).where(Contact.site_id == site.id, Contact.email == email))


@pytest.fixture(scope="session")
def store(database_url: str) -> Store:
    """The test's own view of the receiver's database."""
    return Store(database_url)


# Every test client comes from 127.0.0.1, like a whole city of shoppers behind one address: the per-address
# limits on identifications and new contacts are raised for the shared receivers (tests/test_abuse.py
# checks the limits themselves on receivers of its own).
SHARED_ADDRESS = {"identify_limit_address": "1000000/hour", "new_contact_limit_address": "1000000/hour"}


def start_receiver(database_url: str, tracker: Path, **settings: str) -> Process:
    """`flask --app server run` on a free port, with SIBYL_* settings on top of the test environment."""
    port = free_port()
    env = {**os.environ, "SIBYL_DATABASE_URL": database_url, "SIBYL_TRACKER_PATH": str(tracker),
           "SIBYL_PUBLIC_URL": f"http://127.0.0.1:{port}"}  # as a deployment says where browsers reach it
    env.update({f"SIBYL_{name.upper()}": value for name, value in (SHARED_ADDRESS | settings).items()})
    process = Process(flask_command("server", port), port, env, "/healthz")
    process.start()
    return process


@pytest.fixture(scope="session")
def receiver(built_tracker: Path, database_url: str, store: Store) -> Iterator[Process]:
    """The real receiver; automation runs elsewhere (the tests' own workers)."""
    process = start_receiver(database_url, built_tracker, worker="external")
    yield process
    process.stop()


@pytest.fixture
def gunicorn(database_url: str) -> Iterator[Process]:
    """The web tier as `make serve` runs it: gunicorn, two workers, automation elsewhere."""
    port = free_port()
    env = {**os.environ, "SIBYL_DATABASE_URL": database_url, "SIBYL_WORKER": "external", "SIBYL_AUTO_MIGRATE": "0",
           "SIBYL_COLLECT_RATE_LIMIT": "1000000/minute"}
    env.update({f"SIBYL_{name.upper()}": value for name, value in SHARED_ADDRESS.items()})
    command = [sys.executable, "-m", "gunicorn", "-c", "python:server.gunicorn_conf", "--workers", "2",
               "--bind", f"127.0.0.1:{port}", "server:create_app()"]
    process = Process(command, port, env, "/healthz")
    process.start()
    yield process
    process.stop()


class PageHost:
    """A plain HTTP server for test pages on their own origin (cross-origin to the receiver)."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path.split("?")[0].split("#")[0])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((body or "not found").encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, path: str, head: str = "", body: str = "") -> str:
        self.pages[path] = f"<!doctype html><html><head><title>{path}</title>{head}</head><body>{body}</body></html>"
        return self.url + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def page_host() -> Iterator[PageHost]:
    host = PageHost()
    yield host
    host.close()


@pytest.fixture
def site(store: Store) -> Site:
    return store.create_site()


@pytest.fixture
def tracking_code(store: Store, site: Site, receiver: Process) -> str:
    """The site's snippet, exactly as `flask --app server sites snippet` prints it."""
    return store.snippet(site, receiver.url)


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


def send(receiver: Process, site: Site, *messages: dict[str, Any], cuid: str | None = None) -> None:
    """One tracker batch posted to /collect as a browser would; it must be accepted."""
    body = {"key": site.client_key, "cuid": cuid or uuid.uuid4().hex, "messages": list(messages)}
    response = requests.post(receiver.url + "/collect", data=json.dumps(body), headers=BROWSER_HEADERS, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["stored"] + response.json()["duplicates"] == len(messages), response.text


def start_shop(store: Store, receiver: Process) -> tuple[Process, Site]:
    """The demo shop on its own origin, with a fresh site's tracking code (pointing at `receiver`)."""
    port = free_port()
    site = store.create_site([f"http://127.0.0.1:{port}"])
    env = {**os.environ, "DEMO_SNIPPET": store.snippet(site, receiver.url)}
    process = Process(flask_command("demo_site", port), port, env, "/")
    process.start()
    return process, site


@pytest.fixture
def shop(store: Store, receiver: Process) -> Iterator[tuple[Process, Site]]:
    process, site = start_shop(store, receiver)
    yield process, site
    process.stop()


@pytest.fixture
def receiver_with_automation(built_tracker: Path, database_url: str, smtp_sink: SmtpSink) -> Iterator[Process]:
    """A receiver that runs the automation itself (SIBYL_WORKER=inline) and mails `smtp_sink`."""
    process = start_receiver(database_url, built_tracker, worker="inline", worker_poll="0.2", smtp_url=smtp_sink.url)
    yield process
    process.stop()
