"""The overview: events over the last day and month, top events and pages, contacts, carts, and the orders the
workflows' emails recovered with their lift."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import render_template

from .. import db
from ..automation.lift import Lift
from ..models import utcnow
from ..sites import tracking_status
from .blueprint import bp
from .charts import bar_chart
from .display import local
from .queries import (
    Bucket,
    cart_counts,
    events_per_hour,
    events_per_month,
    identified_contacts,
    recovered_orders,
    workflows_lift,
)
from .scope import current_site

RECOVERED_PERIOD = timedelta(days=30)  # as the events' figures: a month


@bp.get("/")
def overview() -> str:
    site = current_site()
    if site is None:
        return render_template("dashboard/overview.html", site=None)
    session, now = db.session(), utcnow()
    hours = events_per_hour(session, site.id, now)
    measured = workflows_lift(session, site.id)
    month = events_per_month(session, site.id, now)
    return render_template(
        "dashboard/overview.html",
        site=site,
        status=tracking_status(site, now),
        by_hour=bar_chart([(f"{t:%H:%M}", f"{t.day} {t:%b, %H:%M}", b.count) for b, t in hour_starts(hours)], 3),
        by_day=bar_chart(
            [(f"{b.start.day} {b.start:%b}", f"{b.start:%a} {b.start.day} {b.start:%b}", b.count) for b in month.days],
            5,
        ),
        top_events=month.top_events,
        top_pages=month.top_pages,
        contacts=identified_contacts(session, site.id),
        carts=cart_counts(session, site.id),
        recovered=recovered_orders(session, site.id, since=now - RECOVERED_PERIOD),
        lift=lift_words(measured) if measured is not None else None,
    )


def hour_starts(hours: list[Bucket]) -> list[tuple[Bucket, datetime]]:
    """Each hour's bucket with its start in the user's time zone (an hour starts at :30 in India)."""
    return [(bucket, local(bucket.start)) for bucket in hours]


MINUS = "\u2212"  # the minus sign, rather than a hyphen


def points(fraction: float) -> str:
    """A difference of rates in percentage points, signed, to one decimal: `+3.1`, `+0.0`, and with MINUS `-0.4`
    (and `-0.0` for a difference below 0 that rounds to 0)."""
    return f"{fraction * 100:+.1f}".replace("-", MINUS)


@dataclass(frozen=True)
class LiftWords:
    """The lift for a shop owner, in points (`+3.1`), then `(95 % interval -0.4 to +6.6) against held-out
    contacts.` (with MINUS), and what the interval shows."""

    points: str
    interval: str
    verdict: str


def lift_words(measured: Lift) -> LiftWords:
    if measured.low > 0:
        verdict = "The emails brought more conversions, beyond chance."
    elif measured.high < 0:
        verdict = "Held-out contacts converted more, beyond chance."
    else:
        verdict = "The interval includes 0: no difference is shown yet."
    return LiftWords(
        points(measured.value),
        f"(95 % interval {points(measured.low)} to {points(measured.high)}) against held-out contacts.",
        verdict,
    )
