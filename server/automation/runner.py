"""The run worker: claims due runs, advances each through the steps due now, and writes their emails to the outbox
under one key per run, step and cycle, in the same transaction that moves the runs."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Row, bindparam, or_, select, tuple_, update
from sqlalchemy.orm import Session

from ..commerce.cart_items import readable_cart
from ..email_templates.brand import sender_of
from ..email_templates.compose import email_variables, render_template, shop_variables
from ..email_templates.finishing import FinishingError
from ..email_templates.language import TemplateError
from ..email_templates.money import DEFAULT_LOCALE
from ..email_templates.store import Template, current_template, template_names
from ..mail.confirmation import confirmation_context, confirmation_key, confirmation_url
from ..mail.outbox import Sender, already_queued, last_emailed_at, outbox_row, queue
from ..mail.recovery import recovery_context, tracked_context
from ..mail.render import RenderedEmail, render
from ..mail.tracked_links import Tracking, tracking
from ..mail.unsubscribe import unsubscribe_url
from ..models import Cart, Contact, Run, Site, Workflow, WorkflowDefinition
from ..sites import email_hosts
from .claims import lease
from .definitions import Email, Per, parse_workflow
from .matching import Facts
from .plans import Plan
from .quiet_hours import QuietHours, zone_named
from .runs import add_counts
from .states import CartState, CloseReason, RunState, Withheld, closed
from .steps import Moved, Standing, advance

DEFAULT_PERIOD = 86400.0  # one email per contact per day, for a site without settings
DEFAULT_SUBJECT = "You left something in your cart"

_RUNS = Run.__table__
_TAKE_COLUMNS = (
    _RUNS.c.id,
    _RUNS.c.version,
    _RUNS.c.site_id,
    _RUNS.c.workflow_id,
    _RUNS.c.owner,
    _RUNS.c.key,
    _RUNS.c.contact_id,
    _RUNS.c.holdout,
    _RUNS.c.step,
    _RUNS.c.cursor,
    _RUNS.c.cycle,
    _RUNS.c.data,
    _RUNS.c.properties,
    _RUNS.c.history,
)
_CONTACTS = select(
    Contact.id,
    Contact.email,
    Contact.email_blacklisted,
    Contact.confirmed_at,
    Contact.attributes,
    Contact.link_nonce,
    Contact.time_zone,
).where(Contact.id.in_(bindparam("contact_ids", expanding=True)))
_DEFINITIONS = select(WorkflowDefinition.id, WorkflowDefinition.version, WorkflowDefinition.document).where(
    WorkflowDefinition.id.in_(bindparam("workflow_ids", expanding=True))
)
_SAVE = (
    update(_RUNS)
    .where(_RUNS.c.id == bindparam("run_id"))
    .values(
        state=bindparam("new_state"),
        step=bindparam("new_step"),
        cursor=bindparam("new_cursor"),
        waiting_for=bindparam("new_waiting_for"),
        due_at=bindparam("new_due_at"),
        exit_reason=bindparam("new_exit_reason"),
        ended_at=bindparam("new_ended_at"),
        history=bindparam("new_history"),
        updated_at=bindparam("now"),
        version=_RUNS.c.version + 1,
    )
)


@lru_cache(maxsize=1024)
def _parsed(workflow_id: int, version: int, document: str) -> Plan:
    return Plan(workflow_id, version, parse_workflow(json.loads(document)))


def _plan(workflow_id: int, version: int, document: dict[str, Any]) -> Plan:
    """A definition's plan, parsed once per version (the document is part of the key: a database restored from
    elsewhere cannot hand back another document's plan)."""
    return _parsed(workflow_id, version, json.dumps(document, sort_keys=True))


def claim_due_runs(session: Session, now: datetime, lease_for: timedelta) -> list[tuple[int, int, datetime]]:
    """Lease the due runs of enabled workflows that no one holds: (id, version, due time) of each. Reads the due
    rows of enabled workflows only, through the (workflow, due time) index: the overdue runs of a workflow switched
    off are never read while it is off, however many."""
    enabled = list(session.scalars(select(WorkflowDefinition.id).where(WorkflowDefinition.enabled.is_(True))))
    if not enabled:
        return []
    free = or_(Run.lease_until.is_(None), Run.lease_until < now)
    ready = select(Run.id).where(Run.workflow_id.in_(enabled), Run.due_at <= now, free).order_by(Run.due_at)
    rows = lease(session, Run, ready, now + lease_for, Run.id, Run.version, Run.due_at)
    return [(row.id, row.version, row.due_at) for row in rows]


