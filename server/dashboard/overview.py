"""The overview: events over the last day and month, top events and pages, contacts, carts."""
from __future__ import annotations

from datetime import timedelta

from flask import render_template

from .. import db
from ..models import utcnow
from ..sites import tracking_status
from .blueprint import bp
from .charts import bar_chart
from .queries import cart_counts, events_per_day, events_per_hour, identified_contacts, top_names
from .scope import current_site


@bp.get("/")
def overview() -> str:
    site = current_site()
    if site is None:
        return render_template("dashboard/overview.html", site=None)
    session, now = db.session(), utcnow()
    hours = events_per_hour(session, site.id, now)
    days = events_per_day(session, site.id, now)
    month_ago = now - timedelta(days=30)
    return render_template(
        "dashboard/overview.html",
        site=site,
        status=tracking_status(site, now),
        by_hour=bar_chart([(f"{b.start:%H}:00", f"{b.start.day} {b.start:%b, %H}:00", b.count) for b in hours], 3),
        by_day=bar_chart([(f"{b.start.day} {b.start:%b}", f"{b.start:%a} {b.start.day} {b.start:%b}", b.count) for b in days], 5),
        top_events=top_names(session, site.id, month_ago, ("track", "link")),
        top_pages=top_names(session, site.id, month_ago, ("page",)),
        contacts=identified_contacts(session, site.id),
        carts=cart_counts(session, site.id),
    )
