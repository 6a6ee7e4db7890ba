"""A catalogue or order write committed in one transaction, tried again when a concurrent writer of the same ids
committed first (the unique key refuses the second insert); a 503 saying so when that keeps happening."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import ApiError

ATTEMPTS = 3
T = TypeVar("T")


def committed(session: Session, write: Callable[[Session], T], what: str) -> T:
    """What `write` returns, once its writes are committed."""
    for attempt in range(ATTEMPTS):
        try:
            result = write(session)
            session.commit()
            return result
        except IntegrityError:
            session.rollback()
            if attempt == ATTEMPTS - 1:
                message = f"the same {what} are being written at once; retry"
                raise ApiError(503, message, "service_unavailable", retry_after=1) from None
    raise AssertionError("unreachable: the last attempt returns or raises")
