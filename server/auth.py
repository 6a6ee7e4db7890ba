"""Key checks: the secret `api-key` header for the v3 API."""
from __future__ import annotations

import hmac

from flask import request

from . import db
from .errors import ApiError
from .models import Site
from .sites import by_api_key


def site_from_api_key() -> Site:
    """The site whose secret api key is in the `api-key` header (401 otherwise)."""
    key = request.headers.get("api-key", "")
    site = by_api_key(db.session(), key) if key else None
    if site is None or not hmac.compare_digest(site.api_key, key):
        raise ApiError(401, "Key not found" if key else "api-key: header missing")
    return site