def claimed_runs(session: Session, claimed: list[tuple[int, int, datetime]], now: datetime) -> list[Row[Any]]:
    """The claimed runs as they are, still waiting, due and unchanged (read only: nothing is held while a pass
    works out what they do)."""
    if not claimed:
        return []
    unchanged = select(*_TAKE_COLUMNS).where(
        tuple_(_RUNS.c.id, _RUNS.c.version).in_([(run_id, version) for run_id, version, _ in claimed]),
        _RUNS.c.state == RunState.WAITING,
        _RUNS.c.due_at <= now,
    )
    rows: list[Row[Any]] = list(session.execute(unchanged))
    return rows


def take_unchanged(session: Session, runs: list[Row[Any]], now: datetime) -> set[int]:
    """Of the runs read, take those still waiting, due and unchanged since: no longer due nor leased, and held by
    this transaction until it saves them. A run an event moved meanwhile has another version: the event wins."""
    if not runs:
        return set()
    return set(
        session.execute(
            update(Run)
            .where(
                tuple_(Run.id, Run.version).in_([(run.id, run.version) for run in runs]),
                Run.state == RunState.WAITING,
                Run.due_at <= now,
            )
            .values(due_at=None, lease_until=None)
            .returning(Run.id)
            .execution_options(synchronize_session=False)
        ).scalars()
    )


@dataclass(frozen=True)
class Mailer:
    """What writing a run's email needs beyond the run: the sender, the public URL and the signing secret."""

    sender: Sender
    public_url: str
    secret_key: str


