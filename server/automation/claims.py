"""Claims: a worker leases due rows (runs, emails) that no other worker holds, skipping rows another has locked."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, update
from sqlalchemy.orm import Session

from ..models import Cart, OutboxEmail, Run

BATCH = 500


def lease(
    session: Session,
    model: type[Cart] | type[OutboxEmail] | type[Run],
    ready: Select[Any],
    until: datetime,
    *returning: Any,
) -> list[Any]:
    """Lease up to BATCH of the rows `ready` selects until `until`, skipping rows another worker has locked."""
    claimable = ready.limit(BATCH).with_for_update(skip_locked=True).scalar_subquery()
    rows = session.execute(
        update(model)
        .where(model.id.in_(claimable))
        .values(lease_until=until)
        .returning(*returning)
        .execution_options(synchronize_session=False)
    ).all()
    session.commit()
    return list(rows)
