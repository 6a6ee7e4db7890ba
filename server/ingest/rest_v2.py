"""Brevo's tracker REST API (`/api/v2/*`): server-side identify and tracking.

Brevo's header is `ma-key`, the public client key, so these calls count against the same limits on
identifications as the browser's; a call with the secret `api-key` instead, or from one of the site's own
servers, vouches for its contact and is not counted.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, request

from .. import db
from ..api.keys import site_from_tracker_keys
from ..api.schemas import V2Identify, V2TrackEvent, V2TrackLink, V2TrackPage, parse_body
from ..errors import ApiError
from ..models import Site, utcnow
from . import sizes
from .identification_budget import admit_identifications
from .pipeline import IncomingEvent, identified_emails, ingest
from .trusted_servers import is_trusted_server

bp = Blueprint("rest_v2", __name__, url_prefix="/api/v2")


def _store(kind: str, name: str, email: str, properties: dict[str, Any], **extra: object) -> Response:
    """One event through the common ingest path; 204 as Brevo answers."""
    site, vouched = site_from_tracker_keys()
    store_server_event(site, vouched, kind, name, email, properties, **extra)
    return Response(status=204)


def store_server_event(
    site: Site, vouched: bool, kind: str, name: str, email: str, properties: dict[str, Any], **extra: object
) -> None:
    """An event a shop's server sent with one of the site's keys, through the common ingest path.

    Unless the secret key or one of the site's servers vouches for it, its identification counts against the
    limits on the public key, and a refusal (429) says how a shop's server avoids them.
    """
    address = request.remote_addr or ""
    vouched = vouched or is_trusted_server(site, address)
    event = IncomingEvent(
        message_id=uuid.uuid4().hex,
        kind=kind,
        name=name,
        occurred_at=utcnow(),
        email=email,
        properties=properties,
        vouched=vouched,
        **extra,  # type: ignore[arg-type]  # the caller's door-specific IncomingEvent fields
    )
    if not vouched:
        refusal = admit_identifications(site, identified_emails([event]), address)
        if refusal is not None:
            raise ApiError(
                429,
                f"{refusal.message}; if {address} is the shop's server, name it as one of the site's servers "
                f"(`flask --app server sites set SITE --servers {address}`, or the site's page in the dashboard) "
                "or send the secret key as `api-key`: neither is counted by these limits",
                retry_after=refusal.retry_after,
            )
    ingest(db.session(), site, [event])


@bp.post("/identify")
def identify() -> Response:
    body = parse_body(V2Identify)
    return _store("identify", "identify", body.email, body.attributes, attributes=body.attributes, time_zone=body.tz)


@bp.post("/trackEvent")
def track_event() -> Response:
    body = parse_body(V2TrackEvent)
    eventdata = body.eventdata.model_dump(exclude_unset=True) if body.eventdata else None
    return _store("track", body.event, body.email, body.properties, eventdata=eventdata)


@bp.post("/trackLink")
def track_link() -> Response:
    body = parse_body(V2TrackLink)
    return _store("link", body.link[: sizes.NAME_CHARS], body.email, body.properties, url=body.link)


@bp.post("/trackPage")
def track_page() -> Response:
    body = parse_body(V2TrackPage)
    return _store("page", body.page, body.email, body.properties)
