"""Clicks and opens of automation emails, as events on the contact's timeline: `GET /r/{token}` records the click
and redirects to the link's target at once, `GET /o/{token}.gif` records the open and answers a 1x1 GIF.

Mail security scanners follow every link of an email, so a click is a person's (`email_clicked`) only when it is
none of: a HEAD request, a user agent of a known bot or scanner, a click within a second of delivery. The others
are `email_link_scanned`, another name, so that no workflow triggered by a click and no count of clicks ever takes
a scanner for a person. Each event enters through `ingest()` like any other.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from flask import Blueprint, current_app, make_response, redirect, render_template, request
from sqlalchemy import Row, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from .. import db
from ..mail.tracked_links import Click, read_click, read_open
from ..models import OutboxEmail, Run, Site, WorkflowDefinition, utcnow
from .bots import is_mail_scanner
from .pipeline import IncomingEvent, ingest

bp = Blueprint("email_engagement", __name__)
log = logging.getLogger(__name__)

SCANNER_DELAY = timedelta(seconds=1)  # a click this soon after delivery is a machine's: no one reads that fast
# Clicks of the same link of the same email within one window are one event (a double click, a reload); a person
# coming back later clicks again. Reports count distinct contacts, so a double click straddling two windows changes
# no figure, only the timeline.
CLICK_WINDOW = timedelta(minutes=1)
OPEN_WINDOW = timedelta(hours=1)  # mail clients fetch images again on each display: one open per hour at most
# The smallest transparent GIF: 1x1, one colour.
PIXEL_GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")
_NO_TRACE = {"Cache-Control": "no-store, private", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


class Engagement(StrEnum):
    """The names of the events recorded."""

    CLICKED = "email_clicked"
    SCANNED = "email_link_scanned"
    OPENED = "email_opened"


class Scanner(StrEnum):
    """Why a click was a scanner's, as its `scanner` property says."""

    HEAD = "head"
    USER_AGENT = "user_agent"
    TOO_SOON = "too_soon"


def scanner(method: str, user_agent: str | None, sent_at: datetime | None, now: datetime) -> Scanner | None:
    """Why this request following a link is a scanner's, or None for a person's. A click before delivery was
    recorded counts as too soon (the web and the worker share one clock, kept by NTP)."""
    if method == "HEAD":
        return Scanner.HEAD
    if is_mail_scanner(user_agent):
        return Scanner.USER_AGENT
    if sent_at is not None and now < sent_at + SCANNER_DELAY:
        return Scanner.TOO_SOON
    return None


_EMAIL = (
    select(
        OutboxEmail.id,
        OutboxEmail.site_id,
        OutboxEmail.contact_id,
        OutboxEmail.step,
        OutboxEmail.sent_at,
        Run.workflow_id,
        WorkflowDefinition.name.label("workflow"),
    )
    .outerjoin(Run, Run.id == OutboxEmail.run_id)
    .outerjoin(WorkflowDefinition, WorkflowDefinition.id == Run.workflow_id)
)


def _email(session: Session, key: str) -> Row[Any] | None:
    """The email by its outbox key, with its workflow; None once it (or its contact) was deleted."""
    rows: list[Row[Any]] = list(session.execute(_EMAIL.where(OutboxEmail.dedupe_key == key)))
    return rows[0] if rows and rows[0].contact_id is not None else None


@bp.get("/r/<token>")
def click(token: str) -> Response:
    """Record the click (a person's, or a scanner's apart) and redirect to the link's target at once; a forged or
    truncated link is a 404 page. A deleted email or contact still redirects, recording nothing."""
    followed = read_click(current_app.config["SECRET_KEY"], token)
    if followed is None:
        page = make_response(render_template("links/click.html", state="invalid"), 404)
        page.headers.update(_NO_TRACE)
        return page
    _record(lambda session, now: _click_event(session, followed, now))
    onwards = redirect(followed.target, 302)
    onwards.headers.update(_NO_TRACE)
    return onwards


@bp.get("/o/<token>.gif")
def pixel(token: str) -> Response:
    """Record the open (not for a HEAD, which reads no image) and answer the pixel, never cached."""
    key = read_open(current_app.config["SECRET_KEY"], token)
    if key is None:
        response = make_response("", 404)
    else:
        if request.method != "HEAD":
            _record(lambda session, now: _open_event(session, key, now))
        response = make_response(PIXEL_GIF, 200)
        response.mimetype = "image/gif"
    response.headers.update(_NO_TRACE)
    return response


# What a request records: the event for its site, and what the same transaction writes beside it; None for nothing.
_Also = Callable[[Session], None]
_Made = tuple[Site, IncomingEvent, _Also | None] | None


def _record(make: Callable[[Session, datetime], _Made]) -> None:
    """Store the event `make(session, now)` gives (none when its email is gone), with the email's own mark in the
    same transaction. A database that fails here is logged, not answered: the person reaches the shop anyway."""
    session = db.session()
    now = utcnow()
    try:
        made: _Made = make(session, now)
        if made is not None:
            site, event, also = made
            ingest(session, site, [event], also=also, now=now)
    except SQLAlchemyError:
        session.rollback()
        log.warning("email engagement not recorded: the database failed", exc_info=True)


def _click_event(session: Session, followed: Click, now: datetime) -> _Made:
    email = _email(session, followed.email_key)
    if email is None:
        return None
    reason = scanner(request.method, request.headers.get("User-Agent"), email.sent_at, now)
    name = Engagement.SCANNED if reason else Engagement.CLICKED
    properties = {**_about(email), "link": followed.target}
    if reason is not None:
        properties["scanner"] = reason.value
    window = _window(now, CLICK_WINDOW)
    event = _event(email, name, _message_id(name, email.id, followed.target, reason or "", window), properties, now)
    also = None if reason else _first(email.id, OutboxEmail.clicked_at, now)
    return session.get_one(Site, email.site_id), event, also


def _open_event(session: Session, key: str, now: datetime) -> _Made:
    email = _email(session, key)
    if email is None:
        return None
    name = Engagement.OPENED
    event = _event(email, name, _message_id(name, email.id, _window(now, OPEN_WINDOW)), _about(email), now)
    return session.get_one(Site, email.site_id), event, _first(email.id, OutboxEmail.opened_at, now)


def _about(email: Row[Any]) -> dict[str, Any]:
    """The properties saying which email: its workflow (id and name, for an email of a workflow's run), step, id."""
    return {"workflow_id": email.workflow_id, "workflow": email.workflow, "step": email.step, "email_id": email.id}


def _event(email: Row[Any], name: str, message_id: str, properties: dict[str, Any], now: datetime) -> IncomingEvent:
    """The event for the email's contact (the signed link names it), under an id derived from the email and the time
    window, so that a repeat within the window is stored once. Not vouched for: following a link is a GET, often a
    scanner's, and changes no flag of the contact (a vouched event would confirm it)."""
    return IncomingEvent(
        message_id=message_id,
        kind="track",
        name=name,
        occurred_at=now,
        contact_id=email.contact_id,
        properties=properties,
    )


def _message_id(name: str, *parts: object) -> str:
    """The event's id: its name, and a digest of what makes it one (the email, the link, the window)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]
    return f"{name}:{digest}"


def _window(now: datetime, window: timedelta) -> int:
    return int(now.timestamp() // window.total_seconds())


def _first(email_id: int, column: Any, now: datetime) -> _Also:
    """Writes `now` as the email's first open or click, unless one was recorded before."""

    def mark(session: Session) -> None:
        session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id == email_id, column.is_(None))
            .values({column: now})
            .execution_options(synchronize_session=False)
        )

    return mark
