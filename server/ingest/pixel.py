"""Brevo's older tracker pixel, `GET /p?key=…&sib_type=…`, as Brevo's WordPress plugin still calls it from the
shop's server when a customer signs in."""

from __future__ import annotations

from enum import StrEnum

from flask import Blueprint, jsonify
from flask import request as current_request
from pydantic import BaseModel, ConfigDict, Field
from werkzeug.wrappers import Response

from .. import db
from ..api.schemas import Email, Name, Properties, parse
from ..errors import ApiError
from ..sites import client_keys
from . import sizes
from .rest_v2 import store_server_event

bp = Blueprint("pixel", __name__)

# Query parameters that say what the call is; the others are the event's properties.
_RESERVED = frozenset({"key", "sib_type", "sib_name", "email_id", "url", "session_id", "referrer", "pathname"})


class PixelType(StrEnum):
    IDENTIFY = "identify"
    TRACK = "track"
    PAGE = "page"
    TRACK_LINK = "trackLink"


class PixelQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str = Field(min_length=1, max_length=64)
    sib_type: PixelType
    email_id: Email
    sib_name: Name | None = None
    url: str | None = Field(default=None, max_length=sizes.URL_CHARS)


class PixelProperties(BaseModel):
    """The other query parameters, held to the rules of any event's properties."""

    properties: Properties


@bp.get("/p")
def pixel() -> Response:
    """One identify, event, page view or link click; 200 with the email identified, which the plugin reads."""
    args = current_request.args
    if len(args) > sizes.PROPERTY_KEYS:
        raise ApiError(400, f"query: at most {sizes.PROPERTY_KEYS} parameters")
    query = parse(PixelQuery, {name: args.get(name) for name in args})
    site = client_keys.site(db.session(), query.key)
    if site is None:
        raise ApiError(401, "Key not found")
    properties = parse(PixelProperties, {"properties": {n: args.get(n) for n in args if n not in _RESERVED}}).properties
    name = query.sib_name or (query.url or "") or query.sib_type.value
    match query.sib_type:
        case PixelType.IDENTIFY:
            store_server_event(site, False, "identify", "identify", query.email_id, properties, attributes=properties)
        case PixelType.TRACK:
            if query.sib_name is None:
                raise ApiError(400, "sib_name: the event's name is required with sib_type=track")
            store_server_event(site, False, "track", query.sib_name, query.email_id, properties)
        case PixelType.PAGE:
            store_server_event(site, False, "page", name[: sizes.NAME_CHARS], query.email_id, properties, url=query.url)
        case PixelType.TRACK_LINK:
            link = query.url or query.sib_name or ""
            if not link:
                raise ApiError(400, "url: the link is required with sib_type=trackLink")
            store_server_event(site, False, "link", link[: sizes.NAME_CHARS], query.email_id, properties, url=link)
    return jsonify({"email_id": query.email_id})
