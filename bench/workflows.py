"""Benchmark the workflow engine's worker: due email steps per second, how late a due step is handled while the
worker polls as it does in production, and the cost of a pass that finds nothing due among many waiting runs.

    .venv/bin/python -m bench.workflows [--runs 10000] [--spread 100] [--waiting 100000]

On SQLite, and on PostgreSQL too when SIBYL_BENCH_POSTGRES_URL names a server; each measurement on a fresh
database. Emails stay in the outbox (no SMTP server is set): what is measured is the engine, not delivery.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, insert, select

from bench.databases import fresh_database, kinds
from bench.table import Row, render
from server import create_app, db
from server.automation.library import import_workflow
from server.automation.states import RunState
from server.automation.worker import Worker
from server.models import Contact, OutboxEmail, Run
from server.sites import create_site
from tests.support.guide import GUIDE_CART

# A workflow run per cart whose one step is the built-in cart email: each due run is one email step.
CART_EMAIL = {
    "name": "Bench cart email",
    "trigger": {"event": "cart_updated", "per": "cart"},
    "steps": [{"email": {}}],
}
CHUNK = 10_000  # rows per bulk insert
PASSES = 200  # idle passes timed; the median is reported
# "Grows with due runs, not with all runs": the same bound as the cart worker's idle pass (an index lookup's
# extra depth and timing noise; a scan of the runs would cost hundreds of times more).
IDLE_RATIO = 1.5
EMAILS_PER_SECOND = 1000  # the cart worker's budget, for the same email written by a workflow step
SPREAD_SECONDS = 5.0  # the delay runs fall due over this many seconds, starting a second after the worker starts
SLACK_SECONDS = 0.5  # beyond one poll, what a pass may take before a due run is handled


def fresh_app(database_url: str) -> Flask:
    """The app on a fresh database, without SMTP: emails are written to the outbox and held there."""
    return create_app({"DATABASE_URL": database_url, "WORKER": "external"})


def bench_workflow(app: Flask) -> tuple[int, int]:
    """A site with the cart-email workflow imported; (site id, workflow id)."""
    with db.new_session(app) as session:
        site = create_site(session, "bench", [], 7200)
        imported = import_workflow(session, site, CART_EMAIL, datetime.now(UTC))
        session.commit()
        return site.id, imported.definition.id


def chunks(count: int) -> Iterator[range]:
    """The indexes 0 to `count`, CHUNK at a time."""
    for start in range(0, count, CHUNK):
        yield range(start, min(start + CHUNK, count))


def run_row(site_id: int, workflow_id: int, owner: str, contact_id: int | None, due_at: datetime) -> dict[str, Any]:
    """A run of the cart-email workflow waiting to send its email at `due_at`, as ingest starts one."""
    now = datetime.now(UTC)
    return {
        "site_id": site_id,
        "workflow_id": workflow_id,
        "owner": owner,
        "key": "cart:1",
        "contact_id": contact_id,
        "visitor_id": None,
        "state": RunState.WAITING,
        "holdout": False,
        "step": None,
        "cursor": "steps[0]",
        "waiting_for": None,
        "due_at": due_at,
        "lease_until": None,
        "version": 1,
        "cycle": 1,
        "data": GUIDE_CART,
        "properties": {},
        "history": [],
        "started_at": now,
        "updated_at": now,
    }


def add_emailed_runs(app: Flask, site_id: int, workflow_id: int, due: list[datetime]) -> dict[int, datetime]:
    """A run per due time, each of a contact of its own (so no email period holds one back); their ids and due
    times."""
    now = datetime.now(UTC)
    runs: dict[int, datetime] = {}
    with db.new_session(app) as session:
        for part in chunks(len(due)):
            contacts = (
                session.execute(
                    insert(Contact).returning(Contact.id, sort_by_parameter_order=True),
                    [
                        {
                            "site_id": site_id,
                            "email": f"shopper{i}@example.com",
                            "attributes": {"FIRSTNAME": "Sam"},
                            "created_at": now,
                            "modified_at": now,
                        }
                        for i in part
                    ],
                )
                .scalars()
                .all()
            )
            ids = (
                session.execute(
                    insert(Run).returning(Run.id, sort_by_parameter_order=True),
                    [
                        run_row(site_id, workflow_id, f"contact:{contact_id}", contact_id, due[i])
                        for i, contact_id in zip(part, contacts, strict=True)
                    ],
                )
                .scalars()
                .all()
            )
            runs.update(zip(ids, (due[i] for i in part), strict=True))
        session.commit()
    return runs


def add_waiting_runs(app: Flask, site_id: int, workflow_id: int, count: int) -> None:
    """`count` runs waiting for a time a month away (an anonymous visitor's each: a parked run needs no contact)."""
    later = datetime.now(UTC) + timedelta(days=30)
    with db.new_session(app) as session:
        for part in chunks(count):
            session.execute(insert(Run), [run_row(site_id, workflow_id, f"visitor:{i}", None, later) for i in part])
        session.commit()


def outbox_emails(app: Flask) -> int:
    """How many emails workflow runs have written to the outbox."""
    with db.new_session(app) as session:
        return session.scalar(select(func.count()).select_from(OutboxEmail).where(OutboxEmail.run_id.is_not(None))) or 0


def due_steps_per_second(database_url: str, count: int) -> float:
    """`count` runs whose email step is due, through one worker's `advance_due_runs` until none is left."""
    app = fresh_app(database_url)
    site_id, workflow_id = bench_workflow(app)
    add_emailed_runs(app, site_id, workflow_id, [datetime.now(UTC) - timedelta(seconds=1)] * count)
    worker = Worker(app)
    started = time.perf_counter()
    while worker.advance_due_runs():
        pass
    elapsed = time.perf_counter() - started
    emailed = outbox_emails(app)
    assert emailed == count, (emailed, count)
    return count / elapsed


def handling_delays(database_url: str, count: int) -> tuple[list[float], float]:
    """The seconds between each run's due time and the pass that handled it (its `updated_at`), with the real
    worker loop in a thread on the real clock, for `count` runs falling due over SPREAD_SECONDS; and the poll."""
    app = fresh_app(database_url)
    site_id, workflow_id = bench_workflow(app)
    start = datetime.now(UTC) + timedelta(seconds=1)
    due = [start + timedelta(seconds=SPREAD_SECONDS * i / count) for i in range(count)]
    runs = add_emailed_runs(app, site_id, workflow_id, due)
    worker = Worker(app)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), name="bench-worker")
    thread.start()
    try:
        deadline = time.monotonic() + 60 + SPREAD_SECONDS
        while outbox_emails(app) < count:
            if time.monotonic() > deadline:
                raise RuntimeError("the worker did not handle every due run within a minute")
            time.sleep(0.25)
    finally:
        stop.set()
        thread.join()
    with db.new_session(app) as session:
        handled = {run_id: at for run_id, at in session.execute(select(Run.id, Run.updated_at).where(Run.id.in_(runs)))}
    return [(handled[run_id] - due_at).total_seconds() for run_id, due_at in runs.items()], worker.poll


