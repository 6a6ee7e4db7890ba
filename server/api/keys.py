"""Key checks: the secret `api-key` header (v3) and the public `ma-key` header (tracker REST)."""

from __future__ import annotations

import hmac

from flask import request

from .. import db
from ..errors import ApiError
from ..models import Site
from ..sites import by_api_key, client_keys


def header_key(name: str) -> str:
    """The key a header carries. A header line sent twice (one WooCommerce release sends `ma-key` twice) reaches
    the app joined with commas: the same key repeated is that key; different keys are refused."""
    keys = {part.strip() for part in request.headers.get(name, "").split(",")} - {""}
    if len(keys) > 1:
        raise ApiError(401, f"{name}: header holds {len(keys)} different keys; send one")
    return keys.pop() if keys else ""


def site_from_api_key() -> Site:
    """The site whose secret api key is in the `api-key` header (401 otherwise)."""
    key = header_key("api-key")
    site = _secret_site(key)
    if site is None:
        raise ApiError(401, "Key not found" if key else "api-key: header missing")
    return site


def site_from_api_key_or_password() -> Site:
    """The site whose secret api key is in the `api-key` header or, for a relay's webhook that can only carry
    credentials in its URL (`https://any:KEY@host/…`), is the password of HTTP basic auth (401 otherwise)."""
    if header_key("api-key") or request.authorization is None:
        return site_from_api_key()
    site = _secret_site(request.authorization.password or "")
    if site is None:
        raise ApiError(401, "Key not found")
    return site


def site_from_client_key() -> Site:
    """The site whose public client key is in the `ma-key` header (401 otherwise)."""
    key = header_key("ma-key")
    site = client_keys.site(db.session(), key) if key else None
    if site is None:
        raise ApiError(401, "Key not found" if key else "ma-key: header missing")
    return site


def site_from_tracker_keys() -> tuple[Site, bool]:
    """The site of a tracker REST call, and whether its secret key vouches for it.

    `api-key` may hold the secret key (the shop's server vouches for its contacts) or, as Brevo's PrestaShop,
    Magento 2 and Shopware modules send it, the client key again beside `ma-key`.
    """
    api_key, ma_key = header_key("api-key"), header_key("ma-key")
    if api_key:
        secret = _secret_site(api_key)
        if secret is not None:
            if ma_key and ma_key != secret.client_key:
                raise ApiError(401, "ma-key and api-key belong to different sites")
            return secret, True
        if ma_key and api_key != ma_key:
            raise ApiError(401, "api-key: key not found (neither the site's secret key nor its client key)")
        public = client_keys.site(db.session(), api_key)
        if public is None:
            raise ApiError(401, "Key not found")
        return public, False
    return site_from_client_key(), False


def _secret_site(key: str) -> Site | None:
    site = by_api_key(db.session(), key) if key else None
    return site if site is not None and hmac.compare_digest(site.api_key, key) else None
