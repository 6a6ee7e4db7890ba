"""What tests present as a browser: Chromium's arguments, its user agent and headers, and a host for test pages."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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
