"""Group commit: requests that arrive while a transaction is written share the next one, and each is answered with
what happened to its own events."""

from __future__ import annotations

import fcntl
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from server import db
from server.db import make_engine, writer_turn
from server.ingest.group_commit import GroupCommit
from server.models import Cart, Event, Site

from .support.browser import BROWSER_HEADERS
from .support.servers import Process
from .support.store import Store
from .support.waiting import wait_until


class _Recorder:
    """A store that writes nothing: it records each group and, for the first, waits until `hold` more wait."""

    def __init__(self, hold: int) -> None:
        self.hold = hold
        self.groups: list[list[str]] = []
        self.leading = threading.Event()
        self.commit: GroupCommit[str, str] = GroupCommit(self)

    def __call__(self, _session: Any, group: list[str]) -> list[str | BaseException]:
        if not self.groups:
            self.leading.set()
            wait_until(lambda: self.commit.waiting >= self.hold)
        self.groups.append(list(group))
        return [ValueError(name) if name.startswith("bad") else f"stored {name}" for name in group]


def _submit_all(recorder: _Recorder, names: list[str]) -> dict[str, str | BaseException]:
    """Each name submitted from its own thread, the others once the first one leads; what each was answered."""
    commit = recorder.commit
    answers: dict[str, str | BaseException] = {}

    def submit(name: str) -> None:
        try:
            answers[name] = commit.submit(None, name)  # type: ignore[arg-type]  # the recorder needs no session
        except ValueError as error:
            answers[name] = error

    first = threading.Thread(target=submit, args=(names[0],))
    first.start()
    assert recorder.leading.wait(10)
    others = [threading.Thread(target=submit, args=(name,)) for name in names[1:]]
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join(10)
    return answers


def test_requests_arriving_during_a_transaction_share_the_next_one() -> None:
    recorder = _Recorder(hold=5)
    answers = _submit_all(recorder, ["a", "b", "c", "d", "e", "f"])
    assert recorder.groups[0] == ["a"]
    assert sorted(recorder.groups[1]) == ["b", "c", "d", "e", "f"]
    assert len(recorder.groups) == 2
    assert answers == {name: f"stored {name}" for name in "abcdef"}


def test_a_request_that_fails_fails_alone_and_the_lead_passes_on() -> None:
    recorder = _Recorder(hold=3)
    answers = _submit_all(recorder, ["a", "bad-1", "c", "d"])
    assert isinstance(answers.pop("bad-1"), ValueError)
    assert answers == {"a": "stored a", "c": "stored c", "d": "stored d"}
    assert recorder.commit.submit(None, "later") == "stored later"  # type: ignore[arg-type]  # nobody was left leading


def test_a_store_that_raises_answers_its_whole_group_and_the_next_request_still_leads() -> None:
    def broken(_session: Any, group: list[str]) -> list[str | BaseException]:
        raise RuntimeError("the database went away")

    commit: GroupCommit[str, str] = GroupCommit(broken)
    with pytest.raises(RuntimeError, match="went away"):
        commit.submit(None, "a")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="went away"):
        commit.submit(None, "b")  # type: ignore[arg-type]
    assert commit.waiting == 0


def _post(url: str, site: Site, message_id: str, visitor: str) -> dict[str, Any]:
    body = {
        "key": site.client_key,
        "cuid": visitor,
        "messages": [
            {
                "id": message_id,
                "type": "track",
                "name": "cart_updated",
                "url": "https://shop.example/cart",
                "eventdata": {
                    "id": f"cart-{visitor}",
                    "data": {"total": 20, "currency": "EUR", "items": [{"name": "Tea"}]},
                },
            }
        ],
    }
    response = requests.post(url + "/collect", data=json.dumps(body), headers=BROWSER_HEADERS, timeout=30)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_concurrent_single_events_under_gunicorn_are_each_stored_once_with_their_carts(
    gunicorn: Process, store: Store
) -> None:
    """Many browsers at once, each event sent twice (a retry racing its first try): every event stored once, every
    answer counting its own event as stored or as a duplicate, every visitor's cart holding its event."""
    site = store.create_site()
    sends = [(uuid.uuid4().hex, f"visitor-{number % 40}") for number in range(200)]
    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda send: _post(gunicorn.url, site, *send), sends + sends))
    assert sum(answer["stored"] for answer in answers) == 200
    assert sum(answer["duplicates"] for answer in answers) == 200
    with db.new_session(store.app) as session:
        stored = session.scalar(select(func.count()).select_from(Event).where(Event.site_id == site.id))
        carts = session.scalar(select(func.count()).select_from(Cart).where(Cart.site_id == site.id))
    assert stored == 200
    assert carts == 40


def test_on_a_sqlite_file_a_writer_turn_excludes_every_other_process(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/shop.db")
    other = (tmp_path / "shop.db-writer.lock").open("a")
    with writer_turn(engine), pytest.raises(BlockingIOError):
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again once the turn ends
    other.close()
