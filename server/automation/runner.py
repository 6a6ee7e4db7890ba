"""The run worker: claims due runs, advances each through the steps due now, and writes their emails to the outbox
under one key per run, step and cycle, in the same transaction that moves the runs."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Row, bindparam, or_, select, tuple_, update
from sqlalchemy.orm import Session

from ..commerce.cart_items import readable_cart
from ..mail.outbox import Sender, last_emailed_at, outbox_row, queue
from ..mail.recovery import recovery_context
from ..mail.render import render
from ..mail.unsubscribe import unsubscribe_url
from ..models import Contact, Run, Site, Workflow, WorkflowDefinition
from ..sites import email_hosts
from .claims import lease
from .definitions import Email, parse_workflow
from .matching import Facts
from .plans import Plan
from .runs import add_counts
from .states import RunState
from .steps import Moved, Standing, advance

_RUNS = Run.__table__
_TAKE_COLUMNS = (
    _RUNS.c.id,
    _RUNS.c.site_id,
    _RUNS.c.workflow_id,
    _RUNS.c.contact_id,
    _RUNS.c.holdout,
    _RUNS.c.step,
    _RUNS.c.cursor,
    _RUNS.c.cycle,
    _RUNS.c.data,
    _RUNS.c.properties,
    _RUNS.c.history,
)
_CONTACTS = select(Contact.id, Contact.email, Contact.email_blacklisted, Contact.attributes, Contact.link_nonce).where(
    Contact.id.in_(bindparam("contact_ids", expanding=True))
)
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
    """Lease the due runs of enabled workflows that no one holds: (id, version, due time) of each. Reads due rows
    only, through the due-time index."""
    free = or_(Run.lease_until.is_(None), Run.lease_until < now)
    enabled = select(WorkflowDefinition.id).where(
        WorkflowDefinition.id == Run.workflow_id, WorkflowDefinition.enabled.is_(True)
    )
    ready = select(Run.id).where(Run.due_at <= now, free, enabled.exists()).order_by(Run.due_at)
    rows = lease(session, Run, ready, now + lease_for, Run.id, Run.version, Run.due_at)
    return [(row.id, row.version, row.due_at) for row in rows]


def take_unchanged(session: Session, claimed: list[tuple[int, int, datetime]], now: datetime) -> list[Row[Any]]:
    """Of the claimed runs, take those still waiting, due and unchanged (no longer due nor leased, held by this
    transaction until it saves them). A run an event moved since the claim has another version: the event wins."""
    if not claimed:
        return []
    return list(
        session.execute(
            update(Run)
            .where(
                tuple_(Run.id, Run.version).in_([(run_id, version) for run_id, version, _ in claimed]),
                Run.state == RunState.WAITING,
                Run.due_at <= now,
            )
            .values(due_at=None, lease_until=None)
            .returning(*_TAKE_COLUMNS)
            .execution_options(synchronize_session=False)
        ).all()
    )


@dataclass(frozen=True)
class Mailer:
    """What writing a run's email needs beyond the run: the sender, the public URL and the signing secret."""

    sender: Sender
    public_url: str
    secret_key: str


