"""Bounds on what the public client key can do from any browser console: identifications and
new contacts per hour, per address and per key, counted in the rate limiter's storage (memory,
or Redis shared by every process)."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import cache

from flask import current_app
from limits import RateLimitItem, parse
from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import ApiError
from .models import Contact, Site
from .rate_limits import limiter


@dataclass(frozen=True)
class _Charge:
    what: str
    scope: str
    limit: RateLimitItem
    identifiers: tuple[str, ...]
    cost: int


@cache
def _limit(text: str) -> RateLimitItem:
    """A setting such as `100/hour`, parsed once per process rather than on every request."""
    return parse(text)


def known_emails(session: Session, site_id: int, emails: set[str]) -> set[str]:
    query = select(Contact.email).where(Contact.site_id == site_id, Contact.email.in_(emails))
    return {email for email in session.scalars(query) if email is not None}


def admit_identifications(session: Session, site: Site, emails: set[str], address: str) -> None:
    """Count a request's distinct emails (identifications) and the new contacts among them against
    the hourly limits of its address and of the site's key; beyond any of them, 429 and nothing stored."""
    if not emails:
        return
    new = len(emails - known_emails(session, site.id, emails))
    config = current_app.config
    charges = [
        _Charge("identifications", "this address", _limit(config["IDENTIFY_LIMIT_ADDRESS"]), ("identify", address), len(emails)),
        _Charge("identifications", "this key", _limit(config["IDENTIFY_LIMIT_KEY"]), ("identify", site.client_key), len(emails)),
        _Charge("new contacts", "this address", _limit(config["NEW_CONTACT_LIMIT_ADDRESS"]), ("contact", address), new),
        _Charge("new contacts", "this key", _limit(config["NEW_CONTACT_LIMIT_KEY"]), ("contact", site.client_key), new),
    ]
    due = [charge for charge in charges if charge.cost]
    strategy = limiter.limiter
    for charge in due:
        if not strategy.test(charge.limit, *charge.identifiers, cost=charge.cost):
            reset = strategy.get_window_stats(charge.limit, *charge.identifiers).reset_time
            raise ApiError(
                429,
                f"{charge.what}: over {charge.limit} from {charge.scope}",
                retry_after=max(1, math.ceil(reset - time.time())),
            )
    for charge in due:
        strategy.hit(charge.limit, *charge.identifiers, cost=charge.cost)
