"""POST /webhooks/bounces: a relay's bounce and complaint events (Postmark, Mailgun, SendGrid, Amazon SES or SNS
JSON) or a raw DSN or ARF message, for the site whose secret api key authenticates the call (the `api-key` header,
or the password of HTTP basic auth for relays that can only put credentials in the URL)."""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, jsonify, request

from .. import db
from ..api.keys import site_from_api_key_or_password
from ..errors import ApiError
from ..mail.bounce_address import BounceAddresses
from .apply import Outcome, apply_report
from .dsn import read_report
from .relays import read_relay
from .reports import Report, ReportError

bp = Blueprint("bounce_webhook", __name__)

_JSON_TYPES = ("application/json", "text/plain")  # SNS posts its JSON as text/plain
_MESSAGE_TYPES = ("message/rfc822", "multipart/report")


@bp.post("/webhooks/bounces")
def receive() -> Response:
    """Apply each report in the body; answer how many were applied, already applied before, or named nothing known.
    Events that are no bounce or complaint (a relay's delivered or opened) are accepted and change nothing."""
    site = site_from_api_key_or_password()
    reports = _reports()
    addresses = BounceAddresses.of(current_app.config)
    counts = dict.fromkeys((str(outcome) for outcome in Outcome), 0)
    session = db.session()
    for report in reports:
        counts[apply_report(session, report, addresses, site)] += 1
    return jsonify(counts)


def _reports() -> list[Report]:
    kind = request.mimetype
    body = request.get_data()
    if not body:
        raise ApiError(400, "body: empty; expected a relay's JSON or a bounce message")
    if kind in _MESSAGE_TYPES:
        raw = body if kind == "message/rfc822" else _with_content_type(body)
        found = read_report(raw)
        if found is None:
            raise ApiError(400, "body: not a delivery status notification (RFC 3464) or an abuse report (RFC 5965)")
        return found
    if kind not in _JSON_TYPES:
        raise ApiError(415, f"content-type: {kind or 'none'}; use application/json, message/rfc822 or multipart/report")
    try:
        parsed = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ApiError(400, f"body: not JSON ({error})") from None
    try:
        return read_relay(parsed)
    except ReportError as error:
        raise ApiError(400, f"body: {error}") from None


def _with_content_type(body: bytes) -> bytes:
    """A multipart/report posted as the body alone: its Content-Type header, which carries the boundary, put back."""
    header = request.headers.get("Content-Type", "")
    return f"Content-Type: {header}\r\nMIME-Version: 1.0\r\n\r\n".encode() + body
