"""Bounds on what the public client key can do from any browser console: identifications and
distinct identified emails per hour, per address and per key, counted in the rate limiter's
storage (memory, or Redis shared by every process).

An email is charged the same whether it is a contact already or not, so a refusal never tells a
stranger who is a contact of the shop; and one shopper identifying again and again with the same
email costs the "new email" budget once per window, not on every page.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import cache

from flask import current_app
from limits import RateLimitItem, parse

from ..models import Site
from .request_rates import limiter

# An email identified from one address (or with one key) counts once per hour against the "new emails" budgets.
_ONCE = parse("1/hour")


@dataclass(frozen=True)
class _Charge:
    what: str
    scope: str
    limit: RateLimitItem
    identifiers: tuple[str, ...]
    cost: int


@dataclass(frozen=True)
class Refusal:
    """Why a request's identifications were refused, and when to try again."""

    message: str
    retry_after: int


@cache
def _limit(text: str) -> RateLimitItem:
    """A setting such as `100/hour`, parsed once per process rather than on every request."""
    return parse(text)


def admit_identifications(site: Site, emails: set[str], address: str) -> Refusal | None:
    """Count a request's distinct emails against the hourly limits of its address and of the site's key.

    Within every limit the identifications are admitted and charged (None); beyond any of them
    nothing is charged and the Refusal says which limit and for how long.
    """
    if not emails:
        return None
    config = current_app.config
    strategy = limiter.limiter
    scope = str(site.id)
    unseen_here = sum(strategy.test(_ONCE, "seen", scope, address, email) for email in emails)
    unseen_anywhere = sum(strategy.test(_ONCE, "seen", scope, email) for email in emails)
    charges = [
        _Charge(
            "identifications",
            "this address",
            _limit(config["IDENTIFY_LIMIT_ADDRESS"]),
            ("identify", scope, address),
            len(emails),
        ),
        _Charge("identifications", "this key", _limit(config["IDENTIFY_LIMIT_KEY"]), ("identify", scope), len(emails)),
        _Charge(
            "new emails",
            "this address",
            _limit(config["NEW_CONTACT_LIMIT_ADDRESS"]),
            ("contact", scope, address),
            unseen_here,
        ),
        _Charge("new emails", "this key", _limit(config["NEW_CONTACT_LIMIT_KEY"]), ("contact", scope), unseen_anywhere),
    ]
    due = [charge for charge in charges if charge.cost]
    for charge in due:
        if not strategy.test(charge.limit, *charge.identifiers, cost=charge.cost):
            reset = strategy.get_window_stats(charge.limit, *charge.identifiers).reset_time
            return Refusal(
                f"{charge.what}: over {charge.limit} from {charge.scope}",
                max(1, math.ceil(reset - time.time())),
            )
    for charge in due:
        strategy.hit(charge.limit, *charge.identifiers, cost=charge.cost)
    for email in emails:
        strategy.hit(_ONCE, "seen", scope, address, email)
        strategy.hit(_ONCE, "seen", scope, email)
    return None
