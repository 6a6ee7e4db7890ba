"""Sites: their keys, allowed origins, tracking code and tracking status."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, render_template
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from .automation.cart_workflow import add_cart_workflow
from .automation.carts import new_workflow
from .config import DEFAULT_PUBLIC_URL
from .contacts.attributes import seed_attributes
from .models import Contact, Event, OutboxEmail, Site, utcnow

RECENT_TRAFFIC = timedelta(hours=24)
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$", re.IGNORECASE)
RECEIVED_MESSAGE = "We've recently received traffic for this Tracking ID"
WAITING_MESSAGE = "No traffic received yet for this Tracking ID in the last 24 hours"


def normalise_origin(url: str) -> str:
    """`https://shop.example` from any URL on that origin; ValueError when it has none."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) origin: {url!r}")
    return f"{parts.scheme}://{parts.netloc}".lower()


def create_site(session: Session, name: str, origins: list[str], cart_delay: float) -> Site:
    """A new site with fresh keys, the default attributes and its abandoned-cart workflow."""
    site = Site(
        name=name,
        client_key=new_key(SiteKey.CLIENT),
        api_key=new_key(SiteKey.API),
        origins=[normalise_origin(origin) for origin in origins],
    )
    session.add(site)
    session.flush()
    seed_attributes(session, site)
    settings = new_workflow(site.id, cart_delay)
    session.add(settings)
    add_cart_workflow(session, settings, utcnow())
    session.commit()
    return site


class SiteKey(StrEnum):
    CLIENT = "client"
    API = "api"


SECRET_KEY_PREFIX = "xkeysib-"  # Brevo's prefix for an API v3 key, so that shops' key checks accept ours


def new_key(which: SiteKey) -> str:
    return secrets.token_hex(12) if which is SiteKey.CLIENT else f"{SECRET_KEY_PREFIX}{secrets.token_hex(32)}"


def is_secret_key_form(key: str) -> bool:
    """Whether `key` is shaped like a secret api key (not whether a site has it): never a public client key."""
    return key.startswith(SECRET_KEY_PREFIX)


def rotate_key(session: Session, site: Site, which: SiteKey) -> str:
    """Give the site a new key of this kind and commit; the old one is refused from now on (within a few seconds
    in other processes, which keep client keys for that long)."""
    key = new_key(which)
    if which is SiteKey.CLIENT:
        client_keys.forget(site.client_key)
        site.client_key = key
    else:
        site.api_key = key
    session.commit()
    return key


def by_name(session: Session, name: str) -> Site | None:
    return session.scalar(select(Site).where(Site.name == name))


def by_client_key(session: Session, key: str) -> Site | None:
    return session.scalar(select(Site).where(Site.client_key == key))


class ClientKeyCache:
    """Sites by public client key, kept for a few seconds: the tracker's hot path reads them on every batch."""

    def __init__(self, seconds: float = 10.0) -> None:
        self.seconds = seconds
        self._sites: dict[str, tuple[Site, float]] = {}

    def site(self, session: Session, key: str) -> Site | None:
        cached = self._sites.get(key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        site = by_client_key(session, key)
        if site is not None:
            session.expunge(site)
            self._sites[key] = (site, time.monotonic() + self.seconds)
        return site

    def forget(self, key: str) -> None:
        self._sites.pop(key, None)


class TrafficClock:
    """Records a site's last traffic at most once a minute per process, not on every request."""

    def __init__(self, every: timedelta = timedelta(minutes=1)) -> None:
        self.every = every
        self._written: dict[int, datetime] = {}

    def saw(self, session: Session, site_id: int, now: datetime) -> None:
        last = self._written.get(site_id)
        if last is None or now - last >= self.every:
            session.execute(update(Site).where(Site.id == site_id).values(last_traffic_at=now))
            self._written[site_id] = now


client_keys = ClientKeyCache()
traffic = TrafficClock()


def by_api_key(session: Session, key: str) -> Site | None:
    return session.scalar(select(Site).where(Site.api_key == key))


def accepts_origin(site: Site, origin: str | None) -> bool:
    """A site with origins configured takes browser traffic from those origins only."""
    if not site.origins or origin is None:
        return True
    return origin.lower() in site.origins


def email_hosts(site: Site) -> frozenset[str]:
    """The hosts links and images in the site's emails may point at: its origins' and those the shop listed."""
    hosts = {urlsplit(origin).hostname for origin in site.origins or []} | set(site.email_hosts or [])
    return frozenset(host.lower() for host in hosts if host)


def normalise_host(text: str) -> str:
    """`shop.example` from a host name or any URL on it; ValueError when it names no host."""
    text = text.strip()
    parts = urlsplit(text if "//" in text else f"//{text}")
    try:
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError:
        raise ValueError(f"not a host name: {text!r}") from None
    host = parts.hostname
    if not host or parts.path not in ("", "/") or parts.query or parts.fragment or not _HOST.match(host):
        raise ValueError(f"not a host name: {text!r}")
    return host.lower()


def snippet(site: Site, base_url: str) -> str:
    """Brevo's loader snippet, pointing at this server's `sa.js`."""
    return render_template(
        "snippet.html",
        client_key=site.client_key,
        script_url=f"{base_url}/sa.js",
        require_consent=site.require_consent,
        respect_dnt=site.respect_dnt,
    )


def tracking_code(site: Site, base_url: str | None = None) -> str:
    """The site's tracking code, pointing at `base_url` or else at SIBYL_PUBLIC_URL (never a request's Host): what
    `sites snippet` prints and the site's page shows."""
    return snippet(site, (base_url or str(current_app.config["PUBLIC_URL"])).rstrip("/"))


def tracking_code_note() -> str | None:
    """What the owner is told beside the tracking code while SIBYL_PUBLIC_URL is unset, else None."""
    if current_app.config["PUBLIC_URL"] != DEFAULT_PUBLIC_URL:
        return None
    return (
        f"This tracking code points at {DEFAULT_PUBLIC_URL}, which only this machine reaches: set SIBYL_PUBLIC_URL "
        "to this server's public base URL (e.g. SIBYL_PUBLIC_URL=https://track.example.com) and restart it."
    )


@dataclass(frozen=True)
class SiteContents:
    """What deleting a site deletes with it, counted."""

    contacts: int
    events: int
    emails: int


def site_contents(session: Session, site: Site) -> SiteContents:
    def count(model: type[Contact] | type[Event] | type[OutboxEmail]) -> int:
        return session.scalar(select(func.count()).select_from(model).where(model.site_id == site.id)) or 0

    return SiteContents(contacts=count(Contact), events=count(Event), emails=count(OutboxEmail))


def delete_site(session: Session, site: Site) -> SiteContents:
    """Delete the site and, through the database's cascades, everything of it, in one transaction; what it held."""
    contents = site_contents(session, site)
    client_keys.forget(site.client_key)
    session.execute(delete(Site).where(Site.id == site.id))
    session.commit()
    return contents


def tracking_status(site: Site, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    last = site.last_traffic_at
    recent = last is not None and now - last <= RECENT_TRAFFIC
    return {
        "site": site.name,
        "last_traffic_at": last.isoformat() if last else None,
        "receiving": recent,
        "message": RECEIVED_MESSAGE if recent else WAITING_MESSAGE,
    }
