"""Key checks: the secret `api-key` header (v3) and the public `ma-key` header (tracker REST)."""
from __future__ import annotations

import hmac

from flask import request

from .. import db
from ..errors import ApiError
from ..models import Site
from ..sites import by_api_key, client_keys


def site_from_api_key() -> Site:
    """The site whose secret api key is in the `api-key` header (401 otherwise)."""
    key = request.headers.get("api-key", "")
    site = by_api_key(db.session(), key) if key else None
    if site is None or not hmac.compare_digest(site.api_key, key):
        raise ApiError(401, "Key not found" if key else "api-key: header missing")
    return site


def site_from_client_key() -> Site:
    """The site whose public client key is in the `ma-key` header (401 otherwise)."""
    key = request.headers.get("ma-key", "")
    site = client_keys.site(db.session(), key) if key else None
    if site is None:
        raise ApiError(401, "Key not found" if key else "ma-key: header missing")
    return site
