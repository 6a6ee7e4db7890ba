"""Benchmark ingest under gunicorn with wrk on loopback: single-event requests against the same app's
empty 204 route (the /collect preflight), and batched events, on SQLite and (when
SIBYL_BENCH_POSTGRES_URL names a server) PostgreSQL.

    .venv/bin/python -m bench.ingest [--seconds 3] [--rounds 5] [--workers 2] [--threads 8] [--connections 16]

Needs `wrk` (apt-get install wrk) and gunicorn.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests
from flask import Flask
from sqlalchemy import func, select, text

from bench.databases import fresh_database, kinds
from bench.table import Row, render
from server import create_app, db
from server.models import Event
from server.sites import create_site

ROOT = Path(__file__).resolve().parent.parent

# Each request carries fresh message ids (thread number, counter) so that nothing is a duplicate, and
# comes from one of 500 visitors per wrk thread, each with its own cart, as a shop's many browsers do
# (one visitor for all would make every request wait on the same visitor and cart rows).
WRK_SCRIPT = """
local counter = 0
local sent = 0
local thread_id = 0
local threads = 0
function setup(thread) thread:set("id", threads); threads = threads + 1 end
function init(args) thread_id = id end
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/plain;charset=UTF-8"
wrk.headers["Origin"] = "https://shop.example"
-- a browser's user agent: wrk's own requests carry none, which the receiver counts as a bot's and does not store
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) " ..
  "Chrome/156.0.0.0 Safari/537.36"
request = function()
  sent = sent + 1
  local visitor = thread_id .. '-' .. (sent %% 500)
  local messages = {}
  for i = 1, %(batch)d do
    counter = counter + 1
    messages[i] = string.format(
      '{"id":"m-%%d-%%d-%(run)s","type":"track","name":"cart_updated","url":"https://shop.example/cart",' ..
      '"properties":{"sku":"shoes-%%d"},"eventdata":{"id":"cart:%%s","data":{"total":280,"currency":"USD",' ..
      '"items":[{"name":"Black shoes","price":90,"quantity":2}]}}}',
      thread_id, counter, counter %% 50, visitor)
  end
  local body = '{"key":"%(key)s","cuid":"visitor-' .. visitor .. '","messages":[' .. table.concat(messages, ",") .. ']}'
  return wrk.format(nil, "/collect", nil, body)
end
"""
OPTIONS_SCRIPT = """
wrk.method = "OPTIONS"
wrk.headers["Origin"] = "https://shop.example"
wrk.headers["Access-Control-Request-Method"] = "POST"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(database_url: str, workers: int, threads: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "SIBYL_DATABASE_URL": database_url,
        "SIBYL_WORKER": "external",
        "SIBYL_AUTO_MIGRATE": "0",
        "SIBYL_COLLECT_RATE_LIMIT": "100000000/minute",
        "SIBYL_RATE_LIMIT": "100000000/minute",
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "python:server.gunicorn_conf",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "server:create_app()",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/healthz", timeout=5).ok:
                return process, url
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("gunicorn did not start")


@dataclass(frozen=True)
class Load:
    """What wrk measured: requests per second, requests answered, and the 99th percentile of their latency."""

    rate: float
    requests: int
    p99_ms: float


def wrk(url: str, script: str, seconds: int, connections: int) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script)
    result = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s", file.name, url],
        capture_output=True,
        text=True,
        check=True,
    )
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    if errors:
        raise RuntimeError(f"{errors.group(1)} requests failed:\n{result.stdout}")
    return Load(
        rate=float(_found(r"Requests/sec:\s+([\d.]+)", result.stdout)),
        requests=int(_found(r"(\d+) requests in", result.stdout)),
        p99_ms=_milliseconds(_found(r"99%\s+([\d.]+\w+)", result.stdout)),
    )


def _rounds(loads: list[Load]) -> str:
    """Each round's rate, so that a reader sees how far the medians are to be trusted."""
    return "rounds: " + " / ".join(f"{load.rate:,.0f}" for load in loads)


def _found(pattern: str, output: str) -> str:
    match = re.search(pattern, output)
    if match is None:
        raise RuntimeError(f"wrk printed no {pattern!r}:\n{output}")
    return match.group(1)


def _milliseconds(duration: str) -> float:
    """wrk's duration ("850.00us", "12.5ms", "1.02s") in milliseconds."""
    number, unit = re.fullmatch(r"([\d.]+)(\w+)", duration).groups()  # type: ignore[union-attr]  # _found matched it
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def stored_events(app: Flask, run: str) -> int:
    """Events stored under a run's message ids (each ends with `-RUN`)."""
    with db.new_session(app) as session:
        return int(session.scalar(select(func.count()).where(Event.message_id.like(f"%-{run}"))) or 0)


