"""Benchmark what one email from a shop's template costs to write, against what sending it costs: the shipped
`cart-1` template rendered (Brevo's template language) and finished (hosts checked, CSS inlined, a text part made),
for a cart of 3 and of 100 lines, beside one SMTP delivery of the same email to a local sink, plain and DKIM-signed
(a 2048-bit key).

    .venv/bin/python -m bench.emails [--runs 200]

Writing happens once per email in the worker's pass, sending once per email in its delivery: their ratio says
which one bounds a worker's emails per second.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.table import Row, render
from bench.worker import start_sink
from server.email_templates.compose import email_variables, render_template
from server.email_templates.store import shipped
from server.mail.dkim import DkimSigner
from server.mail.smtp import Email, Mailer, parse_smtp_url

HOSTS = frozenset({"shop.example"})
UNSUBSCRIBE = "https://sibyl.example/unsubscribe/token"
SHOP = {"name": "Tea Shop", "logo": "", "accent": "#0f766e", "intro": "", "address": "1 Tea Street", "url": "",
        "locale": "fr_FR"}  # fmt: skip
BUDGET_MS = 50.0  # a 100-line cart written in 50 ms: 20 such emails a second per core, a worst case


def cart(lines: int) -> dict[str, object]:
    items = [
        {
            "name": f"Product {n} & co",
            "price": 9.99 + n,
            "quantity": 1 + n % 3,
            "url": f"https://shop.example/p/{n}",
            "image": f"https://shop.example/p/{n}.jpg",
        }
        for n in range(lines)
    ]
    return {"items": items, "total": 1234.5, "currency": "EUR", "url": "https://shop.example/cart"}


def timed(action: Callable[[], object], runs: int) -> tuple[float, float]:
    """Mean and 95th percentile, in ms, after one warm-up."""
    action()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.fmean(times), statistics.quantiles(times, n=20)[-1]


def dkim_signer() -> DkimSigner:
    """A signer with a fresh 2048-bit key, as `openssl genrsa 2048` makes one for SIBYL_DKIM_KEY."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "dkim.pem"
        path.write_bytes(pem)
        return DkimSigner.load(str(path))


def rows(runs: int = 200) -> list[Row]:
    template = shipped("cart-1")
    assert template is not None
    results = []
    written = None
    for lines in (3, 100):
        variables = email_variables(
            shop=SHOP,
            email="thomas@example.com",
            attributes={"FIRSTNAME": "Thomas"},
            params=cart(lines),
            properties={},
            unsubscribe_url=UNSUBSCRIBE,
            hosts=HOSTS,
        )
        written = render_template(template, variables, hosts=HOSTS, unsubscribe_url=UNSUBSCRIBE)
        writing = partial(render_template, template, variables, hosts=HOSTS, unsubscribe_url=UNSUBSCRIBE)
        mean, p95 = timed(writing, runs)
        results.append((lines, mean, p95, len(written.html.encode()) // 1024))
    assert written is not None
    sink, smtp_url, sink_name = start_sink()
    try:
        with Mailer(parse_smtp_url(smtp_url)) as mailer:
            email = Email(
                "shop@sibyl.example", "thomas@example.com", written.subject, written.html, written.text, "<x>"
            )
            send_mean, _ = timed(lambda: mailer.send(email), runs)
        with Mailer(parse_smtp_url(smtp_url), dkim=dkim_signer()) as signing:
            signed_mean, _ = timed(lambda: signing.send(email), runs)
    finally:
        sink.terminate()
        sink.wait()
    table = []
    for lines, mean, p95, kib in results:
        measure = f"cart-1 rendered and finished, {lines} lines ({kib} KiB), mean (p95 {p95:.1f} ms)"
        goal = f"< {BUDGET_MS:.0f} ms" if lines == 100 else ""
        table.append(Row("emails", measure, f"{mean:.1f} ms = {mean / send_mean:.1f}× sending", goal,
                         mean < BUDGET_MS if goal else None))  # fmt: skip
    table.append(Row("emails", f"sending the 100-line email over SMTP ({sink_name}), mean", f"{send_mean:.1f} ms"))
    table.append(
        Row(
            "emails",
            "the same, DKIM-signed (2048-bit key), mean",
            f"{signed_mean:.1f} ms = {signed_mean / send_mean:.1f}×",
        )
    )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.emails", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    print(render(rows(parser.parse_args().runs)))


if __name__ == "__main__":
    main()
