"""The dashboard's reads: aggregates computed in SQL, and lists a page at a time through the indexes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    Text,
    and_,
    case,
    cast,
    func,
    not_,
    null,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from ..api.schemas import MAX_ID
from ..automation.library import definition_of, workflows_of
from ..automation.lift import Lift, lift
from ..automation.states import CartState, CloseReason, RunState
from ..automation.stats import Counts, Stats
from ..contacts.addresses import normalise_email
from ..mail.outbox import OutboxStatus
from ..models import Base, Cart, Contact, Event, OutboxEmail, StepCount, Visitor
from ..models import Run as EngineRun
from ..sqlfunctions import day_of, json_values

T = TypeVar("T")
M = TypeVar("M", bound=Base)
PAGE_SIZE = 50


def by_id(session: Session, model: type[M], row_id: int) -> M | None:
    """The row with this id; None for any id no row can have (rather than an overflowing query)."""
    return session.get(model, row_id) if 1 <= row_id <= MAX_ID else None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.size))

    @property
    def first_item(self) -> int:
        return (self.number - 1) * self.size + 1 if self.items else 0

    @property
    def last_item(self) -> int:
        return self.first_item + len(self.items) - 1 if self.items else 0


def paginate(
    session: Session, query: Select[*tuple[Any, ...]], number: int, size: int = PAGE_SIZE, scalars: bool = True
) -> Page[Any]:
    """One page of `query` (numbered from 1) and the count of all its rows; no page is read when there are none (a
    search that matches nothing reads the table once)."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    number = min(max(1, number), max(1, ceil(total / size)))
    if not total:
        return Page(items=[], number=number, size=size, total=0)
    paged = query.limit(size).offset((number - 1) * size)
    items = list(session.scalars(paged)) if scalars else list(session.execute(paged).all())
    return Page(items=items, number=number, size=size, total=total)


# Overview


@dataclass(frozen=True)
class Bucket:
    start: datetime
    count: int


@dataclass(frozen=True)
class NameCount:
    name: str
    count: int


@dataclass(frozen=True)
class Month:
    """The last days' events: how many each day, and the most frequent custom events and pages."""

    days: list[Bucket]
    top_events: list[NameCount]
    top_pages: list[NameCount]


CUSTOM_KINDS = ("track", "link")


def events_per_hour(session: Session, site_id: int, now: datetime, hours: int = 24) -> list[Bucket]:
    """Events in each of the last `hours` hours, the current one last; empty hours count 0.

    A count per hour, each over its own range of the (site_id, occurred_at) index: no sort, as grouping
    by an hour expression needs on SQLite."""
    end = now.replace(minute=0, second=0, microsecond=0)
    starts = [end - timedelta(hours=back) for back in range(hours - 1, -1, -1)]

    def count(start: datetime) -> ScalarSelect[int]:
        during = (Event.occurred_at >= start, Event.occurred_at < start + timedelta(hours=1))
        return select(func.count()).where(Event.site_id == site_id, *during).scalar_subquery()

    counts = session.execute(select(*[count(start) for start in starts])).one()
    return [Bucket(start, n) for start, n in zip(starts, counts, strict=True)]


