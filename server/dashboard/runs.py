"""What the abandoned-cart workflow did with each cart, in words: waiting, emailed, held (no mail server), failed,
recovered, cancelled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..automation.states import CartState, CloseReason
from ..mail.outbox import HELD_WORDS, OutboxStatus
from ..models import Workflow
from .display import ago, when
from .queries import Run

CANCEL_REASONS: dict[str, str] = {
    CloseReason.ORDERED: "ordered before the email was due",
    CloseReason.DELETED: "the cart was deleted (cart_deleted)",
    CloseReason.EMPTY: "the cart was emptied",
    CloseReason.UNSUBSCRIBED: "not emailed: the contact is blacklisted for email",
    CloseReason.NO_EMAIL: "not emailed: the contact has no email address",
    CloseReason.UNCONFIRMED: (
        "not emailed: the contact has not confirmed (confirmed contacts only; it was asked once by email)"
    ),
    CloseReason.RECENTLY_EMAILED: "not emailed: the contact had an automation email within the email period",
    CloseReason.HELD_OUT: "not emailed: held out as the control group of the workflow",
}


@dataclass(frozen=True)
class RunState:
    label: str
    tone: str  # a CSS modifier: waiting, emailed, held, failed, recovered, cancelled, paused
    detail: str


def describe(run: Run, workflow: Workflow, now: datetime) -> RunState:
    cart, email = run.cart, run.outbox
    if cart.state == CartState.OPEN:
        if cart.contact_id is None:
            return RunState("Waiting", "paused", "for the visitor to be identified (only contacts are emailed)")
        if not workflow.enabled:
            return RunState("Paused", "paused", "the workflow is off")
        due = cart.due_at or cart.deadline_at
        return RunState("Waiting", "waiting", f"email due {when(due)} ({ago(due, now)})")
    if cart.emailed_at is None:
        reason = cart.closed_reason or ""
        return RunState("Cancelled", "cancelled", CANCEL_REASONS.get(reason, reason))
    if email is not None and email.status == OutboxStatus.FAILED:
        return RunState("Failed", "failed", email.last_error or "the email could not be sent")
    if email is not None and email.status == OutboxStatus.HELD:
        closed = f"; then {CANCEL_REASONS.get(cart.closed_reason, cart.closed_reason)}" if cart.closed_reason else ""
        return RunState(HELD_WORDS, "held", f"written {when(cart.emailed_at)}, never sent: set SIBYL_SMTP_URL{closed}")
    if cart.closed_reason == CloseReason.ORDERED:
        return RunState("Recovered", "recovered", f"emailed {when(cart.emailed_at)}, then ordered")
    if email is None:
        return RunState("Emailed", "emailed", f"{when(cart.emailed_at)}")
    if email.status == OutboxStatus.PENDING:
        retry = f"; retrying {ago(email.next_attempt_at, now)}: {email.last_error}" if email.last_error else ""
        return RunState("Sending", "waiting", f"queued {when(email.created_at)}{retry}")
    closed = f"; then {CANCEL_REASONS.get(cart.closed_reason, cart.closed_reason)}" if cart.closed_reason else ""
    return RunState("Emailed", "emailed", f"sent {when(email.sent_at or cart.emailed_at)}{closed}")
