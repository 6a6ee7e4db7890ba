"""Retention: events older than `SIBYL_RETENTION` are deleted, a batch at a time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..models import Event

BATCH = 10_000


def prune_events(session: Session, before: datetime, batch: int = BATCH) -> int:
    """Delete events that occurred before `before` in batches, each its own short transaction."""
    deleted = 0
    while True:
        oldest = select(Event.id).where(Event.occurred_at < before).order_by(Event.occurred_at).limit(batch)
        ids = list(session.scalars(oldest))
        if not ids:
            return deleted
        session.execute(delete(Event).where(Event.id.in_(ids)))
        session.commit()
        deleted += len(ids)
