"""Ingest writes the runs its events move together, betting no worker moved them since it read them, and does the
batch again run by run when one did."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from server import db
from server.automation import runs
from server.models import Run, Site, utcnow

from .support.browser import BROWSER_USER_AGENT
from .support.sites import new_site
from .support.statements import statements

HEADERS = {"User-Agent": BROWSER_USER_AGENT, "Content-Type": "text/plain"}


def _cart_updated(client: FlaskClient, site: Site, visitor: str) -> None:
    message = {
        "id": uuid.uuid4().hex,
        "type": "track",
        "name": "cart_updated",
        "eventdata": {"id": "cart-1", "data": {"total": 20, "currency": "EUR", "items": [{"name": "Tea"}]}},
    }
    body = {"key": site.client_key, "cuid": visitor, "messages": [message]}
    response = client.post("/collect", data=json.dumps(body), headers=HEADERS)
    assert response.get_json() == {"stored": 1, "duplicates": 0}


def _waiting_runs(app: Flask, site: Site) -> list[Run]:
    with db.new_session(app) as session:
        return list(session.scalars(select(Run).where(Run.site_id == site.id).order_by(Run.id)))


@pytest.fixture
def site_with_two_waiting_runs(app: Flask, client: FlaskClient) -> tuple[Site, list[str]]:
    site = new_site(app)
    visitors = [f"visitor-{uuid.uuid4().hex}" for _ in range(2)]
    for visitor in visitors:
        _cart_updated(client, site, visitor)
    assert len(_waiting_runs(app, site)) == 2
    return site, [run.owner for run in _waiting_runs(app, site)]


def _moved(
    app: Flask, site: Site, owners: list[str], deferred: bool, meanwhile: Callable[[], None] | None = None
) -> list[runs.OpenRun]:
    """Each owner's run moved (its `updated_at` set) by a book that read them first; `meanwhile` runs between."""
    with db.new_connection(app) as connection, connection.begin():
        book = runs.RunBook(connection, site, deferred=deferred)
        book.read_owners(set(owners))
        read = [run for owner in owners for run in book.open_runs(owner)]
        if meanwhile is not None:
            meanwhile()
        for run in read:
            runs._move(book, run, updated_at=utcnow())
        book.write()
    return read


def _worker_moving(app: Flask, run: Run) -> Callable[[], None]:
    """A worker moving the run, as a worker's pass does: another connection, its own transaction."""

    def move() -> None:
        with db.new_connection(app) as connection, connection.begin():
            connection.execute(update(Run).where(Run.id == run.id).values(version=Run.version + 1))

    return move


def test_moves_of_several_runs_are_written_in_one_statement(
    app: Flask, site_with_two_waiting_runs: tuple[Site, list[str]]
) -> None:
    site, owners = site_with_two_waiting_runs
    before = {run.id: run.version for run in _waiting_runs(app, site)}
    with statements(app) as seen:
        _moved(app, site, owners, deferred=True)
    assert len([sql for sql, _ in seen if sql.startswith("UPDATE runs")]) == 1
    assert {run.id: run.version for run in _waiting_runs(app, site)} == {
        id_: version + 1 for id_, version in before.items()
    }


def test_a_run_a_worker_moved_meanwhile_fails_the_bet_and_nothing_of_the_batch_is_written(
    app: Flask, site_with_two_waiting_runs: tuple[Site, list[str]]
) -> None:
    site, owners = site_with_two_waiting_runs
    first = _waiting_runs(app, site)[0]
    with pytest.raises(runs.RunsRaced):
        _moved(app, site, owners, deferred=True, meanwhile=_worker_moving(app, first))
    after = {run.id: run.version for run in _waiting_runs(app, site)}
    assert after[first.id] == first.version + 1  # the worker's move alone
    assert [run.version for run in _waiting_runs(app, site)][1] == 1  # the other run's move was rolled back


def test_written_one_by_one_a_move_meets_the_run_as_the_worker_left_it(
    app: Flask, site_with_two_waiting_runs: tuple[Site, list[str]]
) -> None:
    site, owners = site_with_two_waiting_runs
    first = _waiting_runs(app, site)[0]
    _moved(app, site, owners, deferred=False, meanwhile=_worker_moving(app, first))
    assert [run.version for run in _waiting_runs(app, site)] == [first.version + 2, 2]