class RunPass:
    """One pass over the due runs: read what they need once, advance each, write runs, emails, counts and the
    state of the carts their built-in emails are about."""

    def __init__(self, session: Session, mailer: Mailer, now: datetime) -> None:
        self.session = session
        self.mailer = mailer
        self.now = now
        self._plans: dict[int, Plan] = {}
        self._sites: dict[int, Site] = {}
        self._settings: dict[int, Workflow | None] = {}
        self._templates: dict[tuple[int, str], Template | None] = {}
        self._names: dict[int, set[str]] = {}

    def handle(self, claimed: list[tuple[int, int, datetime]]) -> int:
        """Advance the claimed runs still unchanged; the number of emails written.

        What each run does and its emails are worked out first, from what is read; only then are the runs still
        unchanged taken and the results of those written, so a pass holds its writes (SQLite's one writer, or
        PostgreSQL's row locks) only as long as writing takes, never while emails are rendered."""
        due_at = {run_id: due for run_id, _, due in claimed}
        runs = claimed_runs(self.session, claimed, self.now)
        if not runs:
            return 0
        self._read_plans({run.workflow_id for run in runs})
        contacts = {
            row.id: row
            for row in self.session.execute(
                _CONTACTS, {"contact_ids": list({run.contact_id for run in runs if run.contact_id is not None})}
            )
        }
        carts = _Carts(self.session, [run for run in runs if self._plans[run.workflow_id].per is Per.CART])
        last_emailed = last_emailed_at(self.session, list(contacts))
        advanced = []
        for run in runs:
            contact = contacts.get(run.contact_id) if run.contact_id is not None else None
            moved = advance(
                self._plans[run.workflow_id],
                run.cursor,
                run.step,
                due_at[run.id],
                self.now,
                Facts(data=run.data, properties=run.properties or {}, attributes=_attributes(contact)),
                run.holdout,
                self._standing(run.site_id, contact, last_emailed),
            )
            cart = carts.of(run)
            written = [self._email(run, path, email, contact, cart) for path, email in moved.emails if contact]
            if contact is not None and any(not row["transactional"] for row in written):
                last_emailed[contact.id] = self.now  # the period counts from it for the pass's next runs too
            advanced.append((run, contact, cart, moved, written))
        taken = take_unchanged(self.session, runs, self.now)
        saves: list[dict[str, Any]] = []
        emails: list[dict[str, Any]] = []
        unconfirmed: dict[str, tuple[Row[Any], Row[Any]]] = {}
        tallies = _Tallies()
        for run, contact, cart, moved, written in advanced:
            if run.id not in taken:
                continue
            emails += written
            carts.settle(cart, moved, bool(written))
            if contact is not None and any(reason is Withheld.UNCONFIRMED for _, reason in moved.withheld):
                unconfirmed[confirmation_key(contact.id)] = (run, contact)
            saves.append(self._save(run, moved, tallies.count(run, moved, written)))
        if not saves:
            return 0
        asked = already_queued(self.session, unconfirmed)
        emails += [
            self._confirmation_email(run, contact) for key, (run, contact) in unconfirmed.items() if key not in asked
        ]
        self.session.connection().execute(_SAVE, saves)
        carts.write(self.now)
        queue(self.session, emails)
        tallies.write(self.session.connection())
        return len(emails)

    def _save(self, run: Row[Any], moved: Moved, history: list[str]) -> dict[str, Any]:
        ended = moved.state is not RunState.WAITING
        return {
            "run_id": run.id,
            "new_state": moved.state,
            "new_step": moved.step,
            "new_cursor": None if ended else moved.cursor,
            "new_waiting_for": moved.waiting_for,
            "new_due_at": moved.due_at,
            "new_exit_reason": moved.exit_reason,
            "new_ended_at": self.now if ended else None,
            "new_history": history,
            "now": self.now,
        }

    def _standing(self, site_id: int, contact: Row[Any] | None, last_emailed: dict[int, datetime]) -> Standing:
        if contact is None:
            return Standing(known=False)
        settings = self._site_settings(site_id)
        return Standing(
            known=True,
            email=contact.email is not None,
            unsubscribed=bool(contact.email_blacklisted),
            last_emailed_at=last_emailed.get(contact.id),
            period=timedelta(seconds=settings.contact_period_seconds if settings else DEFAULT_PERIOD),
            confirmed=contact.confirmed_at is not None,
            confirmed_only=bool(settings and settings.confirmed_only),
            quiet=QuietHours.stored(settings.quiet_start, settings.quiet_end) if settings else None,
            templates=self._template_names(site_id),
            zone=zone_named(contact.time_zone) or zone_named(settings.time_zone if settings else None) or UTC,
        )

    def _email(
        self, run: Row[Any], path: str, email: Email, contact: Row[Any], cart: Row[Any] | None
    ) -> dict[str, Any]:
        """The step's email: the site's template it names (its latest version), or the built-in cart email; one
        outbox row under the run's key for the step and cycle."""
        site = self._site(run.site_id)
        link = unsubscribe_url(self.mailer.public_url, self.mailer.secret_key, site.id, contact.id, contact.link_nonce)
        key = f"run-{run.id}-{run.cycle}-{path}"
        counted = tracking(
            self.mailer.public_url, self.mailer.secret_key, key, email_hosts(site), pixel=bool(site.open_pixel)
        )
        written_from, failure = None, None
        if email.template is None:
            rendered = self._cart_email(site, run, email, contact, cart, link, counted)
        else:
            rendered, written_from, failure = self._template_email(
                site, run, email, email.template, contact, cart, link, counted
            )
        return outbox_row(
            self.mailer.sender,
            key,
            site_id=site.id,
            cart_id=cart.id if cart is not None else None,
            run_id=run.id,
            step=path,
            transactional=email.transactional,
            contact_id=contact.id,
            recipient=contact.email,
            rendered=rendered,
            unsubscribe_url=link,
            now=self.now,
            sender_address=sender_of(site, self.mailer.sender.address),
            template=written_from,
            failure=failure,
        )

    def _template_email(
        self,
        site: Site,
        run: Row[Any],
        email: Email,
        name: str,
        contact: Row[Any],
        cart: Row[Any] | None,
        link: str,
        counted: Tracking,
    ) -> tuple[RenderedEmail, tuple[str, int] | None, str | None]:
        """The email from the site's template `name`, its `params` the run's cart as it is now (the triggering
        event's data otherwise); with the template and version it was written from, and why it failed to render."""
        template = self._template(site.id, name)
        hosts = email_hosts(site)
        try:
            if template is None:  # removed since the run's step was worked out: nothing to render
                raise TemplateError(f"the site has no template named {name!r}")
            variables = email_variables(
                shop=shop_variables(site, hosts),
                email=contact.email,
                attributes=_attributes(contact),
                params=cart.snapshot if cart is not None else run.data,
                properties=run.properties or {},
                unsubscribe_url=link,
                hosts=hosts,
            )
            if email.subject:  # the step's subject, in the same language, instead of the template's
                template = replace(template, subject=email.subject)
            rendered = render_template(template, variables, hosts=hosts, unsubscribe_url=link, tracking=counted)
            return rendered, (name, template.version), None
        except (TemplateError, FinishingError) as error:
            failure = f"template {name!r}" + (f" v{template.version}" if template else "") + f": {error}"
            written_from = (name, template.version) if template else None
            return RenderedEmail(subject=email.subject or name, html="", text=""), written_from, failure

    def _cart_email(
        self,
        site: Site,
        run: Row[Any],
        email: Email,
        contact: Row[Any],
        cart: Row[Any] | None,
        link: str,
        counted: Tracking,
    ) -> RenderedEmail:
        """The built-in cart recovery email, listing what the run's cart holds now (its latest snapshot; the
        triggering event's data when the cart is gone), its links to the shop counted."""
        settings = self._site_settings(site.id)
        context = recovery_context(
            shop_name=site.name,
            subject=email.subject or (settings.subject if settings else DEFAULT_SUBJECT),
            firstname=_firstname(contact),
            cart=readable_cart(self.session, site.id, cart.snapshot if cart is not None else run.data),
            unsubscribe_url=link,
            hosts=email_hosts(site),
            locale=site.locale or DEFAULT_LOCALE,
        )
        return render("recovery", tracked_context(context, counted.link, counted.pixel_url()))

    def _confirmation_email(self, run: Row[Any], contact: Row[Any]) -> dict[str, Any]:
        """The one email asking the contact of a confirmed-only site to confirm."""
        site = self._site(run.site_id)
        secret, public = self.mailer.secret_key, self.mailer.public_url
        link = unsubscribe_url(public, secret, site.id, contact.id, contact.link_nonce)
        rendered = render(
            "confirmation",
            confirmation_context(
                shop_name=site.name,
                firstname=_firstname(contact),
                confirm_url=confirmation_url(public, secret, site.id, contact.id, contact.link_nonce),
                unsubscribe_url=link,
            ),
        )
        return outbox_row(
            self.mailer.sender,
            confirmation_key(contact.id),
            site_id=site.id,
            cart_id=None,
            contact_id=contact.id,
            recipient=contact.email,
            rendered=rendered,
            unsubscribe_url=link,
            now=self.now,
            sender_address=sender_of(site, self.mailer.sender.address),
        )

    def _read_plans(self, workflow_ids: Iterable[int]) -> None:
        for row in self.session.execute(_DEFINITIONS, {"workflow_ids": list(workflow_ids)}):
            self._plans[row.id] = _plan(row.id, row.version, row.document)

    def _template(self, site_id: int, name: str) -> Template | None:
        if (site_id, name) not in self._templates:
            self._templates[site_id, name] = current_template(self.session, site_id, name)
        return self._templates[site_id, name]

    def _template_names(self, site_id: int) -> set[str]:
        if site_id not in self._names:
            self._names[site_id] = template_names(self.session, site_id)
        return self._names[site_id]

    def _site(self, site_id: int) -> Site:
        if site_id not in self._sites:
            self._sites[site_id] = self.session.get_one(Site, site_id)
        return self._sites[site_id]

    def _site_settings(self, site_id: int) -> Workflow | None:
        """The site's email settings: its email period, confirmed-only rule and the cart email's subject."""
        if site_id not in self._settings:
            self._settings[site_id] = self.session.get(Workflow, site_id)
        return self._settings[site_id]


