"""`make demo`: the receiver on :8000 and the demo shop on :5001, until Ctrl-C."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from server import create_app, db
from server.sites import by_name, create_site, snippet

RECEIVER_URL = "http://127.0.0.1:8000"
SHOP_URL = "http://127.0.0.1:5001"
SITE_NAME = "demo"


def prepare_site(snippet_file: Path) -> tuple[str, str]:
    """Create the demo site once, write its tracking code for the shop; return its two keys."""
    app = create_app()
    with db.new_session(app) as session:
        site = by_name(session, SITE_NAME) or create_site(session, SITE_NAME, [SHOP_URL], app.config["CART_DELAY"])
        with app.app_context():
            snippet_file.write_text(snippet(site, RECEIVER_URL))
        print(f"Database:   {app.config['DATABASE_URL']}")
        return site.client_key, site.api_key


def main() -> int:
    instance = Path(create_app().instance_path)
    snippet_file = instance / "demo-snippet.html"
    client_key, api_key = prepare_site(snippet_file)
    env = {**os.environ, "DEMO_SNIPPET_FILE": str(snippet_file), "SIBYL_AUTO_MIGRATE": "0"}
    flask = [sys.executable, "-m", "flask", "--app"]
    processes = [
        subprocess.Popen([*flask, "server", "run", "--port", "8000"], env=env),
        subprocess.Popen([*flask, "demo_site", "run", "--port", "5001"], env=env),
    ]
    print(f"Receiver:   {RECEIVER_URL}")
    print(f"Demo shop:  {SHOP_URL}")
    print(f"Client key: {client_key}")
    print(f"API key:    {api_key}  (try: curl -H 'api-key: {api_key}' {RECEIVER_URL}/v3/events)")
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
