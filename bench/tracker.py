"""Benchmark the browser tracker: sa.js gzipped against its budget and other trackers, its builds with optional
modules against theirs, and a track() call's main-thread cost in Chromium.

    .venv/bin/python -m bench.tracker [--calls 10000]

The size is `gzip -9` of sa.js as the real build makes it now from tracker_js/src (the bytes
`python -m build_tracker` writes to tracker_js/dist/sa.js), set against the build's budget and aim and the
published builds of other trackers (`gzip -9` of each, as listed in ANCHORS); then each optional module's build
(the core with that module) and the build with every module, against the budget of a build with modules.

The call cost: Chromium (Playwright, the suite's launch arguments) opens a page carrying Brevo's loader
snippet (server/templates/snippet.html) that loads that sa.js, from a small local HTTP server in this
process which serves the page and sa.js and answers every POST /collect with 204 (the receiver's own
speed is bench/ingest.py's subject). The page is cross-origin isolated (COOP and COEP headers), so that
Chromium's performance.now() resolves 5 µs instead of 100 µs. The page then calls
`sendinblue.track('cart_updated', {...}, {id, data: {items...}})` `--calls` times, timing each call,
in bursts of 50 with a macrotask between bursts, so the tracker's deferred localStorage write and its
batched sends to /collect run during the measurement as they would on a shop's page.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jinja2
from playwright.sync_api import sync_playwright

from bench.table import Row, render
from build_tracker import TRACKER, build
from build_tracker.esbuild import bundle
from build_tracker.report import AIM, BUDGET, MODULES_BUDGET, gzip_size
from server.ingest.tracker_modules import TrackerModule, script_name
from tests.support.browser import CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent
SNIPPET = ROOT / "server" / "templates" / "snippet.html"
CALL_BUDGET_MS = 0.05  # the budget for a track() call, median, on the page's main thread

# gzip -9 of published builds, measured once; True where the tracker retries and keeps a queue across reloads
ANCHORS = [
    ("Plausible legacy", 775, False),
    ("Umami", 2_250, False),
    ("Plausible npm", 2_694, False),
    ("Snowplow", 17_402, True),
    ("Segment", 31_294, True),
    ("RudderStack", 33_602, True),
    ("PostHog", 121_980, True),
]

MEASURE_CALLS = """
async (calls) => {
  const times = new Float64Array(calls)
  for (let i = 0; i < calls; i++) {
    const quantity = 1 + (i % 3)
    const started = performance.now()
    sendinblue.track('cart_updated', {email: 'thomas@example.com', FIRSTNAME: 'Thomas', step: i}, {
      id: 'cart:1',
      data: {
        total: 90 * quantity + 100, currency: 'USD', url: location.origin + '/cart',
        items: [
          {name: 'Black shoes', price: 90, quantity, url: location.origin + '/p/1', image: location.origin + '/1.png'},
          {name: 'White shirt', price: 100, quantity: 1, url: location.origin + '/p/2',
           image: location.origin + '/2.png'},
        ],
      },
    })
    times[i] = performance.now() - started
    if (i % 50 == 49) await new Promise((resolve) => setTimeout(resolve))
  }
  return Array.from(times)
}
"""


class ShopPage:
    """The page with the snippet, the built sa.js, and a /collect that answers 204: one origin on loopback."""

    def __init__(self, script: bytes) -> None:
        self.posts = 0
        page = jinja2.Template(SNIPPET.read_text()).render(client_key="bench-key", script_url="/sa.js")
        html = f"<!doctype html><html><head><title>Cart</title>{page}</head><body>cart</body></html>".encode()
        shop = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/sa.js"):
                    self.answer(200, "application/javascript", script)
                else:
                    self.answer(200, "text/html; charset=utf-8", html)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                shop.posts += 1
                self.answer(204, "", b"")

            def answer(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                if content_type:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cross-Origin-Opener-Policy", "same-origin")
                self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cart"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def chromium_path(default: str) -> str:
    """Playwright's own Chromium where it was downloaded, else the system's, as the suite chooses."""
    if Path(default).exists():
        return default
    system = os.environ.get("SIBYL_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if system is None:
        raise RuntimeError("no Chromium: run `make chromium`")
    return system


def call_timings(script: bytes, calls: int) -> tuple[list[float], int]:
    """Milliseconds per track() call, and how many POSTs to /collect the tracker made meanwhile."""
    shop = ShopPage(script)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path(playwright.chromium.executable_path), args=CHROMIUM_ARGS
            )
            page = browser.new_page()
            page.goto(shop.url)
            page.wait_for_function("window.sib && typeof window.sib.track === 'function'")
            if not page.evaluate("crossOriginIsolated"):
                raise RuntimeError("the page is not cross-origin isolated: performance.now() would resolve 100 µs")
            page.evaluate(MEASURE_CALLS, 200)  # warm-up: the JIT compiles track() before the measured calls
            timings = page.evaluate(MEASURE_CALLS, calls)
            browser.close()
    finally:
        shop.close()
    return timings, shop.posts


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def module_rows() -> list[Row]:
    """The core with each optional module, and with every module, gzip -9 against the budget of a build with modules."""
    sets = [(module,) for module in sorted(TrackerModule)] + [tuple(sorted(TrackerModule))]
    result = []
    for chosen in sets:
        size = gzip_size(build(TRACKER / "src", chosen))
        budget = f"≤ {MODULES_BUDGET:,} B"
        result.append(Row("tracker", f"{script_name(chosen)}, gzip -9", f"{size:,} B", budget, size <= MODULES_BUDGET))
    return result


def rows(calls: int = 10_000) -> list[Row]:
    script = bundle(TRACKER, TRACKER / "src" / "index.js")
    size = gzip_size(script)
    result = [
        Row("tracker", "sa.js, gzip -9", f"{size:,} B", f"≤ {BUDGET:,} B", size <= BUDGET),
        Row("tracker", "sa.js, gzip -9, against the aim", f"{size:,} B", f"≤ {AIM:,} B", size <= AIM),
    ]
    for name, anchor, durable in ANCHORS:
        keeps = "retries, queue across reloads" if durable else "no retry, no stored queue"
        result.append(Row("tracker", f"for reference: {name} ({keeps})", f"{anchor:,} B (ours: {size / anchor:.0%})"))
    result += module_rows()
    timings, posts = call_timings(script, calls)
    result += [
        Row(
            "tracker",
            f"track('cart_updated'), median of {calls:,} calls ({posts} sends meanwhile)",
            f"{statistics.median(timings):.3f} ms",
            f"≤ {CALL_BUDGET_MS} ms",
            statistics.median(timings) <= CALL_BUDGET_MS,
        ),
        Row("tracker", "track('cart_updated'), p95", f"{percentile(timings, 0.95):.3f} ms"),
    ]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    args = parser.parse_args()
    print(render(rows(args.calls)))


if __name__ == "__main__":
    main()
