"""Run the benchmarks side by side in one run and print one table: area | measure | value | goal | met.

    .venv/bin/python -m bench [--only tracker,ingest,worker,workflows,dashboard,emails,retention] [--quick]

PostgreSQL rows too when SIBYL_BENCH_POSTGRES_URL names a server (a database is created per measurement
and dropped after). `--quick` runs every area at small sizes: a smoke run, not figures to quote.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from datetime import date

from bench import dashboard, emails, ingest, retention, tracker, worker, workflows
from bench.databases import kinds
from bench.table import Row, render

FULL: dict[str, Callable[[], list[Row]]] = {
    "tracker": lambda: tracker.rows(calls=10_000),
    "ingest": lambda: ingest.rows(),
    "worker": lambda: worker.rows(carts=10_000, waiting=1_000_000),
    "workflows": lambda: workflows.rows(runs=10_000, spread=100, waiting=100_000),
    "dashboard": lambda: dashboard.rows(events=1_000_000),
    "emails": lambda: emails.rows(runs=200),
    "retention": lambda: retention.rows(events=1_000_000),
}
QUICK: dict[str, Callable[[], list[Row]]] = {
    "tracker": lambda: tracker.rows(calls=1_000),
    "ingest": lambda: ingest.rows(seconds=2, rounds=1),
    "worker": lambda: worker.rows(carts=300, waiting=10_000),
    "workflows": lambda: workflows.rows(runs=300, spread=50, waiting=10_000),
    "dashboard": lambda: dashboard.rows(events=10_000, runs=3),
    "emails": lambda: emails.rows(runs=20),
    "retention": lambda: retention.rows(events=10_000),
}


def areas(only: str | None) -> list[str]:
    chosen = [area.strip() for area in only.split(",")] if only else list(FULL)
    unknown = sorted(set(chosen) - set(FULL))
    if unknown:
        raise SystemExit(f"unknown area {', '.join(unknown)}: choose from {', '.join(FULL)}")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated areas: " + ",".join(FULL))
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    args = parser.parse_args()
    suite = QUICK if args.quick else FULL
    started, load = time.monotonic(), os.getloadavg()[0]
    rows = [row for area in areas(args.only) for row in suite[area]()]
    print(
        f"{date.today()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{' and '.join(kinds())}{', quick sizes' if args.quick else ''}; load average {load:.1f} at the start; "
        f"{time.monotonic() - started:.0f} s\n"
    )
    print(render(rows))


if __name__ == "__main__":
    main()
