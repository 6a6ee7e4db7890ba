"""A cart's states and the reasons it closes, what closing one writes, and a workflow run's states and reasons."""

from __future__ import annotations

from datetime import datetime
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
    HELD_OUT = "held_out"


def closed(reason: CloseReason, version: int | SQLColumnExpression[int]) -> dict[str, Any]:
    """The columns of a cart closed for `reason`: closed, no longer due, and a new version (a worker holding
    the old one's claim leaves it alone). `version` is the cart's current one, a number or its SQL column."""
    return {"state": CartState.CLOSED, "closed_reason": reason, "due_at": None, "version": version + 1}


class RunState(StrEnum):
    """A run waits (for a time, an event, or its contact to be known), or has ended: done at its last step, or
    exited (an `exit` step, an `exit_on` event, a definition that lost its step)."""

    WAITING = "waiting"
    DONE = "done"
    EXITED = "exited"


class ExitReason(StrEnum):
    """Why a run exited."""

    STEP = "exit_step"
    EVENT = "exit_event"
    REDEFINED = "step_removed"
    MERGED = "merged"  # a visitor's run met the same run of the contact it turned out to be
    CART_CLOSED = "cart_closed"  # a run per cart whose cart was ordered, deleted or emptied
    BLACKLISTED = "blacklisted"  # its contact unsubscribed, bounced for good or complained


class Withheld(StrEnum):
    """Why an email step sent nothing: the run is held out, or the contact may not be emailed now."""

    HOLDOUT = "holdout"
    NO_EMAIL = "no_email"
    UNSUBSCRIBED = "unsubscribed"
    RECENTLY_EMAILED = "recently_emailed"
    UNCONFIRMED = "unconfirmed"
    NO_TEMPLATE = "no_template"


def exited(reason: ExitReason, now: datetime) -> dict[str, Any]:
    """The columns of a run that exits for `reason` now: no longer due, ended. (Its version moves with every
    write of a run, so whoever writes it bumps that too.)"""
    return {"state": RunState.EXITED, "exit_reason": reason, "due_at": None, "ended_at": now, "updated_at": now}