class RunPass:
    """One pass over the due runs: read what they need once, advance each, write runs, emails and counts."""

    def __init__(self, session: Session, mailer: Mailer, now: datetime) -> None:
        self.session = session
        self.mailer = mailer
        self.now = now
        self._plans: dict[int, Plan] = {}
        self._sites: dict[int, Site] = {}
        self._periods: dict[int, timedelta] = {}

    def handle(self, claimed: list[tuple[int, int, datetime]]) -> int:
        """Advance the claimed runs still unchanged; the number of emails written."""
        due_at = {run_id: due for run_id, _, due in claimed}
        taken = take_unchanged(self.session, claimed, self.now)
        if not taken:
            return 0
        self._read_plans({run.workflow_id for run in taken})
        contacts = {
            row.id: row
            for row in self.session.execute(
                _CONTACTS, {"contact_ids": list({run.contact_id for run in taken if run.contact_id is not None})}
            )
        }
        last_emailed = last_emailed_at(self.session, list(contacts))
        saves: list[dict[str, Any]] = []
        emails: list[dict[str, Any]] = []
        counts: defaultdict[int, defaultdict[tuple[str, bool], defaultdict[str, float]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(float))
        )
        for run in taken:
            plan = self._plans[run.workflow_id]
            contact = contacts.get(run.contact_id) if run.contact_id is not None else None
            moved = advance(
                plan,
                run.cursor,
                run.step,
                due_at[run.id],
                self.now,
                Facts(
                    data=run.data,
                    properties=run.properties or {},
                    attributes=contact.attributes or {} if contact else {},
                ),
                run.holdout,
                self._standing(run.site_id, contact, last_emailed),
            )
            written = self._emails(run, contact, moved)
            if written and contact is not None:
                last_emailed[contact.id] = self.now
            emails += written
            history = list(run.history or [])
            tally = counts[run.workflow_id]
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
            saves.append(self._save(run, moved, history))
        self.session.connection().execute(_SAVE, saves)
        queue(self.session, emails)
        for workflow_id, tallied in sorted(counts.items()):
            add_counts(self.session.connection(), workflow_id, {key: dict(values) for key, values in tallied.items()})
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
        return Standing(
            known=True,
            email=contact.email is not None,
            unsubscribed=bool(contact.email_blacklisted),
            last_emailed_at=last_emailed.get(contact.id),
            period=self._period(site_id),
        )

    def _emails(self, run: Row[Any], contact: Row[Any] | None, moved: Moved) -> list[dict[str, Any]]:
        """The outbox rows of the email steps the run passed now (only a run with a contact gets that far)."""
        if contact is None:
            return []
        return [self._cart_email(run, path, email, contact) for path, email in moved.emails]

    def _cart_email(self, run: Row[Any], path: str, email: Email, contact: Row[Any]) -> dict[str, Any]:
        """The built-in cart recovery email, for the cart the run follows (its trigger's latest snapshot)."""
        site = self._site(run.site_id)
        link = unsubscribe_url(self.mailer.public_url, self.mailer.secret_key, site.id, contact.id, contact.link_nonce)
        firstname = (contact.attributes or {}).get("FIRSTNAME")
        rendered = render(
            "recovery",
            recovery_context(
                shop_name=site.name,
                subject=email.subject or self._subject(site.id),
                firstname=str(firstname) if firstname else None,
                cart=readable_cart(self.session, site.id, run.data),
                unsubscribe_url=link,
                hosts=email_hosts(site),
            ),
        )
        return outbox_row(
            self.mailer.sender,
            f"run-{run.id}-{run.cycle}-{path}",
            site_id=site.id,
            cart_id=None,
            run_id=run.id,
            step=path,
            transactional=email.transactional,
            contact_id=contact.id,
            recipient=contact.email,
            rendered=rendered,
            unsubscribe_url=link,
            now=self.now,
        )

    def _read_plans(self, workflow_ids: Iterable[int]) -> None:
        for row in self.session.execute(_DEFINITIONS, {"workflow_ids": list(workflow_ids)}):
            self._plans[row.id] = _plan(row.id, row.version, row.document)

    def _site(self, site_id: int) -> Site:
        if site_id not in self._sites:
            self._sites[site_id] = self.session.get_one(Site, site_id)
        return self._sites[site_id]

    def _period(self, site_id: int) -> timedelta:
        """The site's email period: at most one email per contact in it, across all its workflows."""
        if site_id not in self._periods:
            settings = self.session.get(Workflow, site_id)
            self._periods[site_id] = timedelta(seconds=settings.contact_period_seconds if settings else 86400.0)
        return self._periods[site_id]

    def _subject(self, site_id: int) -> str:
        settings = self.session.get(Workflow, site_id)
        return settings.subject if settings else "You left something in your cart"
