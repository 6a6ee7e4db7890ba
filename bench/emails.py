"""Benchmark finishing a shop-written email: a cart email of 100 lines through `finish()`, the mean and 95th
percentile of many runs.

    .venv/bin/python -m bench.emails [--runs 200] [--lines 100]

The email is a whole document as a shop's template renders it: a `<style>` block with a media query, a table row
per cart line (an image and a link on the shop's host, name, quantity, price), one link elsewhere to take out,
no unsubscribe link (so the footer is added) and no text part (so it is generated).
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.table import Row, render
from server.email_templates.finishing import finish
from server.email_templates.money import format_money

BUDGET_MS = 50.0  # a worker renders and finishes each email of a pass: 50 ms is 20 emails a second per core
HOSTS = frozenset({"shop.example"})

HEAD = """<!DOCTYPE html><html><head><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Your cart</title><style>
body { margin: 0; background: #f4f4f5; font-family: Arial, sans-serif }
.line td { padding: 8px; border-bottom: 1px solid #e4e4e7 }
.name a { color: #18181b; text-decoration: none }
.price { text-align: right; white-space: nowrap }
@media (max-width: 600px) { .line td { display: block !important; width: 100% !important } }
</style></head><body><table role="presentation" width="100%"><tr><td align="center">
<table class="cart" width="600"><tr><td colspan="4"><h1>You left these behind</h1></td></tr>"""
LINE = """<tr class="line"><td><img src="https://shop.example/p/{n}.jpg" width="64" alt="Product {n}"></td>
<td class="name"><a href="https://shop.example/p/{n}">Product {n} &amp; co</a></td><td>{quantity}</td>
<td class="price">{price}</td></tr>"""
FOOT = """<tr><td colspan="4"><a href="https://shop.example/cart">Back to your cart</a>
<a href="https://elsewhere.example/">Elsewhere</a></td></tr></table></td></tr></table></body></html>"""


def cart_email(lines: int) -> str:
    rows = (LINE.format(n=n, quantity=1 + n % 3, price=format_money(9.99 + n, "EUR", "fr_FR")) for n in range(lines))
    return HEAD + "".join(rows) + FOOT


def rows(runs: int = 200, lines: int = 100) -> list[Row]:
    html = cart_email(lines)
    finish(html, hosts=HOSTS, unsubscribe_url="https://sibyl.example/u/x")  # warm: imports, CLDR data
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        finish(html, hosts=HOSTS, unsubscribe_url="https://sibyl.example/u/x", preheader="Still thinking?")
        times.append((time.perf_counter() - started) * 1000)
    mean = statistics.fmean(times)
    p95 = statistics.quantiles(times, n=20)[-1]
    size = f"{lines} lines, {len(html.encode()) // 1024} KiB"
    return [
        Row("emails", f"finish(), mean ({size})", f"{mean:.1f} ms", f"< {BUDGET_MS:.0f} ms", mean < BUDGET_MS),
        Row("emails", f"finish(), p95 ({runs} runs)", f"{p95:.1f} ms"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.emails", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--lines", type=int, default=100)
    args = parser.parse_args()
    print(render(rows(args.runs, args.lines)))


if __name__ == "__main__":
    main()
