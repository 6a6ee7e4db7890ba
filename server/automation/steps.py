"""What a due run does now: each step type a small rule over the run, its contact and its trigger's facts, giving
the run's new position and the emails to write. Pure: the clock and the contact's standing are passed in."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

from .definitions import Email, EmailStep, ExitStep, IfStep, WaitForStep, WaitStep
from .matching import Facts, condition_passes
from .plans import Plan
from .quiet_hours import QuietHours
from .states import ExitReason, RunState, Withheld

# An email due a whole period after the last one is not held back by the seconds the worker took to reach either.
PERIOD_GRACE = timedelta(minutes=1)


@dataclass(frozen=True)
class Standing:
    """What the email steps need to know of the run's contact: none yet (an anonymous run waits for one), no
    address, unsubscribed, or when it was last emailed, and its time zone; the site's one-email-per-period rule, its
    quiet hours and its templates."""

    known: bool
    email: bool = True
    unsubscribed: bool = False
    last_emailed_at: datetime | None = None
    period: timedelta = timedelta(0)
    templates: Container[str] = frozenset()
    confirmed: bool = True
    confirmed_only: bool = False  # the site emails only contacts its own server vouched for
    quiet: QuietHours | None = None
    zone: tzinfo = UTC  # the contact's, or the site's when its browser never said


@dataclass
class Moved:
    """Where the run stands after the steps due now, and what they asked for."""

    state: RunState = RunState.WAITING
    step: str | None = None
    cursor: str | None = None
    waiting_for: str | None = None
    due_at: datetime | None = None
    exit_reason: ExitReason | None = None
    entered: list[str] = field(default_factory=list)  # steps entered now, in order
    emails: list[tuple[str, Email]] = field(default_factory=list)  # (path, email) to write
    withheld: list[tuple[str, Withheld]] = field(default_factory=list)  # email steps that sent nothing, and why


def advance(
    plan: Plan,
    cursor: str | None,
    step: str | None,
    at: datetime,
    now: datetime,
    facts: Facts,
    holdout: bool,
    standing: Standing,
) -> Moved:
    """Run the steps from `cursor` until one waits or the run ends. `at` is when this part of the run became due
    (waits count from it, so a series keeps its schedule), `now` the clock (the email period counts to it)."""
    moved = Moved(step=step)
    last_emailed_at = standing.last_emailed_at
    while cursor is not None:
        if cursor not in plan.steps:  # its definition changed under it and lost the step: the run cannot go on
            moved.state, moved.exit_reason = RunState.EXITED, ExitReason.REDEFINED
            return moved
        current = plan.steps[cursor]
        if isinstance(current, EmailStep) and not standing.known:
            moved.cursor = cursor  # an anonymous run waits here until its visitor is identified
            return moved
        if isinstance(current, EmailStep) and (
            until := quiet_until(current.email, holdout, standing, last_emailed_at, now)
        ):
            moved.cursor, moved.due_at = cursor, until  # the email waits for the contact's morning
            return moved
        moved.step = cursor
        moved.entered.append(cursor)
        if isinstance(current, WaitStep | WaitForStep):
            ends = at + (current.wait if isinstance(current, WaitStep) else current.wait_for.timeout)
            following = plan.following[cursor] if isinstance(current, WaitStep) else plan.branch(cursor, "else")
            if ends <= now:  # over already (the worker was behind, or the workflow off): go on at once
                cursor, at = following, ends
                continue
            moved.cursor, moved.due_at = following, ends
            moved.waiting_for = current.wait_for.event if isinstance(current, WaitForStep) else None
            return moved
        if isinstance(current, ExitStep):
            moved.state, moved.exit_reason = RunState.EXITED, ExitReason.STEP
            return moved
        if isinstance(current, IfStep):
            cursor = plan.branch(cursor, "then" if condition_passes(current.if_, facts) else "else")
            continue
        reason = withheld(current.email, holdout, standing, last_emailed_at, now)
        if reason is None:
            moved.emails.append((cursor, current.email))
            if not current.email.transactional:
                last_emailed_at = now
        else:
            moved.withheld.append((cursor, reason))
        cursor = plan.following[cursor]
    moved.state = RunState.DONE
    return moved


def quiet_until(
    email: Email, holdout: bool, standing: Standing, last_emailed_at: datetime | None, now: datetime
) -> datetime | None:
    """When the quiet hours the contact is in now end, for an email that would go out now (or, held out, would
    have: the groups keep the same timing); None when it goes now. A transactional email ignores quiet hours."""
    if email.transactional or standing.quiet is None:
        return None
    if withheld(email, holdout, standing, last_emailed_at, now) not in (None, Withheld.HOLDOUT):
        return None  # it sends nothing either way: the run goes on at once
    return standing.quiet.until(now, standing.zone)


def withheld(
    email: Email, holdout: bool, standing: Standing, last_emailed_at: datetime | None, now: datetime
) -> Withheld | None:
    """Why an email step sends nothing, or None to send it. A held-out run never sends; a transactional email
    ignores the email period; an email naming a template the site does not have is not sent."""
    if holdout:
        return Withheld.HOLDOUT
    if email.template is not None and email.template not in standing.templates:
        return Withheld.NO_TEMPLATE
    if not standing.email:
        return Withheld.NO_EMAIL
    if standing.unsubscribed:
        return Withheld.UNSUBSCRIBED
    if standing.confirmed_only and not standing.confirmed:
        return Withheld.UNCONFIRMED
    recent = last_emailed_at is not None and now - last_emailed_at < standing.period - PERIOD_GRACE
    if recent and not email.transactional:
        return Withheld.RECENTLY_EMAILED
    return None
