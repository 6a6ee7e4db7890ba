"""Benchmark the abandoned-cart workflow's worker: emails per second into a local SMTP sink, and the cost
of a pass that finds nothing due with 1,000,000 waiting carts (and their runs) against an empty table.

    .venv/bin/python -m bench.worker [--carts 10000] [--waiting 1000000]

On SQLite, and on PostgreSQL too when SIBYL_BENCH_POSTGRES_URL names a server; each measurement on a
fresh database.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from bench.databases import fresh_database, kinds
from bench.table import Row, render
from server import create_app, db
from server.automation.worker import Worker
from server.models import Cart, Contact, OutboxEmail, Run, Workflow
from server.sites import create_site
from tests.support.guide import GUIDE_CART

# "Grows with due carts, not with all carts": a pass over 1,000,000 parked carts may cost this much more than
# over none (an index lookup's extra depth and timing noise; a scan of the carts would be hundreds of times more)
IDLE_RATIO = 1.5


def sink_command(port: int) -> tuple[list[str], str]:
    """Postfix's `smtp-sink` (C, built to take mail fast) where installed, else aiosmtpd's Sink."""
    if shutil.which("smtp-sink"):
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        return ["smtp-sink", *user, "-c", f"127.0.0.1:{port}", "1000"], "Postfix smtp-sink"
    aiosmtpd = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"]
    return aiosmtpd, "aiosmtpd Sink"


def start_sink() -> tuple[subprocess.Popen[bytes], str, str]:
    """A discarding SMTP server in a process of its own, as a real one is."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command, name = sink_command(port)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, f"smtp://127.0.0.1:{port}", name
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the SMTP sink did not start")


def fresh_app(database_url: str, smtp_url: str) -> Any:
    return create_app({"DATABASE_URL": database_url, "SMTP_URL": smtp_url, "WORKER": "external"})


def add_carts(app: Any, site_id: int, count: int, due: bool) -> None:
    """`count` carts of `count` contacts, each waiting in the site's abandoned-cart workflow: due an hour ago, or
    parked (due in a month)."""
    now = datetime.now(UTC)
    deadline = now - timedelta(hours=1) if due else now + timedelta(days=30)
    with db.new_session(app) as session:
        workflow_id = session.get_one(Workflow, site_id).definition_id
        for start in range(0, count, 10_000):
            size = min(10_000, count - start)
            contacts = (
                session.execute(
                    insert(Contact).returning(Contact.id),
                    [
                        {
                            "site_id": site_id,
                            "email": f"shopper{start + i}-{'due' if due else 'parked'}@example.com",
                            "attributes": {"FIRSTNAME": "Sam"},
                            "created_at": now,
                            "modified_at": now,
                        }
                        for i in range(size)
                    ],
                )
                .scalars()
                .all()
            )
            session.execute(
                insert(Cart),
                [
                    {
                        "site_id": site_id,
                        "owner": f"contact:{contact_id}",
                        "cart_key": "cart:1",
                        "contact_id": contact_id,
                        "state": "open",
                        "snapshot": GUIDE_CART,
                        "version": 1,
                        "cycle": 1,
                        "resets": 0,
                        "updated_at": now - timedelta(hours=3),
                        "received_at": now - timedelta(hours=3),
                        "deadline_at": deadline,
                        "due_at": deadline,
                    }
                    for contact_id in contacts
                ],
            )
            session.execute(
                insert(Run),
                [
                    {
                        "site_id": site_id,
                        "workflow_id": workflow_id,
                        "owner": f"contact:{contact_id}",
                        "key": "cart:1",
                        "contact_id": contact_id,
                        "state": "waiting",
                        "holdout": False,
                        "step": "steps[0]",
                        "cursor": "steps[1]",
                        "due_at": deadline,
                        "version": 1,
                        "cycle": 1,
                        "data": GUIDE_CART,
                        "properties": {},
                        "history": ["steps[0]"],
                        "started_at": now - timedelta(hours=3),
                        "updated_at": now - timedelta(hours=3),
                    }
                    for contact_id in contacts
                ],
            )
        session.commit()


def emails_per_second(database_url: str, carts: int, smtp_url: str) -> tuple[float, int]:
    app = fresh_app(database_url, smtp_url)
    with db.new_session(app) as session:
        site = create_site(session, "bench", [], 7200)
    add_carts(app, site.id, carts, due=True)
    worker = Worker(app)
    started = time.perf_counter()
    while worker.run_pass():
        pass
    elapsed = time.perf_counter() - started
    with db.new_session(app) as session:
        sent = session.query(OutboxEmail).filter_by(status="sent").count()
    assert sent == carts, (sent, carts)
    return carts / elapsed, sent


def idle_pass_ms(database_url: str, waiting: int, smtp_url: str) -> float:
    app = fresh_app(database_url, smtp_url)
    with db.new_session(app) as session:
        site = create_site(session, f"idle-{waiting}", [], 7200)
    add_carts(app, site.id, waiting, due=False)
    worker = Worker(app)
    worker.run_pass()
    timings = []
    for _ in range(50):
        started = time.perf_counter()
        worker.run_pass()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def measure(kind: str, carts: int, waiting: int, smtp_url: str, sink_name: str) -> list[Row]:
    with fresh_database(kind) as url:
        rate, sent = emails_per_second(url, carts, smtp_url)
    with fresh_database(kind) as url:
        empty = idle_pass_ms(url, 0, smtp_url)
    with fresh_database(kind) as url:
        full = idle_pass_ms(url, waiting, smtp_url)
    area = f"worker ({kind})"
    return [
        Row(
            area,
            f"{sent:,} due carts emailed into {sink_name}",
            f"{rate:,.0f} emails/s",
            "≥ 1,000 emails/s",
            rate >= 1000,
        ),
        Row(area, "idle pass, 0 waiting carts", f"{empty:.2f} ms"),
        Row(
            area,
            f"idle pass, {waiting:,} waiting carts",
            f"{full:.2f} ms = {full / empty:.2f}× empty",
            f"≈ 1× (≤ {IDLE_RATIO}×)",
            full / empty <= IDLE_RATIO,
        ),
    ]


def rows(carts: int = 10_000, waiting: int = 1_000_000) -> list[Row]:
    sink, smtp_url, sink_name = start_sink()
    try:
        return [row for kind in kinds() for row in measure(kind, carts, waiting, smtp_url, sink_name)]
    finally:
        sink.terminate()
        sink.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--carts", type=int, default=10_000)
    parser.add_argument("--waiting", type=int, default=1_000_000)
    args = parser.parse_args()
    print(render(rows(args.carts, args.waiting)))


if __name__ == "__main__":
    main()