class _Tallies:
    """The step counts one pass adds, per workflow, step and group, written once at its end."""

    def __init__(self) -> None:
        self._counts: defaultdict[int, defaultdict[tuple[str, bool], defaultdict[str, float]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(float))
        )

    def count(self, run: Row[Any], moved: Moved, written: list[dict[str, Any]]) -> list[str]:
        """Count what the run did now: its start (first advance), each step it entered for the first time, its
        emails and withheld emails. The run's history of steps entered, with the new ones."""
        history = list(run.history or [])
        tally = self._counts[run.workflow_id]
        if not history:
            tally["", run.holdout]["entered"] += 1
        for path in moved.entered:
            if path not in history:
                history.append(path)
                tally[path, run.holdout]["entered"] += 1
        for row in written:
            tally[row["step"], run.holdout]["emailed"] += 1
        for path, _ in moved.withheld:
            tally[path, run.holdout]["withheld"] += 1
        return history

    def write(self, connection: Connection) -> None:
        for workflow_id, tallied in sorted(self._counts.items()):
            add_counts(connection, workflow_id, {key: dict(values) for key, values in tallied.items()})


# A built-in cart email withheld: the cart closes with the reason, as the dashboard shows it.
_CART_CLOSES = {
    Withheld.HOLDOUT: CloseReason.HELD_OUT,
    Withheld.NO_EMAIL: CloseReason.NO_EMAIL,
    Withheld.UNSUBSCRIBED: CloseReason.UNSUBSCRIBED,
    Withheld.UNCONFIRMED: CloseReason.UNCONFIRMED,
    Withheld.RECENTLY_EMAILED: CloseReason.RECENTLY_EMAILED,
}
_CARTS = Cart.__table__
_CARTS_OF_RUNS = select(_CARTS.c.id, _CARTS.c.owner, _CARTS.c.cart_key, _CARTS.c.snapshot, _CARTS.c.version).where(
    _CARTS.c.site_id == bindparam("site_id"),
    tuple_(_CARTS.c.owner, _CARTS.c.cart_key).in_(bindparam("keys", expanding=True)),
)
# The cart's state follows its latest email step: emailed when one was written, closed with the reason when one
# was withheld; a cart closed by the shop or the shopper (ordered, deleted, emptied) stays so.
_SETTLEABLE = or_(_CARTS.c.state == CartState.OPEN, _CARTS.c.closed_reason.in_(list(_CART_CLOSES.values())))


