"""Daily per-site counters of traffic Sibyl refused rather than stored: bots and foreign origins."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db import insert_for
from ..models import SiteCounter, utcnow

BOT = "bot"
ORIGIN = "origin"


def count(session: Session, site_id: int, name: str, amount: int = 1) -> None:
    """Add `amount` to today's counter, in its own short transaction (the request itself stores nothing)."""
    insert = insert_for(session.get_bind().dialect.name)
    upsert = insert(SiteCounter).values(site_id=site_id, day=utcnow().date(), name=name, count=amount)
    session.execute(
        upsert.on_conflict_do_update(
            index_elements=["site_id", "day", "name"], set_={"count": SiteCounter.count + upsert.excluded.count}
        )
    )
    session.commit()


def totals(session: Session, site_id: int, days: int, today: date | None = None) -> dict[str, int]:
    """Each counter's total over the last `days` days, today included; 0 for a counter never hit."""
    since = (today or utcnow().date()) - timedelta(days=days - 1)
    rows = session.execute(
        select(SiteCounter.name, func.sum(SiteCounter.count))
        .where(SiteCounter.site_id == site_id, SiteCounter.day >= since)
        .group_by(SiteCounter.name)
    )
    found = {name: int(total) for name, total in rows}
    return {name: found.get(name, 0) for name in (BOT, ORIGIN)}
