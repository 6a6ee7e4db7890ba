"""A cart's states and the reasons it closes, and what closing one writes."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import SQLColumnExpression


class CartState(StrEnum):
    """Open while waiting for its deadline; emailed once its recovery email was written; closed otherwise."""

    OPEN = "open"
    EMAILED = "emailed"
    CLOSED = "closed"


class CloseReason(StrEnum):
    """Why a cart closed: by the shop or its visitor, or withheld by the worker at the deadline (never emailed)."""

    ORDERED = "ordered"
    DELETED = "deleted"
    EMPTY = "empty"
    UNSUBSCRIBED = "unsubscribed"
    NO_EMAIL = "no_email"
    UNCONFIRMED = "unconfirmed"
    RECENTLY_EMAILED = "recently_emailed"


def closed(reason: CloseReason, version: int | SQLColumnExpression[int]) -> dict[str, Any]:
    """The columns of a cart closed for `reason`: closed, no longer due, and a new version (a worker holding
    the old one's claim leaves it alone). `version` is the cart's current one, a number or its SQL column."""
    return {"state": CartState.CLOSED, "closed_reason": reason, "due_at": None, "version": version + 1}