def events_per_month(session: Session, site_id: int, now: datetime, days: int = 30, limit: int = 8) -> Month:
    """Events on each of the last `days` days (UTC), today last, and the top `limit` custom events and pages
    (pages by title) of those days.

    One pass over the days' events, in the order of the (site_id, day, kind, name) index: SQLite counts each
    group as the index walks past it, with no sort and no table rows; PostgreSQL knows from the index how many
    groups to expect and hashes them. The counts per (day, kind, name) are then summed per day and per name."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    starts = [today - timedelta(days=back) for back in range(days - 1, -1, -1)]
    day = day_of(Event.occurred_at)
    groups = (
        select(day.label("day"), Event.kind, Event.name, func.count().label("n"))
        .where(Event.site_id == site_id, day >= starts[0].date())
        .group_by(day, Event.kind, Event.name)
        .cte("groups")
    )
    per_day = select(
        groups.c.day, null().label("ranking"), null().label("name"), func.sum(groups.c.n).label("n")
    ).group_by(groups.c.day)
    ranking = case((groups.c.kind == "page", "pages"), else_="events")
    per_name = (
        select(null(), ranking, groups.c.name, func.sum(groups.c.n))
        .where(groups.c.kind.in_(("page", *CUSTOM_KINDS)))
        .group_by(ranking, groups.c.name)
    )
    rows = session.execute(union_all(per_day, per_name).order_by(text("n DESC, name"))).all()
    counts = {row.day: int(row.n) for row in rows if row.day is not None}
    ranked: dict[str, list[NameCount]] = {"events": [], "pages": []}
    for row in rows:
        if row.ranking is not None and len(ranked[row.ranking]) < limit:
            ranked[row.ranking].append(NameCount(row.name, int(row.n)))
    return Month(
        days=[Bucket(start, counts.get(start.date(), 0)) for start in starts],
        top_events=ranked["events"],
        top_pages=ranked["pages"],
    )


def identified_contacts(session: Session, site_id: int) -> int:
    query = select(func.count()).select_from(Contact).where(Contact.site_id == site_id, Contact.email.is_not(None))
    return session.scalar(query) or 0


@dataclass(frozen=True)
class CartCounts:
    open: int
    emailed: int  # the email was written and is not held: sent, or being sent
    recovered: int
    cancelled: int
    recovered_revenue: float  # what the orders that closed recovered carts said they brought in
    held: int  # the email was written but is held in the outbox: no mail server was set


def email_held() -> ColumnElement[bool]:
    """Whether the cart's newest email is held in the outbox (no mail server was set): it never left."""
    newest = (
        select(OutboxEmail.status)
        .where(OutboxEmail.cart_id == Cart.id)
        .order_by(OutboxEmail.id.desc())
        .limit(1)
        .correlate(Cart)
        .scalar_subquery()
    )
    return func.coalesce(newest, "") == OutboxStatus.HELD


def held_newest(site_id: int) -> Select[int | None]:
    """The site's carts whose newest email is held in the outbox: from its held emails (the (site_id, status,
    created_at) index), those with no newer email of the same cart (the index on cart_id)."""
    newer = aliased(OutboxEmail)
    newer_email = select(newer.id).where(newer.cart_id == OutboxEmail.cart_id, newer.id > OutboxEmail.id).exists()
    return select(OutboxEmail.cart_id).where(
        OutboxEmail.site_id == site_id,
        OutboxEmail.status == OutboxStatus.HELD,
        OutboxEmail.cart_id.is_not(None),
        not_(newer_email),
    )


def cart_counts(session: Session, site_id: int) -> CartCounts:
    """Open carts; carts emailed (their email not held); of those, ordered afterwards (recovered); closed before any
    email (cancelled); carts whose email is held for want of a mail server.

    One pass over the site's carts, joined to the few whose newest email is held, rather than a look-up of each
    cart's newest email."""
    held_ids = held_newest(site_id).subquery()
    written = Cart.emailed_at.is_not(None)
    newest_held = held_ids.c.cart_id.is_not(None)
    held = and_(written, newest_held)
    emailed = and_(written, not_(newest_held))
    recovered = and_(Cart.state == CartState.CLOSED, Cart.closed_reason == CloseReason.ORDERED, emailed)
    cancelled = and_(Cart.state == CartState.CLOSED, not_(written))
    query = (
        select(
            func.count(case((Cart.state == CartState.OPEN, 1))),
            func.count(case((emailed, 1))),
            func.count(case((recovered, 1))),
            func.count(case((cancelled, 1))),
            func.coalesce(func.sum(case((recovered, Cart.order_total))), 0.0),
            func.count(case((held, 1))),
        )
        .select_from(Cart)
        .outerjoin(held_ids, held_ids.c.cart_id == Cart.id)
        .where(Cart.site_id == site_id)
    )
    row = session.execute(query).one()
    return CartCounts(*row)


@dataclass(frozen=True)
class Recovered:
    """Orders that followed an email of the site's workflows, and what they brought in, per currency (None: the
    cart gave none), the largest first."""

    orders: int
    revenue: list[tuple[str | None, float]]


