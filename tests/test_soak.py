"""Sustained load: gunicorn takes a steady stream of tracker batches for SIBYL_SOAK_SECONDS (default 180);
every batch is acknowledged, every event stored once, and the processes' memory stays flat."""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import psutil
import pytest
import requests
from sqlalchemy import func, select

from server import db
from server.models import Event, Site

from .support.browser import BROWSER_HEADERS
from .support.servers import Process
from .support.store import Store
from .support.waiting import wait_until

pytestmark = pytest.mark.slow

SOAK_SECONDS = float(os.environ.get("SIBYL_SOAK_SECONDS", "180"))
CLIENTS = 4
REQUESTS_PER_SECOND = 10  # per client: 40 batches, about 70 events, a second in all: a fraction of capacity
SAMPLE_SECONDS = 2
WARM_UP = 0.1  # of the run: imports, caches and connection pools fill up before memory is compared
# Memory may grow by 1 MB (allocators grow their heaps and arenas in steps) plus 256 bytes per event taken
# between the first and last thirds of the run. Keeping the parsed messages in a list grew this load by
# 2.5 KB per event (tried here); a healthy run, once warm, by under 100 bytes per event.
GROWTH_ALLOWED = 1024 * 1024
GROWTH_PER_EVENT = 256
PRODUCTS = [("Black shoes", 90), ("White shirt", 100), ("Canvas bag", 35), ("Sun hat", 28)]


@dataclass
class Tally:
    """What the clients saw: ids the server acknowledged, and anything that was not a 2xx."""

    acknowledged: list[str] = field(default_factory=list)
    stored: int = 0
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def visit(client: int, number: int) -> list[list[dict[str, Any]]]:
    """One shopper's visit as the tracker batches it: land, add to the cart, sign in, then leave or buy."""
    url = "https://shop.example"
    cart: dict[str, Any] = {
        "id": f"cart:{client}-{number}",
        "data": {"currency": "USD", "url": f"{url}/cart", "items": []},
    }

    def message(kind: str, name: str | None, **extra: Any) -> dict[str, Any]:
        return {"id": str(uuid.uuid4()), "type": kind, "ts": int(time.time() * 1000), "name": name, **extra}

    def cart_updated(*products: tuple[str, int]) -> dict[str, Any]:
        items = [
            {"name": name, "price": price, "quantity": 1, "image": f"{url}/{n}.png"}
            for n, (name, price) in enumerate(products)
        ]
        data = {**cart["data"], "items": items, "total": sum(price for _, price in products)}
        return message(
            "track", "cart_updated", url=f"{url}/cart", properties={}, eventdata={"id": cart["id"], "data": data}
        )

    product = PRODUCTS[number % len(PRODUCTS)]
    page = {"ma_title": product[0], "ma_path": "/p/1", "ma_referrer": ""}
    email = f"shopper-{client}-{number % 50}@example.com"  # returning customers, contacts updated again
    batches = [
        [message("page", "Home", url=url + "/", properties={"ma_title": "Home", "ma_path": "/"})],
        [message("page", product[0], url=f"{url}/p/1", properties=page), cart_updated(product)],
        [
            message("identify", None, email=email, properties={"FIRSTNAME": "Sam", "LASTNAME": f"Client{client}"}),
            cart_updated(product, PRODUCTS[(number + 1) % len(PRODUCTS)]),
        ],
    ]
    if number % 3 == 0:
        batches.append(
            [
                message("page", "Checkout", url=f"{url}/checkout", properties={}),
                message("track", "order_completed", email=email, properties={}, eventdata={"id": cart["id"]}),
            ]
        )
    return batches


def shopper(server: Process, site: Site, client: int, tally: Tally, stop: threading.Event) -> None:
    """One paced client: visits, batch after batch, until told to stop; one request every 1/REQUESTS_PER_SECOND."""
    session = requests.Session()
    interval, next_at, number = 1 / REQUESTS_PER_SECOND, time.monotonic(), 0
    while not stop.is_set():
        cuid = f"soak-{client}-{number}"
        for batch in visit(client, number):
            if stop.wait(max(0.0, next_at - time.monotonic())):
                return
            next_at += interval
            body = json.dumps({"key": site.client_key, "cuid": cuid, "messages": batch})
            try:
                answer = session.post(
                    server.url + "/collect",
                    data=body,
                    headers={"Content-Type": "text/plain", **BROWSER_HEADERS},
                    timeout=10,
                )
            except requests.RequestException as error:
                with tally.lock:
                    tally.failures.append(repr(error))
                continue
            with tally.lock:
                if answer.ok:
                    tally.acknowledged += [m["id"] for m in batch]
                    tally.stored += answer.json()["stored"]
                else:
                    tally.failures.append(f"{answer.status_code} {answer.text[:200]}")
        number += 1


def rss(processes: list[psutil.Process]) -> int:
    return sum(process.memory_info().rss for process in processes)


def test_sustained_load_keeps_every_event_once_and_memory_flat(gunicorn: Process, store: Store, site: Site) -> None:
    assert gunicorn.proc is not None
    master = psutil.Process(gunicorn.proc.pid)
    workers = wait_until(lambda: children if len(children := master.children()) == 2 else None)  # both booted
    processes = [master, *workers]
    tally, stop = Tally(), threading.Event()
    clients = [threading.Thread(target=shopper, args=(gunicorn, site, n, tally, stop)) for n in range(CLIENTS)]
    for thread in clients:
        thread.start()
    samples: list[tuple[int, int]] = []  # (RSS of the three processes, events acknowledged so far)
    deadline = time.monotonic() + SOAK_SECONDS
    try:
        while not stop.wait(SAMPLE_SECONDS) and time.monotonic() < deadline:
            samples.append((rss(processes), len(tally.acknowledged)))  # NoSuchProcess: a worker died, a failure
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=30)

    assert tally.failures == []
    assert {process.pid for process in [master, *master.children()]} == {process.pid for process in processes}
    with db.new_session(store.app) as session:
        rows, distinct = session.execute(
            select(func.count(), func.count(func.distinct(Event.message_id))).where(Event.site_id == site.id)
        ).one()
        stored = set(session.scalars(select(Event.message_id).where(Event.site_id == site.id)))
    assert tally.stored == len(tally.acknowledged) > SOAK_SECONDS * 10  # the load ran, and nothing was a duplicate
    assert rows == distinct == len(tally.acknowledged) and stored == set(tally.acknowledged)

    warm = samples[int(len(samples) * WARM_UP) :]
    first, last = warm[: len(warm) // 3], warm[-(len(warm) // 3) :]
    growth = statistics.median(memory for memory, _ in last) - statistics.median(memory for memory, _ in first)
    events = statistics.median(count for _, count in last) - statistics.median(count for _, count in first)
    print(
        f"soak: {len(tally.acknowledged):,} events in {SOAK_SECONDS:.0f} s; RSS {samples[0][0] >> 20} MB at the "
        f"start, grew {growth / 2**10:,.0f} KB over {events:,.0f} events once warm"
    )
    assert growth <= GROWTH_ALLOWED + GROWTH_PER_EVENT * events, (
        f"RSS grew {growth / 2**20:.1f} MB over {events:,.0f} events; "
        f"samples (MB): {[memory >> 20 for memory, _ in samples]}"
    )
