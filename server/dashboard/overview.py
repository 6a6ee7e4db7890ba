"""The overview: events over the last day and month, top events and pages, contacts, carts."""

from __future__ import annotations

from flask import render_template

from .. import db
from ..models import utcnow
from ..sites import tracking_status
from .blueprint import bp
from .charts import bar_chart
from .queries import cart_counts, events_per_hour, events_per_month, identified_contacts
from .scope import current_site


@bp.get("/")
def overview() -> str:
    site = current_site()
    if site is None:
        return render_template("dashboard/overview.html", site=None)
    session, now = db.session(), utcnow()
    hours = events_per_hour(session, site.id, now)
    month = events_per_month(session, site.id, now)
    return render_template(
        "dashboard/overview.html",
        site=site,
        status=tracking_status(site, now),
        by_hour=bar_chart([(f"{b.start:%H}:00", f"{b.start.day} {b.start:%b, %H}:00", b.count) for b in hours], 3),
        by_day=bar_chart(
            [(f"{b.start.day} {b.start:%b}", f"{b.start:%a} {b.start.day} {b.start:%b}", b.count) for b in month.days],
            5,
        ),
        top_events=month.top_events,
        top_pages=month.top_pages,
        contacts=identified_contacts(session, site.id),
        carts=cart_counts(session, site.id),
    )
