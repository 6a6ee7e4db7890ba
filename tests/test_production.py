"""Production shapes: gunicorn web workers killed under load, three automation workers, retention."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import psutil
import pytest
import requests
from sqlalchemy import insert

from server import db
from server.models import Event, Site
from server.retention import prune_events

from .conftest import ROOT, Process, SmtpSink, Store, free_port, wait_until
from .test_automation import due_carts, start_worker, stop


@pytest.fixture
def gunicorn(database_url: str) -> Iterator[Process]:
    """The web tier as `make serve` runs it: gunicorn, two workers, automation elsewhere."""
    port = free_port()
    env = {**os.environ, "SIBYL_DATABASE_URL": database_url, "SIBYL_WORKER": "external", "SIBYL_AUTO_MIGRATE": "0",
           "SIBYL_COLLECT_RATE_LIMIT": "1000000/minute"}
    command = [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}", "server:create_app()"]
    process = Process(command, port, env, "/healthz")
    process.start()
    yield process
    process.stop()


def test_killing_a_web_worker_under_load_loses_no_acknowledged_event(
    gunicorn: Process, store: Store, site: Site
) -> None:
    """Clients resend what was not acknowledged, with the same ids, as the tracker does."""
    ids = [f"kill-{uuid.uuid4()}" for _ in range(400)]
    acknowledged: set[str] = set()
    lock = threading.Lock()

    def client(mine: list[str]) -> None:
        session = requests.Session()
        for message_id in mine:
            body = {"key": site.client_key, "cuid": "load", "messages": [{"id": message_id, "type": "track", "name": "load"}]}
            for _ in range(50):
                try:
                    if session.post(gunicorn.url + "/collect", data=json.dumps(body), timeout=5).status_code == 200:
                        with lock:
                            acknowledged.add(message_id)
                        break
                except requests.RequestException:
                    session = requests.Session()

    threads = [threading.Thread(target=client, args=(ids[start::4],)) for start in range(4)]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(acknowledged) >= 100, timeout=30)
    assert gunicorn.proc is not None
    victim = psutil.Process(gunicorn.proc.pid).children()[0]
    os.kill(victim.pid, signal.SIGKILL)
    for thread in threads:
        thread.join(timeout=120)
    stored = [event.message_id for event in store.events(site)]
    assert acknowledged == set(ids)
    assert sorted(stored) == sorted(ids)  # every event once


def test_three_workers_and_1000_due_carts_send_exactly_1000_emails(
    receiver: Process, site: Site, smtp_sink: SmtpSink, database_url: str, store: Store
) -> None:
    workers = [start_worker(database_url, smtp_sink) for _ in range(3)]
    try:
        due_carts(receiver, site, 1000, store)
        smtp_sink.wait_for(1000, timeout=120)
    finally:
        for process in workers:
            stop(process)
    assert len(smtp_sink.messages) == 1000
    assert len({message["Message-ID"] for message in smtp_sink.messages}) == 1000


def test_retention_deletes_old_events_in_batches(store: Store, site: Site) -> None:
    now = datetime.now(timezone.utc)
    rows = [{"site_id": site.id, "message_id": f"old-{i}", "kind": "track", "name": "old", "properties": {},
             "occurred_at": now - timedelta(days=400), "received_at": now} for i in range(250)]
    rows += [{"site_id": site.id, "message_id": f"new-{i}", "kind": "track", "name": "new", "properties": {},
              "occurred_at": now - timedelta(days=10), "received_at": now} for i in range(5)]
    with db.new_session(store.app) as session:
        session.execute(insert(Event), rows)
        session.commit()
        assert prune_events(session, now - timedelta(days=365), batch=100) >= 250
    assert {event.name for event in store.events(site)} == {"new"}