def idle_pass_ms(database_url: str, waiting: int) -> float:
    """The median time of `advance_due_runs` with nothing due and `waiting` runs waiting for a later time."""
    app = fresh_app(database_url)
    site_id, workflow_id = bench_workflow(app)
    add_waiting_runs(app, site_id, workflow_id, waiting)
    worker = Worker(app)
    worker.advance_due_runs()
    timings = []
    for _ in range(PASSES):
        started = time.perf_counter()
        assert worker.advance_due_runs() == 0
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered)) - 1))]


def measure(kind: str, runs: int, spread: int, waiting: int) -> list[Row]:
    """The four rows of one database kind, each measurement on a fresh database."""
    with fresh_database(kind) as url:
        rate = due_steps_per_second(url, runs)
    with fresh_database(kind) as url:
        delays, poll = handling_delays(url, spread)
    with fresh_database(kind) as url:
        empty = idle_pass_ms(url, 0)
    with fresh_database(kind) as url:
        full = idle_pass_ms(url, waiting)
    area = f"workflows ({kind})"
    p50, p99 = percentile(delays, 0.50), percentile(delays, 0.99)
    bound = poll + SLACK_SECONDS
    return [
        Row(
            area,
            f"{runs:,} due email steps into the outbox, one worker",
            f"{rate:,.0f} emails/s",
            f"≥ {EMAILS_PER_SECOND:,} emails/s",
            rate >= EMAILS_PER_SECOND,
        ),
        Row(
            area,
            f"due to handled, {spread:,} runs due over {SPREAD_SECONDS:g} s, worker polling every {poll:g} s",
            f"p50 {p50:.2f} s, p99 {p99:.2f} s",
            f"p99 ≤ {bound:g} s",
            p99 <= bound,
        ),
        Row(area, "idle pass, 0 waiting runs", f"{empty:.2f} ms"),
        Row(
            area,
            f"idle pass, {waiting:,} runs waiting, none due",
            f"{full:.2f} ms = {full / empty:.2f}× empty",
            f"≈ 1× (≤ {IDLE_RATIO}×)",
            full / empty <= IDLE_RATIO,
        ),
    ]


def rows(runs: int = 10_000, spread: int = 100, waiting: int = 100_000) -> list[Row]:
    """The rows of every database kind the environment names."""
    return [row for kind in kinds() for row in measure(kind, runs, spread, waiting)]


def main() -> None:
    """`python -m bench.workflows`: print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000, help="due email steps to advance")
    parser.add_argument("--spread", type=int, default=100, help="runs falling due while the worker polls")
    parser.add_argument("--waiting", type=int, default=100_000, help="runs waiting during the idle pass (1000000)")
    args = parser.parse_args()
    print(render(rows(args.runs, args.spread, args.waiting)))


if __name__ == "__main__":
    main()
