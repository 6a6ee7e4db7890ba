"""Brevo's v3 API subset (`api-key`), answering in Brevo's shapes so its SDKs work."""
from __future__ import annotations

from datetime import datetime, time, timezone
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import db
from .auth import site_from_api_key
from .contacts import normalise_email
from .errors import ApiError
from .models import Contact, Event, Site
from .sites import tracking_status

bp = Blueprint("v3", __name__, url_prefix="/v3")

MAX_EVENTS_PAGE = 10000


def brevo_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def contact_json(contact: Contact) -> dict[str, Any]:
    return {
        "email": contact.email,
        "id": contact.id,
        "emailBlacklisted": False,
        "smsBlacklisted": False,
        "createdAt": brevo_time(contact.created_at),
        "modifiedAt": brevo_time(contact.modified_at),
        "attributes": contact.attributes or {},
        "listIds": [],
        "statistics": {},
    }


def find_contact(session: Session, site: Site, identifier: str, kind: str | None) -> Contact | None:
    """A contact by email or id; `identifierType` (email_id, contact_id) settles ambiguity."""
    kind = kind or ("contact_id" if identifier.isdigit() else "email_id")
    if kind == "contact_id":
        if not identifier.isdigit():
            raise ApiError(400, "identifier: a contact_id must be a number")
        contact = session.get(Contact, int(identifier))
        return contact if contact is not None and contact.site_id == site.id else None
    if kind == "email_id":
        email = normalise_email(identifier)
        if email is None:
            raise ApiError(400, "identifier: not a valid email address")
        return session.scalar(select(Contact).where(Contact.site_id == site.id, Contact.email == email))
    raise ApiError(400, f"identifierType: unsupported value {kind!r} (use email_id or contact_id)")


@bp.get("/contacts/<path:identifier>")
def get_contact(identifier: str) -> Response:
    site = site_from_api_key()
    contact = find_contact(db.session(), site, identifier, request.args.get("identifierType"))
    if contact is None:
        raise ApiError(404, "Contact does not exist")
    return jsonify(contact_json(contact))


def event_json(event: Event) -> dict[str, Any]:
    body: dict[str, Any] = {
        "contact_id": event.contact_id,
        "event_date": brevo_time(event.occurred_at),
        "event_name": event.name,
        "event_properties": event.properties or {},
    }
    if event.eventdata is not None:
        body["eventdata"] = event.eventdata
    return body


@bp.get("/events")
def get_events() -> Response:
    site = site_from_api_key()
    limit = _int_arg("limit", 100, 1, MAX_EVENTS_PAGE)
    offset = _int_arg("offset", 0, 0, None)
    query = select(Event).where(Event.site_id == site.id, Event.kind == "track")
    contact_ids = request.args.getlist("contact_id")
    if contact_ids:
        if not all(value.isdigit() for value in contact_ids):
            raise ApiError(400, "contact_id: must be numbers")
        query = query.where(Event.contact_id.in_([int(value) for value in contact_ids]))
    names = request.args.getlist("event_name")
    if names:
        query = query.where(Event.name.in_(names))
    start, end = _date_range()
    if start is not None:
        query = query.where(Event.occurred_at >= start, Event.occurred_at <= end)
    session = db.session()
    count = session.scalar(select(func.count()).select_from(query.subquery()))
    page = session.scalars(query.order_by(Event.occurred_at.desc(), Event.id.desc()).limit(limit).offset(offset))
    return jsonify(events=[event_json(event) for event in page], count=count)


@bp.get("/tracking/status")
def get_tracking_status() -> Response:
    """Sibyl's own addition: whether the site's tracking code has sent traffic lately."""
    return jsonify(tracking_status(site_from_api_key()))


def _int_arg(name: str, default: int, low: int, high: int | None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < low or (high is not None and int(raw) > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ApiError(400, f"{name}: must be a whole number {bound}")
    return int(raw)


def _date_range() -> tuple[datetime | None, datetime | None]:
    start_text, end_text = request.args.get("startDate"), request.args.get("endDate")
    if start_text is None and end_text is None:
        return None, None
    if start_text is None or end_text is None:
        raise ApiError(400, "startDate and endDate: give both or neither")
    start, end = _parse_date("startDate", start_text, time.min), _parse_date("endDate", end_text, time.max)
    if start > end:
        raise ApiError(400, "startDate: must not be after endDate")
    return start, end


def _parse_date(name: str, text: str, day_edge: time) -> datetime:
    try:
        if len(text) == 10:
            return datetime.combine(datetime.strptime(text, "%Y-%m-%d").date(), day_edge, timezone.utc)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{name}: use YYYY-MM-DD or RFC 3339") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
