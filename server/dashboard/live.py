"""Live events: the newest events of a site, refreshed every two seconds, to check a fresh installation."""

from __future__ import annotations

from typing import Any

from flask import jsonify, render_template, request, url_for
from werkzeug.wrappers import Response

from .. import db
from ..api.schemas import MAX_ID
from ..models import Event
from .blueprint import bp
from .display import iso, local
from .queries import newest_events
from .scope import current_site

SHOWN = 50


@bp.get("/live")
def live() -> str:
    site = current_site()
    newest = newest_events(db.session(), site.id, limit=SHOWN) if site else []
    rows = [live_row(event, email) for event, email in newest]
    return render_template("dashboard/live.html", site=site, rows=rows, shown=SHOWN)


@bp.get("/live/events.json")
def live_events() -> Response:
    """`{"events": [...]}`: the site's events after `?after=ID`, newest first."""
    site = current_site()
    if site is None:
        return jsonify(events=[])
    after = min(max(0, request.args.get("after", 0, type=int)), MAX_ID)
    found = newest_events(db.session(), site.id, after_id=after, limit=SHOWN)
    return jsonify(events=[live_row(event, email) for event, email in found])


def live_row(event: Event, email: str | None) -> dict[str, Any]:
    """An event as the live table shows it, its time in the user's time zone: plain strings, set as text by the
    page's script."""
    shown = local(event.occurred_at)
    return {
        "id": event.id,
        "time": f"{shown.day} {shown:%b, %H:%M:%S}",
        "iso": iso(event.occurred_at),
        "kind": event.kind,
        "name": event.name,
        "url": event.url or "",
        "contact": email or "",
        "contact_url": url_for("dashboard.contact", contact_id=event.contact_id) if event.contact_id else "",
    }
