"""v3's events: store them through the common ingest path, list them, and the site's tracking status."""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import Response, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ... import db
from ...contacts.identity import contact_by_id
from ...errors import ApiError
from ...ingest import sizes
from ...ingest.pipeline import IncomingEvent, client_time, event_time, ingest
from ...models import Event, Site, utcnow
from ...sites import tracking_status
from ..keys import site_from_api_key
from ..schemas import MAX_ID, V3Event, V3EventBatch, is_number, parse, parse_body
from .blueprint import bp
from .formats import brevo_time, date_range, int_arg

MAX_EVENTS_PAGE = 10000


@bp.post("/events")
def create_event() -> Response:
    """One custom event through the common ingest path; 204 as Brevo answers."""
    site = site_from_api_key()
    session = db.session()
    ingest(session, site, [_incoming(session, site, parse_body(V3Event))])
    return Response(status=204)


@bp.post("/events/batch")
def create_events_batch() -> tuple[Response, int]:
    """Each valid event stored: 202 when all were, 207 when some were, 400 when none."""
    site = site_from_api_key()
    batch = parse_body(V3EventBatch)
    session = db.session()
    accepted: list[IncomingEvent] = []
    errors: list[dict[str, Any]] = []
    for index, raw in enumerate(batch.events):
        try:
            accepted.append(_incoming(session, site, parse(V3Event, raw)))
        except ApiError as error:
            errors.append({"eventIndex": [index], "message": error.message})
    if accepted:
        ingest(session, site, accepted)
    summary = {
        "message": f"{len(accepted)} of {len(batch.events)} events accepted",
        "count": len(accepted),
        "status": "accepted" if not errors else ("partial" if accepted else "failed"),
        "total_events": len(batch.events),
        "successful_events": len(accepted),
        "failed_events": len(errors),
        "errors": errors,
    }
    status = 202 if not errors else (207 if accepted else 400)
    return jsonify(summary), status


def _incoming(session: Session, site: Site, event: V3Event) -> IncomingEvent:
    """A v3 event in the common shape; `event_properties` with `id`/`data` also act as Brevo's eventdata."""
    properties = event.event_properties or {}
    size = len(json.dumps(properties, separators=(",", ":")).encode())
    if size > sizes.V3_EVENT_PROPERTIES_BYTES:
        raise ApiError(413, f"event_properties: {size} bytes; the limit is {sizes.V3_EVENT_PROPERTIES_BYTES}")
    ids = event.identifiers
    if ids.contact_id is not None and contact_by_id(session, site.id, ids.contact_id) is None:
        raise ApiError(404, "identifiers.contact_id: Contact does not exist")
    eventdata: dict[str, Any] | None = None
    if "id" in properties or "data" in properties:
        eventdata = {key: properties[key] for key in ("id", "data") if key in properties}
    sent_ms, now = int(event.event_date.timestamp() * 1000) if event.event_date else None, utcnow()
    return IncomingEvent(
        message_id=uuid.uuid4().hex,
        kind="track",
        name=event.event_name,
        occurred_at=event_time(sent_ms, now),
        sent_at=client_time(sent_ms, now),
        email=ids.email_id,
        ext_id=ids.ext_id,
        contact_id=ids.contact_id,
        properties=properties,
        eventdata=eventdata,
        attributes=event.contact_properties or {},
        vouched=True,
    )


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
    limit = int_arg("limit", 100, 1, MAX_EVENTS_PAGE)
    offset = int_arg("offset", 0, 0, None)
    query = select(Event).where(Event.site_id == site.id, Event.kind == "track")
    contact_ids = request.args.getlist("contact_id")
    if contact_ids:
        if not all(is_number(value) and int(value) <= MAX_ID for value in contact_ids):
            raise ApiError(400, f"contact_id: must be whole numbers up to {MAX_ID}")
        query = query.where(Event.contact_id.in_([int(value) for value in contact_ids]))
    names = request.args.getlist("event_name")
    if names:
        query = query.where(Event.name.in_(names))
    start, end = date_range()
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