def checked(app: Flask, run: str, load: Load, batch: int, connections: int) -> str:
    """The events stored against the requests acknowledged: each acknowledged event must be stored, once; requests
    still in flight when wrk stopped (at most one per connection) may add theirs."""
    stored, acknowledged = stored_events(app, run), load.requests * batch
    if not acknowledged <= stored <= acknowledged + connections * batch:
        raise RuntimeError(f"{stored} events stored for {acknowledged} acknowledged (run {run})")
    return f"{stored:,} stored for {acknowledged:,} acknowledged"


def measure(
    label: str, database_url: str, seconds: int, workers: int, threads: int, connections: int, rounds: int
) -> list[Row]:
    """Empty route and single events measured in turns (`rounds` of each; the ratio is the median of each round's),
    then batches of 100."""
    app = create_app({"DATABASE_URL": database_url, "WORKER": "external"})
    with db.new_session(app) as session:
        site = create_site(session, "bench", ["https://shop.example"], 7200)
    server, url = start_gunicorn(database_url, workers, threads)
    try:
        run = uuid.uuid4().hex[:6]
        wrk(url, WRK_SCRIPT % {"batch": 10, "key": site.client_key, "run": run + "w"}, 2, connections)
        with db.new_session(app) as session:
            session.execute(text("ANALYZE"))  # as autovacuum would: statistics that know the site has events
            session.commit()
        empties, singles, notes = [], [], []
        for turn in range(rounds):
            empties.append(wrk(url + "/collect", OPTIONS_SCRIPT, seconds, connections))
            tag = f"{run}s{turn}"
            single = wrk(url, WRK_SCRIPT % {"batch": 1, "key": site.client_key, "run": tag}, seconds, connections)
            singles.append(single)
            notes.append(checked(app, tag, single, 1, connections))
        batched = wrk(url, WRK_SCRIPT % {"batch": 100, "key": site.client_key, "run": run + "b"}, seconds, connections)
        batch_note = checked(app, run + "b", batched, 100, connections)
    finally:
        server.terminate()
        server.wait()
    empty = statistics.median(load.rate for load in empties)
    single_rate = statistics.median(load.rate for load in singles)
    # Each round's single events against the empty route measured just before them: a slow spell of the machine
    # (seen here: a round at half the speed of the next) then slows both sides of a ratio, not one.
    ratio = statistics.median(single.rate / empty.rate for empty, single in zip(empties, singles, strict=True))
    single_p99 = statistics.median(load.p99_ms for load in singles)
    batch_rate = 100 * batched.rate
    area = f"ingest ({label})"
    return [
        Row(area, "empty 204 route (the /collect preflight)", f"{empty:,.0f} req/s ({_rounds(empties)})"),
        Row(
            area,
            "one event per request",
            f"{single_rate:,.0f} events/s = {ratio:.0%} of empty ({_rounds(singles)})",
            "≥ 50 % of empty",
            ratio >= 0.5,
        ),
        Row(
            area,
            "one event per request: answer (= cart and runs updated) p99",
            f"{single_p99:,.1f} ms; {notes[-1]}",
        ),
        Row(
            area,
            "100 events per request",
            f"{batch_rate:,.0f} events/s = {batch_rate / single_rate:.1f}× single; {batch_note}",
            "≥ 10× single",
            batch_rate / single_rate >= 10,
        ),
    ]


def rows(seconds: int = 3, workers: int = 2, threads: int = 8, connections: int = 16, rounds: int = 5) -> list[Row]:
    """SQLite, then PostgreSQL when SIBYL_BENCH_POSTGRES_URL names a server; gunicorn and wrk on this machine."""
    if not shutil.which("wrk"):
        raise RuntimeError("wrk is needed: apt-get install wrk")
    result = []
    for kind in kinds():
        with fresh_database(kind) as url:
            result += measure(kind, url, seconds, workers, threads, connections, rounds)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    print(
        f"gunicorn, {args.workers} workers of {args.threads} threads; wrk, 2 threads, {args.connections} connections,"
        f" {args.seconds} s each, {args.rounds} rounds"
    )
    print(render(rows(args.seconds, args.workers, args.threads, args.connections, args.rounds)))


if __name__ == "__main__":
    main()