class _Carts:
    """The carts the pass's runs per cart follow, read at once; their new states, written at once."""

    def __init__(self, session: Session, runs: list[Row[Any]]) -> None:
        self.session = session
        self._carts: dict[tuple[int, str, str], Row[Any]] = {}
        by_site: defaultdict[int, list[tuple[str, str]]] = defaultdict(list)
        for run in runs:
            by_site[run.site_id].append((run.owner, run.key))
        for site_id, keys in by_site.items():
            rows: list[Row[Any]] = list(session.execute(_CARTS_OF_RUNS, {"site_id": site_id, "keys": keys}))
            for row in rows:
                self._carts[site_id, row.owner, row.cart_key] = row
        self._emailed: list[int] = []
        self._closed: defaultdict[CloseReason, list[int]] = defaultdict(list)

    def of(self, run: Row[Any]) -> Row[Any] | None:
        return self._carts.get((run.site_id, run.owner, run.key))

    def settle(self, cart: Row[Any] | None, moved: Moved, emailed: bool) -> None:
        """Record what the run's built-in cart email steps did to its cart."""
        if cart is None:
            return
        if emailed:
            self._emailed.append(cart.id)
        elif moved.withheld and moved.withheld[-1][1] in _CART_CLOSES:
            self._closed[_CART_CLOSES[moved.withheld[-1][1]]].append(cart.id)

    def write(self, now: datetime) -> None:
        connection = self.session.connection()
        if self._emailed:
            connection.execute(
                update(_CARTS)
                .where(_CARTS.c.id.in_(self._emailed), _SETTLEABLE)
                .values(
                    state=CartState.EMAILED,
                    emailed_at=now,
                    closed_reason=None,
                    due_at=None,
                    version=_CARTS.c.version + 1,
                )
            )
        for reason, cart_ids in self._closed.items():
            connection.execute(
                update(_CARTS).where(_CARTS.c.id.in_(cart_ids), _SETTLEABLE).values(**closed(reason, _CARTS.c.version))
            )


def _attributes(contact: Row[Any] | None) -> dict[str, Any]:
    return dict(contact.attributes or {}) if contact is not None else {}


def _firstname(contact: Row[Any]) -> str | None:
    firstname = (contact.attributes or {}).get("FIRSTNAME")
    return str(firstname) if firstname else None
