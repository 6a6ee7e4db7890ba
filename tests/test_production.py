"""Production shapes: gunicorn web workers killed and PostgreSQL restarted under load, retention."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psutil
import pytest
import requests
from sqlalchemy import insert

from server import db
from server.contacts.retention import prune_events
from server.models import Event, Site

from .support.browser import BROWSER_HEADERS
from .support.databases import on_postgres
from .support.servers import Process
from .support.store import Store
from .support.waiting import wait_until

pytestmark = pytest.mark.slow


def send_with_retries(server: Process, site: Site, ids: list[str], during: Callable[[], None]) -> set[str]:
    """Four clients send one event per request, resending (same id) until acknowledged, as the tracker does;
    `during` runs once a quarter of the events are in. Returns the acknowledged ids."""
    acknowledged: set[str] = set()
    lock = threading.Lock()

    def client(mine: list[str]) -> None:
        session = requests.Session()
        for message_id in mine:
            body = {
                "key": site.client_key,
                "cuid": "load",
                "messages": [{"id": message_id, "type": "track", "name": "load"}],
            }
            for _ in range(100):
                try:
                    answer = session.post(
                        server.url + "/collect", data=json.dumps(body), headers=BROWSER_HEADERS, timeout=5
                    )
                    if answer.status_code == 200:
                        with lock:
                            acknowledged.add(message_id)
                        break
                except requests.RequestException:
                    session = requests.Session()
                threading.Event().wait(0.1)  # the tracker's back-off, shortened

    threads = [threading.Thread(target=client, args=(ids[start::4],)) for start in range(4)]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(acknowledged) >= len(ids) // 4, timeout=30)
    during()
    for thread in threads:
        thread.join(timeout=120)
    return acknowledged


def test_killing_a_web_worker_under_load_loses_no_acknowledged_event(
    gunicorn: Process, store: Store, site: Site
) -> None:
    def kill_a_web_worker() -> None:
        assert gunicorn.proc is not None
        os.kill(psutil.Process(gunicorn.proc.pid).children()[0].pid, signal.SIGKILL)

    ids = [f"kill-{uuid.uuid4()}" for _ in range(400)]
    assert send_with_retries(gunicorn, site, ids, during=kill_a_web_worker) == set(ids)
    assert sorted(event.message_id for event in store.events(site)) == sorted(ids)  # every event once


def test_retention_deletes_old_events_in_batches(store: Store, site: Site) -> None:
    now = datetime.now(UTC)
    rows = [
        {
            "site_id": site.id,
            "message_id": f"old-{i}",
            "kind": "track",
            "name": "old",
            "properties": {},
            "occurred_at": now - timedelta(days=400),
            "received_at": now,
        }
        for i in range(250)
    ]
    rows += [
        {
            "site_id": site.id,
            "message_id": f"new-{i}",
            "kind": "track",
            "name": "new",
            "properties": {},
            "occurred_at": now - timedelta(days=10),
            "received_at": now,
        }
        for i in range(5)
    ]
    with db.new_session(store.app) as session:
        session.execute(insert(Event), rows)
        session.commit()
        assert prune_events(session, now - timedelta(days=365), batch=100) >= 250
    assert {event.name for event in store.events(site)} == {"new"}


@pytest.mark.postgres
@pytest.mark.skipif(not on_postgres(), reason="restarts PostgreSQL: runs in the PostgreSQL run only")
@pytest.mark.skipif(
    not shutil.which("pg_ctlcluster"), reason="needs pg_ctlcluster to restart this machine's PostgreSQL"
)
def test_postgresql_restarted_under_load_loses_nothing(gunicorn: Process, store: Store, site: Site) -> None:
    """Requests during the restart get 503 with Retry-After; clients resend, and every event is stored once."""
    ids = [f"restart-{uuid.uuid4()}" for _ in range(200)]
    sent = send_with_retries(gunicorn, site, ids, during=lambda: restart_postgresql())
    assert sent == set(ids)
    assert sorted(event.message_id for event in store.events(site)) == sorted(ids)


def restart_postgresql() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True)
