"""Runs as ingest moves them, inside its transaction: an `exit_on` event ends a run, an awaited event takes its
`wait_for` step's `then` branch, a trigger starts a run (or restarts one), a goal event converts the contact's runs.
The worker does the steps; ingest only sets where a run goes next and makes it due."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, Connection, Update, and_, bindparam, case, insert, select, update

from ..db import insert_for
from ..models import Contact, Run, Site, StepCount, utcnow
from .carts import CART_UPDATED, DEFAULT_CART, CartChange, CartChanges, cart_key, order_revenue, owner
from .conditions import Subject, where_subject
from .definitions import EventTrigger, IdentifiedTrigger, PageTrigger, Per
from .library import site_plans
from .matching import Facts, page_matches, where_passes
from .plans import Plan
from .states import ExitReason, RunState, exited

_RUNS = Run.__table__
_COUNTS = StepCount.__table__
_COLUMNS = ("id", "workflow_id", "key", "step", "waiting_for", "version", "holdout", "history")
_OPEN_OF_OWNER = select(*(_RUNS.c[name] for name in _COLUMNS)).where(
    _RUNS.c.site_id == bindparam("site_id"), _RUNS.c.owner == bindparam("owner"), _RUNS.c.state == RunState.WAITING
)
_OPEN_OF_OWNERS = select(_RUNS.c.owner, *(_RUNS.c[name] for name in _COLUMNS)).where(
    _RUNS.c.site_id == bindparam("site_id"),
    _RUNS.c.owner.in_(bindparam("owners", expanding=True)),
    _RUNS.c.state == RunState.WAITING,
)
_SAME_KEY = (
    _RUNS.c.site_id == bindparam("site_id"),
    _RUNS.c.owner == bindparam("owner"),
    _RUNS.c.workflow_id == bindparam("workflow_id"),
    _RUNS.c.key == bindparam("key"),
)
_EVER = select(_RUNS.c.id).where(*_SAME_KEY).limit(1)
_INSERT = insert(_RUNS)
_CONVERTIBLE = select(_RUNS.c.id, _RUNS.c.holdout, _RUNS.c.history).where(
    _RUNS.c.workflow_id == bindparam("workflow_id"),
    _RUNS.c.contact_id == bindparam("contact_id"),
    _RUNS.c.converted_at.is_(None),
    _RUNS.c.started_at >= bindparam("since"),
)
_CONVERT = update(_RUNS).where(_RUNS.c.id.in_(bindparam("run_ids", expanding=True)))
_ATTRIBUTES = select(Contact.attributes).where(Contact.id == bindparam("contact_id"))


@dataclass
class OpenRun:
    """A waiting run as ingest read it."""

    id: int
    workflow_id: int
    key: str
    step: str | None
    waiting_for: str | None
    version: int
    holdout: bool
    history: list[str]


class RunsRaced(Exception):
    """A run written late (see `RunBook`) had changed since ingest read it: its worker moved it meanwhile."""


class RunBook:
    """The runs one ingest touches: the site's plans, and each owner's waiting runs read once.

    With `deferred`, a run's moves are written together by `write` (one statement per shape of move), on the bet
    that no worker moved the run since it was read; when one did, `write` raises `RunsRaced` and the transaction
    is done again without deferring, each move then meeting the run as it is."""

    def __init__(
        self, connection: Connection, site: Site, chance: Callable[[], float] = random.random, deferred: bool = False
    ) -> None:
        self.connection = connection
        self.site = site
        self.chance = chance
        # Writing moves together needs the total of rows an executemany changed, which not every driver reports.
        self.deferred = deferred and connection.dialect.supports_sane_multi_rowcount
        self._moves: list[tuple[Update, dict[str, Any]]] = []
        self._plans: list[Plan] | None = None
        self._open: dict[str, list[OpenRun]] = {}
        self._attributes: dict[int, Mapping[str, Any]] = {}

    def defer(self, move: Update, params: dict[str, Any]) -> None:
        self._moves.append((move, params))

    def write(self) -> None:
        """Write the deferred moves, in order, consecutive moves of one shape in one statement."""
        moves, self._moves = self._moves, []
        written = 0
        for statement, same in groupby(moves, key=lambda move: move[0]):
            written += self.connection.execute(statement, [params for _, params in same]).rowcount
        if written != len(moves):
            raise RunsRaced(f"{len(moves) - written} of {len(moves)} runs changed since they were read")

    @property
    def plans(self) -> list[Plan]:
        if self._plans is None:
            self._plans = site_plans.of(self.connection, self.site.id, self.site.workflows_stamp or 0)
        return self._plans

    def open_runs(self, run_owner: str) -> list[OpenRun]:
        if run_owner not in self._open:
            self.write()
            rows = self.connection.execute(_OPEN_OF_OWNER, {"site_id": self.site.id, "owner": run_owner})
            self._open[run_owner] = [OpenRun(**row._mapping) for row in rows]
        return self._open[run_owner]

    def read_owners(self, owners: set[str]) -> None:
        """Read the waiting runs of these owners in one statement, ahead of the events that will ask for them (only
        when the site has workflows: otherwise no event asks)."""
        unread = sorted(owners - self._open.keys())
        if not unread or not self.plans:
            return
        self.write()
        found: dict[str, list[OpenRun]] = {run_owner: [] for run_owner in unread}
        for row in self.connection.execute(_OPEN_OF_OWNERS, {"site_id": self.site.id, "owners": unread}):
            found[row.owner].append(OpenRun(**{name: row._mapping[name] for name in _COLUMNS}))
        self._open.update(found)

    def adopt(self, visitor_id: int, contact_id: int) -> None:
        """The visitor's runs become the contact's (see `adopt_visitor_runs`)."""
        self.write()
        adopt_visitor_runs(self.connection, self.site.id, visitor_id, contact_id, utcnow())
        self._open.pop(f"visitor:{visitor_id}", None)
        self._open.pop(f"contact:{contact_id}", None)

    def attributes(self, contact_id: int | None) -> Mapping[str, Any]:
        if contact_id is None:
            return {}
        if contact_id not in self._attributes:
            self._attributes[contact_id] = (
                self.connection.execute(_ATTRIBUTES, {"contact_id": contact_id}).scalar() or {}
            )
        return self._attributes[contact_id]


def contact_created(connection: Connection, site: Site, contact_id: int, now: datetime) -> None:
    """A contact created outside an event (the API's contact creation) starts the workflows a new contact starts."""
    event = {
        "site_id": site.id,
        "message_id": f"contact-{contact_id}",
        "kind": "identify",
        "name": "contact_created",
        "url": None,
        "visitor_id": None,
        "contact_id": contact_id,
        "properties": {},
        "eventdata": None,
        "received_at": now,
    }
    apply_event(RunBook(connection, site), event, created_contact=True)


def page_path(event: Mapping[str, Any]) -> str | None:
    """A page view's path: its `ma_path` property, else the path of its URL."""
    path = (event["properties"] or {}).get("ma_path")
    if isinstance(path, str) and path:
        return path
    url = event["url"] or (event["properties"] or {}).get("ma_url")
    return urlsplit(url).path or "/" if isinstance(url, str) and url else None


def apply_event(
    book: RunBook, event: Mapping[str, Any], cart_changes: CartChanges | None = None, created_contact: bool = False
) -> None:
    """Move the site's runs for one stored event (and what it did to carts): exits first, then awaited events,
    then triggers, then goals.

    Runs per cart follow the cart rules: a `cart_updated` starts or restarts one only when it moved its cart's timer
    (not one sent before the cart's last update, nor one past the cap on resets), and a cart that closes (ordered,
    deleted, emptied) ends its runs."""
    plans = book.plans
    if not plans:
        return
    run_owner = owner(event["contact_id"], event["visitor_id"])
    if run_owner is None:
        return
    now = event["received_at"]
    tracked = event["kind"] == "track"
    changes = cart_changes or {}
    for plan in plans:
        enabled = plan.workflow.enabled  # a workflow switched off starts nothing, but what ends its runs still does
        if tracked and event["name"] in plan.exit_events:
            _exit(book, plan, run_owner, now, _keys_named(plan, event), ExitReason.EVENT)
        closed = {key for key, change in changes.items() if change is CartChange.CLOSED}
        if plan.per is Per.CART and closed:
            _exit(book, plan, run_owner, now, closed, ExitReason.CART_CLOSED)
        if enabled and tracked and event["name"] in plan.awaited_events:
            _heard(book, plan, event, run_owner, now)
        if enabled and _triggered(book, plan, event, created_contact) and _moves_cart(plan, event, changes):
            _start(book, plan, event, run_owner, now, changes)
        goal = plan.workflow.goal
        if tracked and goal is not None and event["name"] == goal.event and event["contact_id"] is not None:
            convert(
                book.connection,
                plan,
                event["contact_id"],
                now - goal.within,
                now,
                (event["eventdata"] or {}).get("data"),
            )


def _keys_named(plan: Plan, event: Mapping[str, Any]) -> set[str] | None:
    """The keys of the owner's runs an event concerns: for runs per cart the cart it names (one naming none concerns
    every cart of the owner); for the others the owner is enough. None: every key."""
    named = cart_key(event["eventdata"]) if plan.per is Per.CART else None
    return {named} if named is not None else None


def _runs_of(book: RunBook, plan: Plan, run_owner: str) -> list[OpenRun]:
    return [run for run in book.open_runs(run_owner) if run.workflow_id == plan.id]


_MOVED = (CartChange.RESCHEDULED, CartChange.REOPENED, CartChange.REENTERED)


def _moves_cart(plan: Plan, event: Mapping[str, Any], changes: CartChanges) -> bool:
    """Whether a trigger counts for a run per cart: a `cart_updated` only when it moved its cart's timer."""
    if plan.per is not Per.CART or event["name"] != CART_UPDATED:
        return True
    return changes.get(run_key(plan, event)) in _MOVED


def _may_enter_again(book: RunBook, plan: Plan, key: str, run_owner: str, changes: CartChanges) -> bool:
    """Whether a new run may start for a key that may have had runs: always with re-entry on. Off, per cart it is
    about the cart (a cart emailed once is not emailed again, one closed and filled again is a new cart); for the
    others no second run for the key, ever."""
    if plan.workflow.reentry:
        return True
    if plan.per is Per.CART and changes.get(key) is not None:
        return changes[key] is not CartChange.REENTERED
    params = {"site_id": book.site.id, "owner": run_owner, "workflow_id": plan.id, "key": key}
    return book.connection.execute(_EVER, params).first() is None


def _exit(book: RunBook, plan: Plan, run_owner: str, now: datetime, keys: set[str] | None, reason: ExitReason) -> None:
    """End the owner's waiting runs of the workflow under `keys` (None: all of them)."""
    for run in _runs_of(book, plan, run_owner):
        if keys is None or run.key in keys:
            _move(book, run, **exited(reason, now))
            book.open_runs(run_owner).remove(run)


def _heard(book: RunBook, plan: Plan, event: Mapping[str, Any], run_owner: str, now: datetime) -> None:
    for run in _runs_of(book, plan, run_owner):
        keys = _keys_named(plan, event)
        if run.waiting_for == event["name"] and run.step is not None and (keys is None or run.key in keys):
            still_waiting = (_RUNS.c.step == run.step, _RUNS.c.waiting_for == run.waiting_for)
            _move(
                book,
                run,
                *still_waiting,
                cursor=plan.branch(run.step, "then"),
                waiting_for=None,
                due_at=now,
                updated_at=now,
            )
            run.waiting_for = None


def _move(book: RunBook, run: OpenRun, *still: ColumnElement[bool], **values: Any) -> bool:
    """Write a run's new position. When a worker changed the run since it was read (another version), the change
    applies to the run as it now is only if it is still waiting and `still` holds (a `wait_for` event, say, only
    while the run still waits for it): an event that races a timer wins, but never undoes what the timer did.
    False when nothing was written. A deferring book takes the move to write later, betting the run unchanged."""
    params = {f"new_{name}": value for name, value in values.items() if not isinstance(value, ColumnElement)}
    params |= {"run_id": run.id, "run_version": run.version}
    if book.deferred:
        book.defer(_move_statement(values), params)
        run.version += 1
        return True
    if book.connection.execute(_move_statement(values), params).rowcount:
        run.version += 1
        return True
    move = _RUNS.update().values(version=_RUNS.c.version + 1, lease_until=None, **values)
    now_waiting = _RUNS.c.id == run.id, _RUNS.c.state == RunState.WAITING, *still
    version = book.connection.execute(move.where(*now_waiting).returning(_RUNS.c.version)).scalar()
    if version is None:
        return False
    run.version = version
    return True


_MOVES: dict[tuple[tuple[str, ColumnElement[Any] | None], ...], Update] = {}
_NEXT_CYCLE = _RUNS.c.cycle + 1


def _move_statement(values: Mapping[str, Any]) -> Update:
    """The update of a run read at a version, built once per set of columns (and column expressions such as
    `_NEXT_CYCLE`): an event's writes are many and alike, and building a statement costs more than running it."""
    shape = tuple((name, value if isinstance(value, ColumnElement) else None) for name, value in sorted(values.items()))
    statement = _MOVES.get(shape)
    if statement is None:
        columns = {name: bindparam(f"new_{name}") if expression is None else expression for name, expression in shape}
        statement = (
            _RUNS.update()
            .values(version=_RUNS.c.version + 1, lease_until=None, **columns)
            .where(_RUNS.c.id == bindparam("run_id"), _RUNS.c.version == bindparam("run_version"))
        )
        _MOVES[shape] = statement
    return statement


def _triggered(book: RunBook, plan: Plan, event: Mapping[str, Any], created_contact: bool) -> bool:
    trigger = plan.workflow.trigger
    if isinstance(trigger, IdentifiedTrigger):
        return created_contact
    if isinstance(trigger, PageTrigger):
        path = page_path(event) if event["kind"] == "page" else None
        return path is not None and page_matches(trigger.page, path)
    assert isinstance(trigger, EventTrigger)
    if event["kind"] != "track" or event["name"] != trigger.event:
        return False
    if not trigger.where:
        return True
    needs_contact = any(where_subject(key)[0] is Subject.ATTRIBUTE for key in trigger.where)
    facts = Facts(
        data=(event["eventdata"] or {}).get("data"),
        properties=event["properties"] or {},
        attributes=book.attributes(event["contact_id"]) if needs_contact else {},
    )
    return where_passes(trigger.where, facts)


def run_key(plan: Plan, event: Mapping[str, Any]) -> str:
    """The key of the run an event starts: its cart, nothing more than the owner, or the event itself."""
    if plan.per is Per.CART:
        return cart_key(event["eventdata"]) or DEFAULT_CART
    if plan.per is Per.EVENT:
        return str(event["message_id"])
    return ""


def _start(
    book: RunBook, plan: Plan, event: Mapping[str, Any], run_owner: str, now: datetime, changes: CartChanges
) -> None:
    """Start a run for the trigger; for the same key a waiting run restarts (when the workflow says so) or goes
    on as it is; after a run ended, a new one starts only with re-entry on."""
    key = run_key(plan, event)
    data, properties = (event["eventdata"] or {}).get("data"), event["properties"] or {}
    running = next((run for run in _runs_of(book, plan, run_owner) if run.key == key), None)
    if running is not None:
        if not plan.workflow.restart:
            return
        restarted = _move(
            book,
            running,
            cycle=_NEXT_CYCLE,
            step=None,
            cursor=plan.first(),
            waiting_for=None,
            due_at=now,
            data=data,
            properties=properties,
            updated_at=now,
        )
        if restarted:
            running.step, running.waiting_for = None, None
            return
        book.open_runs(run_owner).remove(running)  # it ended as the event came: a new run, as after any end
    if not _may_enter_again(book, plan, key, run_owner, changes):
        return
    row = {
        "site_id": book.site.id,
        "workflow_id": plan.id,
        "owner": run_owner,
        "key": key,
        "contact_id": event["contact_id"],
        "visitor_id": event["visitor_id"],
        "state": RunState.WAITING,
        "holdout": book.chance() < plan.workflow.holdout,
        "step": None,
        "cursor": plan.first(),
        "waiting_for": None,
        "due_at": now,
        "lease_until": None,
        "version": 1,
        "cycle": 1,
        "data": data,
        "properties": properties,
        "history": [],
        "started_at": now,
        "updated_at": now,
    }
    run_id = book.connection.execute(_INSERT.returning(_RUNS.c.id), row).scalar_one()
    book.open_runs(run_owner).append(OpenRun(run_id, plan.id, key, None, None, 1, bool(row["holdout"]), []))


def convert(connection: Connection, plan: Plan, contact_id: int, since: datetime, now: datetime, data: Any) -> None:
    """The contact's runs of the workflow started since `since` and not converted yet convert now, with the
    event's revenue; each step they passed counts the conversion too."""
    runs = connection.execute(_CONVERTIBLE, {"workflow_id": plan.id, "contact_id": contact_id, "since": since}).all()
    if not runs:
        return
    revenue = order_revenue(data)
    connection.execute(_CONVERT.values(converted_at=now, revenue=revenue), {"run_ids": [run.id for run in runs]})
    counts: dict[tuple[str, bool], int] = {}
    for run in runs:
        for path in ["", *(run.history or [])]:  # the workflow as a whole, and each step the run passed
            counts[path, run.holdout] = counts.get((path, run.holdout), 0) + 1
    add_counts(
        connection,
        plan.id,
        {
            (path, holdout): {"converted": count, "revenue": (revenue or 0.0) * count}
            for (path, holdout), count in counts.items()
        },
    )


def add_counts(
    connection: Connection, workflow_id: int, counts: Mapping[tuple[str, bool], Mapping[str, float]]
) -> None:
    """Add to the step counts (a row made for each step and group the first time), in one order (no deadlock)."""
    if not counts:
        return
    upsert = insert_for(connection.dialect.name)(_COUNTS)
    for (path, holdout), added in sorted(counts.items()):
        values = {"entered": 0, "emailed": 0, "withheld": 0, "converted": 0, "revenue": 0.0, **added}
        statement = upsert.values(workflow_id=workflow_id, path=path, holdout=holdout, **values).on_conflict_do_update(
            index_elements=["workflow_id", "path", "holdout"],
            set_={name: _COUNTS.c[name] + value for name, value in added.items()},
        )
        connection.execute(statement)


def adopt_visitor_runs(connection: Connection, site_id: int, visitor_id: int, contact_id: int, now: datetime) -> None:
    """On identification the visitor's runs become the contact's. Where both wait in the same workflow under the
    same key, the one updated last goes on and the other exits (as the cart updated last wins a clash of carts);
    the visitor's runs waiting for a contact to email become due."""
    visitor_owner, contact_owner = f"visitor:{visitor_id}", f"contact:{contact_id}"
    waiting = select(_RUNS.c.id, _RUNS.c.workflow_id, _RUNS.c.key, _RUNS.c.updated_at).where(
        _RUNS.c.site_id == site_id, _RUNS.c.owner == bindparam("owner"), _RUNS.c.state == RunState.WAITING
    )
    theirs = {(row.workflow_id, row.key): row for row in connection.execute(waiting, {"owner": contact_owner})}
    merged: list[int] = []
    for row in connection.execute(waiting, {"owner": visitor_owner}).all():
        clash = theirs.get((row.workflow_id, row.key))
        if clash is not None:
            merged.append(row.id if clash.updated_at >= row.updated_at else clash.id)
    if merged:
        connection.execute(
            update(_RUNS)
            .where(_RUNS.c.id.in_(merged))
            .values(**exited(ExitReason.MERGED, now), version=_RUNS.c.version + 1)
        )
    connection.execute(
        update(_RUNS)
        .where(_RUNS.c.site_id == site_id, _RUNS.c.owner == visitor_owner)
        .values(
            owner=contact_owner,
            contact_id=contact_id,
            due_at=case((and_(_RUNS.c.state == RunState.WAITING, _RUNS.c.due_at.is_(None)), now), else_=_RUNS.c.due_at),
            version=_RUNS.c.version + 1,
        )
    )
