"""Screenshots of the dashboard and the default email layout for the docs, in Chromium.

    .venv/bin/python -m scripts.screenshots [--out docs/screenshots] [--only dashboard|emails]

The dashboard's (a seeded demo database, the real server): every page at a phone's width and a desktop's,
NAME-390.png and NAME-1280.png (overview-390.png, contact-1280.png, …; the docs show some, docs/screenshots/.gitignore
leaves out the others). The emails': the shipped cart-1 with a brand and a three-line cart, email-phone.png (375 px
wide) and email-desktop.png (1024 px).
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
from datetime import datetime
from pathlib import Path

import requests
from flask import Flask
from playwright.sync_api import Browser, Page, Playwright, Route, sync_playwright
from sqlalchemy import select

from server import create_app, db
from server.dashboard.users import create_user
from server.email_templates.compose import render_template
from server.email_templates.store import shipped
from server.models import Contact, OutboxEmail, WorkflowDefinition, utcnow

from .demo_data import SHOP, THOMAS, seed

ROOT = Path(__file__).resolve().parent.parent
EMAIL = "owner@maisonverte.example"
PASSWORD = "screenshots-only"
WIDTHS = (390, 1280)  # a phone's, a desktop's
TALLEST = {390: 1600, 1280: 2400}  # a long page's screenshot ends here: its top, as a reader first sees it
EMAIL_WIDTHS = {"phone": 375, "desktop": 1024}
UNSUBSCRIBE = "https://sibyl.maisonverte.example/unsubscribe/token"
CART_LINES = [  # name, quantity, price, total, slug, the picture's colour
    ("Black leather shoes, handmade in Portugal", 1, "$120.00", "$120.00", "black-shoes", "#27272a"),
    ("White linen shirt", 2, "$45.00", "$90.00", "white-shirt", "#d6d3d1"),
    ("Sun hat", 1, "$28.00", "$28.00", "sun-hat", "#d97706"),
]
LOGO = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40" viewBox="0 0 200 40">'
    '<circle cx="20" cy="20" r="16" fill="#0f766e"/><path d="M20 30 C10 20 14 10 26 10 C26 22 22 26 20 30Z" '
    'fill="#fff"/><text x="44" y="27" font-family="Georgia, serif" font-size="20" fill="#134e4a">Maison Verte</text>'
    "</svg>"
)


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


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(
        executable_path=chromium_path(playwright.chromium.executable_path), args=["--no-sandbox"]
    )


def demo_dashboard(app: Flask, now: datetime, visits_per_day: int = 60) -> dict[str, str]:
    """Seed the demo shop and its owner (EMAIL, PASSWORD); the path of every dashboard page, by the name its
    screenshots take, the login page first (seen signed out)."""
    site = seed(app, now, visits_per_day)
    with db.new_session(app) as session:
        create_user(session, EMAIL, PASSWORD)
        thomas = session.scalar(select(Contact.id).where(Contact.site_id == site.id, Contact.email == THOMAS))
        workflow = session.scalar(select(WorkflowDefinition.id).where(WorkflowDefinition.site_id == site.id))
        email = session.scalar(
            select(OutboxEmail.id).where(OutboxEmail.site_id == site.id).order_by(OutboxEmail.id.desc()).limit(1)
        )
    return {
        "login": "/login",
        "overview": "/",
        "live": "/live",
        "contacts": "/contacts",
        "contact": f"/contacts/{thomas}",
        "workflows": "/workflows",
        "flow": f"/workflows/{workflow}",
        "automation": "/automation",
        "outbox": "/outbox",
        "email": f"/outbox/{email}",
        "sites": "/sites",
        "site": f"/sites/{site.id}",
        "templates": "/templates",
        "template": "/templates/cart-1",
        "account": "/account",
    }


def sign_in(page: Page, base: str) -> None:
    page.goto(base + "/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("#login-form [type=submit]")
    page.wait_for_url(base + "/")


def visit(page: Page, url: str) -> None:
    """Open a page and wait for what it loads (a template's preview, the live table's first refresh)."""
    page.goto(url)
    page.wait_for_load_state("networkidle")


def dashboard_screenshots(out: Path) -> None:
    """Every dashboard page at each of WIDTHS (to TALLEST), signed in to a demo database seeded with a month of
    traffic."""
    database_url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='sibyl-screenshots-')) / 'demo.db'}"
    app = create_app({"DATABASE_URL": database_url, "WORKER": "external"})
    pages = demo_dashboard(app, utcnow())
    port = free_port()
    server = start_server(database_url, port)
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as playwright:
            browser = launch(playwright)
            for width in WIDTHS:
                context = browser.new_context(viewport={"width": width, "height": 800}, device_scale_factor=1)
                page = context.new_page()
                for name, path in pages.items():
                    if name != "login" and page.url.endswith("/login"):
                        sign_in(page, base)
                    visit(page, base + path)
                    shot = out / f"{name}-{width}.png"
                    height = min(TALLEST[width], page.evaluate("document.documentElement.scrollHeight"))
                    page.screenshot(
                        path=str(shot), full_page=True, clip={"x": 0, "y": 0, "width": width, "height": height}
                    )
                    print(f"wrote {shot.relative_to(ROOT) if shot.is_relative_to(ROOT) else shot}")
                context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait()


def branded_cart_email() -> str:
    """The shipped cart-1 as it goes out for a shop with a brand, to Thomas with three lines in his cart."""
    template = shipped("cart-1")
    assert template is not None
    lines = [
        {
            "name": name,
            "quantity": str(quantity),
            "price": price,
            "total": total,
            "url": f"{SHOP}/products/{slug}",
            "image": f"{SHOP}/images/{slug}.svg",
        }
        for name, quantity, price, total, slug, _ in CART_LINES
    ]
    variables = {
        "contact": {"FIRSTNAME": "Thomas", "EMAIL": THOMAS},
        "params": {},
        "unsubscribe": UNSUBSCRIBE,
        "shop": {
            "name": "Maison Verte",
            "logo": f"{SHOP}/images/logo.svg",
            "accent": "#0f766e",
            "intro": "Free delivery on every order this week.",
            "address": "12 Rue des Lilas\n75011 Paris, France",
            "url": f"{SHOP}/",
            "locale": "en_US",
        },
        "cart": {"lines": lines, "total": "$238.00", "url": f"{SHOP}/cart"},
        "page": {"title": "", "url": ""},
    }
    hosts = frozenset({SHOP.removeprefix("https://")})
    return render_template(template, variables, hosts=hosts, unsubscribe_url=UNSUBSCRIBE).html


def shop_image(route: Route) -> None:
    """The demo shop's logo and product pictures, drawn here (the shop is not on the network)."""
    name = route.request.url.rsplit("/", 1)[-1].removesuffix(".svg")
    colours = {slug: colour for *_, slug, colour in CART_LINES}
    if name == "logo":
        body = LOGO
    else:
        body = (
            '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
            f'<rect width="64" height="64" rx="8" fill="{colours.get(name, "#a8a29e")}"/></svg>'
        )
    route.fulfill(status=200, content_type="image/svg+xml", body=body)


def email_screenshots(out: Path) -> None:
    """The default layout at a phone's width and a desktop's, whole."""
    email = branded_cart_email()
    with sync_playwright() as playwright:
        browser = launch(playwright)
        for name, width in EMAIL_WIDTHS.items():
            # A short window: the full-page screenshot grows to the email's height, with no margin below it.
            page = browser.new_page(viewport={"width": width, "height": 400}, device_scale_factor=1)
            page.route(f"{SHOP}/images/*", shop_image)
            page.set_content(email, wait_until="networkidle")
            path = out / f"email-{name}.png"
            page.screenshot(path=str(path), full_page=True)
            print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
            page.close()
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--only", choices=["dashboard", "emails"], help="one set of screenshots (default: both)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "dashboard"):
        dashboard_screenshots(args.out)
    if args.only in (None, "emails"):
        email_screenshots(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