def recovered_orders(session: Session, site_id: int, since: datetime | None = None) -> Recovered:
    """The goal events that converted sent runs of the site's workflows after an email was sent for one of them
    (an email held for want of a mail server, or not sent yet, never left: it recovered nothing), since `since`
    when given, with their revenue in the currency of the data that started the run (the cart's): whatever cart or
    device the order came from, as the goal is per contact.

    One goal event converts each run of its contact at the same moment, so each (contact, conversion time) is one
    order, counted once however many runs, of however many workflows, it converted. The converted runs are a
    range of the (site_id, converted_at) index, and each one's emails are looked up through the outbox's index on
    run_id. Grouped by time first, the groups follow that index's order: SQLite's planner, which with one site's
    statistics would rather walk a whole index ordered by contact than sort, keeps to the range."""
    emailed_before = (
        select(OutboxEmail.id)
        .where(
            OutboxEmail.run_id == EngineRun.id,
            OutboxEmail.created_at < EngineRun.converted_at,  # a range of the (run_id, created_at) index
            OutboxEmail.sent_at < EngineRun.converted_at,
        )
        .exists()
    )
    converted = EngineRun.converted_at.is_not(None) if since is None else EngineRun.converted_at >= since
    orders = (
        select(
            func.max(EngineRun.revenue).label("revenue"),
            func.max(func.upper(EngineRun.data["currency"].as_string())).label("currency"),
        )
        .where(EngineRun.site_id == site_id, converted, EngineRun.holdout.is_(False), emailed_before)
        .group_by(EngineRun.converted_at, EngineRun.contact_id)
        .subquery()
    )
    per_currency = select(orders.c.currency, func.count(), func.coalesce(func.sum(orders.c.revenue), 0.0)).group_by(
        orders.c.currency
    )
    rows = session.execute(per_currency).all()
    revenue = sorted(((currency, float(total)) for currency, _, total in rows if total), key=lambda row: -row[1])
    return Recovered(sum(count for _, count, _ in rows), revenue)


def workflows_lift(session: Session, site_id: int) -> Lift | None:
    """The lift of the site's workflows taken together: the runs and conversions of each workflow with a goal and
    held-out runs, summed per group, from the step counts (never the runs). A workflow without held-out runs has
    nothing to compare its sent runs with, and one without a goal counts no conversions, so neither is in it.
    None until a workflow with a goal has runs in both groups."""
    goals = [
        definition.id for definition in workflows_of(session, site_id) if definition_of(definition).goal is not None
    ]
    stats: dict[int, Stats] = {workflow_id: Stats() for workflow_id in goals}
    whole = select(StepCount).where(StepCount.workflow_id.in_(goals), StepCount.path == "")
    for row in session.scalars(whole):
        stats[row.workflow_id].counts["", row.holdout] = Counts(entered=row.entered, converted=row.converted)
    groups = [(of.group(False), of.group(True)) for of in stats.values() if of.group(True)["runs"] > 0]
    return lift(
        sum(sent["runs"] for sent, _ in groups),
        sum(sent["conversions"] for sent, _ in groups),
        sum(held["runs"] for _, held in groups),
        sum(held["conversions"] for _, held in groups),
    )


# Contacts


def like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# Text that PostgreSQL writes unchanged in a JSON document's text (it escapes only quotes, backslashes and control
# characters) and that cannot span two values joined by a space: each such piece of a search found in the values
# joined is in the document's text too, which a trigram index finds (migration 0025) without joining the values of
# every contact.
JSON_PLAIN = re.compile(r'[^ "\\\x00-\x1f]+')


def contacts_page(session: Session, site_id: int, search: str, number: int) -> Page[Any]:
    """(contact, its last event's time) rows, last modified first; `search` matches the email or any attribute value.

    A search that is a whole address also finds it in its stored form (e.g. an IDNA domain typed in Unicode).
    The page's ids are found first, through the (site_id, modified_at, id) index alone when there is no search, and
    only those contacts and their last events are read: a page deep in the list costs an offset through the index,
    not a read of every contact it skips.
    """
    query = select(Contact.id).where(Contact.site_id == site_id)
    if search:
        pattern = like_pattern(search)
        address = normalise_email(search)
        postgres = session.get_bind().dialect.name == "postgresql"
        in_values: ColumnElement[bool] = json_values(Contact.attributes).ilike(pattern, escape="\\")
        pieces = JSON_PLAIN.findall(search) if postgres else []
        if pieces:
            in_text = [cast(Contact.attributes, Text).ilike(like_pattern(piece), escape="\\") for piece in pieces]
            in_values = and_(*in_text, in_values)
        query = query.where(
            or_(
                Contact.email.ilike(pattern, escape="\\"),
                in_values,
                *([Contact.email == address] if address else []),
            )
        )
    page = paginate(session, query.order_by(Contact.modified_at.desc(), Contact.id.desc()), number)
    contacts = {contact.id: contact for contact in session.scalars(select(Contact).where(Contact.id.in_(page.items)))}
    last_events = last_event_times(session, page.items)
    rows = [(contacts[contact_id], last_events.get(contact_id)) for contact_id in page.items]
    return Page(items=rows, number=page.number, size=page.size, total=page.total)


