"""`POST /collect`: the tracker's batches, validated whole and handed to ingest."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from .. import db
from ..api.schemas import Batch, Message, parse
from ..errors import ApiError
from ..models import utcnow
from ..sites import accepts_origin, client_keys
from . import refused_counters, sizes
from .bots import is_bot
from .identification_budget import admit_identifications
from .input_checks import load_json
from .ip_addresses import stored_ip
from .pipeline import IncomingEvent, client_time, event_time, identified_emails, ingest, without_identification

bp = Blueprint("collect", __name__)

# A message re-encoded as compact ASCII JSON is at most 6 times its bytes in the body ("é" → "\u00e9"),
# so a body this small holds no message over the limit and needs no measuring.
_SURELY_UNDER_MESSAGE_LIMIT = sizes.MESSAGE_BYTES // 6


@bp.after_request
def _cors(response: Response) -> Response:
    """Every answer is readable by the page, so the tracker can tell a 4xx from a network error."""
    origin = request.headers.get("Origin")
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"
        response.headers["Access-Control-Max-Age"] = "86400"
        response.vary.add("Origin")
    return response


@bp.route("/collect", methods=["OPTIONS"])
def preflight() -> Response:
    return Response(status=204)


@bp.post("/collect")
def collect() -> Response:
    raw = _read_batch()
    session = db.session()
    site = client_keys.site(session, str(raw.get("key", "")))
    if site is None:
        raise ApiError(401, "key: unknown or missing client key")
    if not accepts_origin(site, request.headers.get("Origin")):
        refused_counters.count(session, site.id, refused_counters.ORIGIN)
        raise ApiError(403, "Origin: this site does not accept traffic from this origin")
    batch = parse(Batch, raw)
    if is_bot(request.user_agent.string):
        refused_counters.count(session, site.id, refused_counters.BOT, len(batch.messages))
        return jsonify(stored=0, duplicates=0, filtered=len(batch.messages))
    events = _incoming_events(batch, stored_ip(request.remote_addr, current_app.config["STORE_IP"]))
    refusal = admit_identifications(site, identified_emails(events), request.remote_addr or "")
    if refusal is not None:  # a limit refuses the identification only: the page views and events are kept
        events = without_identification(events)
    result = ingest(session, site, events)
    if refusal is not None:
        return jsonify(stored=result.stored, duplicates=result.duplicates, identification_refused=refusal.message)
    return jsonify(stored=result.stored, duplicates=result.duplicates)


def _read_batch() -> dict[str, Any]:
    """The body as a JSON object within the size limits (413 names the limit crossed)."""
    request.max_content_length = sizes.BATCH_BYTES
    try:
        body = request.get_data()
    except RequestEntityTooLarge:
        raise ApiError(413, f"body: over {sizes.BATCH_BYTES} bytes, the limit for one batch") from None
    raw = load_json(body)
    if not isinstance(raw, dict):
        raise ApiError(400, "body: expected a JSON object")
    messages = raw.get("messages")
    if isinstance(messages, list):
        if len(messages) > sizes.BATCH_MESSAGES:
            raise ApiError(413, f"messages: {len(messages)} in one batch; the limit is {sizes.BATCH_MESSAGES}")
        for index, message in enumerate(messages if len(body) > _SURELY_UNDER_MESSAGE_LIMIT else []):
            size = len(json.dumps(message, separators=(",", ":")).encode())
            if size > sizes.MESSAGE_BYTES:
                raise ApiError(413, f"messages[{index}]: {size} bytes; the limit is {sizes.MESSAGE_BYTES}")
    return raw


def _incoming_events(batch: Batch, ip: str | None) -> list[IncomingEvent]:
    now = utcnow()
    return [
        IncomingEvent(
            message_id=message.id,
            kind=message.type,
            name=(message.name or _default_name(message)).strip(),
            occurred_at=event_time(message.ts, now),
            sent_at=client_time(message.ts, now),
            url=message.url,
            cuid=batch.cuid,
            email=message.email,
            time_zone=message.tz,
            properties=message.properties,
            eventdata=message.eventdata.model_dump(exclude_unset=True) if message.eventdata else None,
            attributes=message.properties if message.type == "identify" else {},
            ip=ip,
        )
        for message in batch.messages
    ]


def _default_name(message: Message) -> str:
    """A page's title or path; an identification is named `identify`."""
    if message.type != "page":
        return message.type
    title = message.properties.get("ma_title") or message.properties.get("ma_path")
    return str(title or message.url or message.type)[: sizes.NAME_CHARS]
