"""Screenshots of the dashboard for the README: a seeded demo database, the real server, Chromium.

    .venv/bin/python -m scripts.screenshots [--out docs/screenshots]

Writes overview.png, contact.png and automation.png, 1280 px wide.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from playwright.sync_api import Page, sync_playwright
from sqlalchemy import select

from server import create_app, db
from server.dashboard.users import create_user
from server.models import Contact, utcnow

from .demo_data import THOMAS, seed

ROOT = Path(__file__).resolve().parent.parent
EMAIL = "owner@maisonverte.example"
PASSWORD = "screenshots-only"
WIDTH = 1280


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(database_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SIBYL_DATABASE_URL": database_url, "SIBYL_WORKER": "external", "SIBYL_AUTO_MIGRATE": "0"}
    command = [sys.executable, "-m", "flask", "--app", "server", "run", "--port", str(port), "--no-reload"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return server
        except requests.ConnectionError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not start")


def chromium_path(default: str) -> str | None:
    """Playwright's own Chromium where it was downloaded, else the system's."""
    if Path(default).exists():
        return None
    return os.environ.get("SIBYL_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def shoot(page: Page, base: str, path: str, out: Path, full_page: bool = True) -> None:
    page.goto(base + path)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(out), full_page=full_page)
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='sibyl-screenshots-')) / 'demo.db'}"
    app = create_app({"DATABASE_URL": database_url, "WORKER": "external"})
    site = seed(app, utcnow())
    with db.new_session(app) as session:
        create_user(session, EMAIL, PASSWORD)
        thomas = session.scalar(select(Contact.id).where(Contact.site_id == site.id, Contact.email == THOMAS))
    port = free_port()
    server = start_server(database_url, port)
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path(playwright.chromium.executable_path), args=["--no-sandbox"]
            )
            page = browser.new_page(viewport={"width": WIDTH, "height": 800}, device_scale_factor=1)
            page.goto(base + "/login")
            page.fill("#email", EMAIL)
            page.fill("#password", PASSWORD)
            page.click("#login-form [type=submit]")
            page.wait_for_url(base + "/")
            shoot(page, base, "/", args.out / "overview.png")
            shoot(page, base, f"/contacts/{thomas}", args.out / "contact.png")
            page.set_viewport_size({"width": WIDTH, "height": 1000})
            shoot(page, base, "/automation", args.out / "automation.png", full_page=False)
            browser.close()
    finally:
        server.terminate()
        server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