def last_event_times(session: Session, contact_ids: list[int]) -> dict[int, datetime]:
    """Each contact's last event's time, for those with events: the top of its (contact_id, occurred_at) range."""
    if not contact_ids:
        return {}
    last = (
        select(func.max(Event.occurred_at)).where(Event.contact_id == Contact.id).correlate(Contact).scalar_subquery()
    )
    rows = session.execute(select(Contact.id, last).where(Contact.id.in_(contact_ids))).all()
    return {contact_id: occurred for contact_id, occurred in rows if occurred is not None}


def visitors_of(session: Session, contact_id: int) -> list[Visitor]:
    query = select(Visitor).where(Visitor.contact_id == contact_id).order_by(Visitor.last_seen_at.desc())
    return list(session.scalars(query))


def carts_of(session: Session, contact_id: int) -> list[Cart]:
    return list(session.scalars(select(Cart).where(Cart.contact_id == contact_id).order_by(Cart.updated_at.desc())))


def timeline_page(session: Session, contact_id: int, number: int) -> Page[Event]:
    """A contact's events, newest first."""
    query = select(Event).where(Event.contact_id == contact_id).order_by(Event.occurred_at.desc(), Event.id.desc())
    return paginate(session, query, number)


# Automation


RUN_FILTERS = ("all", "waiting", "emailed", "held", "failed", "recovered", "cancelled")


@dataclass(frozen=True)
class Run:
    """One cart as the workflow sees it, with its contact's email and its latest recovery email."""

    cart: Cart
    email: str | None
    outbox: OutboxEmail | None


def runs_page(session: Session, site_id: int, status: str, number: int) -> Page[Run]:
    """The site's carts, last updated first, filtered by what the workflow did with them."""
    query = (
        select(Cart, Contact.email)
        .outerjoin(Contact, Cart.contact_id == Contact.id)
        .where(Cart.site_id == site_id)
        .order_by(Cart.updated_at.desc(), Cart.id.desc())
    )
    failed = select(OutboxEmail.cart_id).where(
        OutboxEmail.site_id == site_id, OutboxEmail.status == OutboxStatus.FAILED
    )
    written = Cart.emailed_at.is_not(None)  # the cart's current cycle got its email
    emailed = and_(written, not_(email_held()))
    conditions = {
        "waiting": Cart.state == CartState.OPEN,
        "emailed": emailed,
        "held": and_(written, email_held()),
        "failed": Cart.id.in_(failed),
        "recovered": and_(Cart.state == CartState.CLOSED, Cart.closed_reason == CloseReason.ORDERED, emailed),
        "cancelled": and_(Cart.state == CartState.CLOSED, not_(written)),
    }
    if status in conditions:
        query = query.where(conditions[status])
    page = paginate(session, query, number, scalars=False)
    latest = latest_emails(session, [cart.id for cart, _ in page.items])
    runs = [Run(cart, email, latest.get(cart.id)) for cart, email in page.items]
    return Page(items=runs, number=page.number, size=page.size, total=page.total)


def held_carts(session: Session, cart_ids: list[int]) -> set[int]:
    """Those of the carts whose newest email is held in the outbox: written, never sent (no mail server)."""
    return {cart_id for cart_id, email in latest_emails(session, cart_ids).items() if email.status == OutboxStatus.HELD}


def latest_emails(session: Session, cart_ids: list[int]) -> dict[int, OutboxEmail]:
    """Each cart's newest outbox email, read through the index on cart_id."""
    if not cart_ids:
        return {}
    newest = select(func.max(OutboxEmail.id)).where(OutboxEmail.cart_id.in_(cart_ids)).group_by(OutboxEmail.cart_id)
    rows = session.scalars(select(OutboxEmail).where(OutboxEmail.id.in_(newest)))
    return {row.cart_id: row for row in rows if row.cart_id is not None}


def failed_count(session: Session, site_id: int) -> int:
    query = (
        select(func.count())
        .select_from(OutboxEmail)
        .where(OutboxEmail.site_id == site_id, OutboxEmail.status == OutboxStatus.FAILED)
    )
    return session.scalar(query) or 0


# Engine workflows


@dataclass(frozen=True)
class WorkflowFigures:
    """A workflow's line in the list: runs waiting now, and runs, emails and conversions of both groups."""

    waiting: int
    runs: int
    emails: int  # written, held ones among them
    conversions: int
    held: int  # emails held in the outbox for want of a mail server


