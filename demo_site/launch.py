"""`make demo`: the receiver on :8000 (with the automation) and the demo shop on :5001, until Ctrl-C."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from flask import Flask

from server import create_app, db
from server.automation.carts import reconfigure, workflow_of
from server.config import parse_duration
from server.dashboard.users import by_email, create_user
from server.models import Site
from server.sites import by_name, create_site, snippet

RECEIVER_URL = "http://127.0.0.1:8000"
SHOP_URL = "http://127.0.0.1:5001"
SITE_NAME = "demo"
DEMO_CART_DELAY = "2m"  # short, so that a newcomer sees a recovery email in minutes
DASHBOARD_USER = "admin@example.com"


def prepare_site(snippet_file: Path, cart_delay: float) -> Site:
    """Create the demo site once, set its cart delay, write its tracking code for the shop."""
    app = create_app()
    with db.new_session(app) as session:
        site = by_name(session, SITE_NAME) or create_site(session, SITE_NAME, [SHOP_URL], cart_delay)
        workflow = workflow_of(session, site.id)
        workflow.delay_seconds = cart_delay
        reconfigure(session, workflow)
        session.commit()
        with app.app_context():
            snippet_file.write_text(snippet(site, RECEIVER_URL))
        print(f"Database:   {app.config['DATABASE_URL']}")
        return site


def prepare_dashboard_user(app: Flask, password_file: Path) -> str:
    """Create the dashboard user once, its generated password kept in the instance folder; the login to print."""
    with db.new_session(app) as session:
        if by_email(session, DASHBOARD_USER) is None:
            password = secrets.token_urlsafe(12)
            create_user(session, DASHBOARD_USER, password)
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
    if not password_file.exists():
        return f"{DASHBOARD_USER} (password set by hand)"
    return f"{DASHBOARD_USER} / {password_file.read_text().strip()}"


def mail_destination() -> str:
    if os.environ.get("SIBYL_SMTP_URL"):
        return "sent through SIBYL_SMTP_URL"
    return (
        "held in the outbox, as no mail server is set: .venv/bin/flask --app server outbox list (and outbox show ID);"
        " set SIBYL_SMTP_URL and run outbox release to send them"
    )


def main() -> int:
    os.environ.setdefault("SIBYL_PUBLIC_URL", RECEIVER_URL)  # every link in the demo's emails points at its receiver
    delay_text = os.environ.get("SIBYL_CART_DELAY", DEMO_CART_DELAY)
    app = create_app()
    instance = Path(app.instance_path)
    snippet_file = instance / "demo-snippet.html"
    site = prepare_site(snippet_file, parse_duration(delay_text))
    login = prepare_dashboard_user(app, instance / "dashboard-password")
    env = {**os.environ, "DEMO_SNIPPET_FILE": str(snippet_file), "SIBYL_AUTO_MIGRATE": "0", "SIBYL_WORKER": "inline"}
    flask = [sys.executable, "-m", "flask", "--app"]
    processes = [
        subprocess.Popen([*flask, "server", "run", "--port", "8000"], env=env),
        subprocess.Popen([*flask, "demo_site", "run", "--port", "5001"], env=env),
    ]
    print(f"Receiver:   {RECEIVER_URL}")
    print(f"Dashboard:  {RECEIVER_URL}/  sign in as {login}")
    print(f"Demo shop:  {SHOP_URL}")
    print(f"Client key: {site.client_key}")
    print(f"API key:    {site.api_key}  (try: curl -H 'api-key: {site.api_key}' {RECEIVER_URL}/v3/events)")
    print(f"Abandoned carts: emailed {delay_text} after the last update (sign in first); {mail_destination()}")
    print("Ctrl-C stops everything.", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        return max(process.wait() for process in processes)
    except KeyboardInterrupt:
        return 0
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait()


if __name__ == "__main__":
    sys.exit(main())