def workflow_figures(session: Session, workflow_ids: list[int]) -> dict[int, WorkflowFigures]:
    """Each workflow's figures in three reads for all of them: its step counts (never its runs), its waiting
    runs counted in the (workflow_id, state, step, holdout) index, and its emails held in the outbox."""
    if not workflow_ids:
        return {}
    stats: dict[int, Stats] = {workflow_id: Stats() for workflow_id in workflow_ids}
    for row in session.scalars(select(StepCount).where(StepCount.workflow_id.in_(workflow_ids))):
        stats[row.workflow_id].counts[row.path, row.holdout] = Counts(
            entered=row.entered, emailed=row.emailed, withheld=row.withheld, converted=row.converted
        )
    waiting_query = (
        select(EngineRun.workflow_id, func.count())
        .where(EngineRun.workflow_id.in_(workflow_ids), EngineRun.state == RunState.WAITING)
        .group_by(EngineRun.workflow_id)
    )
    waiting: dict[int, int] = {workflow_id: count for workflow_id, count in session.execute(waiting_query).all()}
    held_query = (
        select(EngineRun.workflow_id, func.count())
        .select_from(OutboxEmail)
        .join(EngineRun, EngineRun.id == OutboxEmail.run_id)
        .where(OutboxEmail.status == OutboxStatus.HELD, EngineRun.workflow_id.in_(workflow_ids))
        .group_by(EngineRun.workflow_id)
    )
    held: dict[int, int] = {workflow_id: count for workflow_id, count in session.execute(held_query).all()}
    figures = {}
    for workflow_id, figures_of in stats.items():
        groups = (figures_of.group(False), figures_of.group(True))
        figures[workflow_id] = WorkflowFigures(
            waiting=waiting.get(workflow_id, 0),
            runs=sum(group["runs"] for group in groups),
            emails=sum(group["emails"] for group in groups),
            conversions=sum(group["conversions"] for group in groups),
            held=held.get(workflow_id, 0),
        )
    return figures


@dataclass(frozen=True)
class WorkflowRun:
    """One run of an engine workflow, with its contact's email (None while the visitor is anonymous)."""

    run: EngineRun
    email: str | None


@dataclass(frozen=True)
class RunsSlice:
    """The newest runs started before a run (or the newest of all), and the last of them when older ones follow."""

    runs: list[WorkflowRun]
    older_than: int | None  # the run id to ask older runs from; None when these are the oldest


def workflow_runs(session: Session, workflow_id: int, before: EngineRun | None, limit: int = PAGE_SIZE) -> RunsSlice:
    """A workflow's runs, newest first, `limit` at a time, after `before` (a run of it) when given: a range of the
    (workflow_id, started_at) index, never a count or an offset, however many runs it has."""
    query = (
        select(EngineRun, Contact.email)
        .outerjoin(Contact, EngineRun.contact_id == Contact.id)
        .where(EngineRun.workflow_id == workflow_id)
    )
    if before is not None:
        query = query.where(
            EngineRun.started_at <= before.started_at,
            or_(EngineRun.started_at < before.started_at, EngineRun.id < before.id),
        )
    rows = session.execute(query.order_by(EngineRun.started_at.desc(), EngineRun.id.desc()).limit(limit + 1)).all()
    runs = [WorkflowRun(run, email) for run, email in rows[:limit]]
    return RunsSlice(runs, runs[-1].run.id if len(rows) > limit else None)


# Outbox

OUTBOX_FILTERS = ("all", OutboxStatus.HELD, OutboxStatus.PENDING, OutboxStatus.SENT, OutboxStatus.FAILED)


def outbox_page(session: Session, site_id: int, status: str, number: int) -> Page[OutboxEmail]:
    query = select(OutboxEmail).where(OutboxEmail.site_id == site_id)
    if status in OUTBOX_FILTERS[1:]:
        query = query.where(OutboxEmail.status == status)
    return paginate(session, query.order_by(OutboxEmail.created_at.desc(), OutboxEmail.id.desc()), number)


# Live


def newest_events(session: Session, site_id: int, after_id: int = 0, limit: int = 50) -> list[tuple[Event, str | None]]:
    """The site's newest events (after `after_id` when polling), newest first, with the contact's email.

    The newest ids come first, through the (site_id, id) index alone; only those rows are joined.
    """
    newest = (
        select(Event.id).where(Event.site_id == site_id, Event.id > after_id).order_by(Event.id.desc()).limit(limit)
    )
    query = (
        select(Event, Contact.email)
        .outerjoin(Contact, Event.contact_id == Contact.id)
        .where(Event.id.in_(newest.scalar_subquery()))
        .order_by(Event.id.desc())
    )
    return [(event, email) for event, email in session.execute(query).all()]
