"""What a workflow did: for runs that sent and held-out runs, how many ran, were emailed (and of those, held for
want of a mail server, delivered, bounced or drew complaints, opened, clicked or unsubscribed from), converted and
for how much, the lift of sending with its interval, and the same counts per step with the runs waiting there and
the conversions each step's email was the last before."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session

from ..mail.outbox import Feedback, OutboxStatus, feedback_per_step
from ..models import NOTABLE_EMAIL, OutboxEmail, Run, StepCount
from .lift import Lift, lift
from .states import RunState

GROUPS = {"sent": False, "holdout": True}


@dataclass
class Counts:
    """One group's figures, for the whole workflow (the path "") or one step."""

    entered: int = 0
    emailed: int = 0  # emails written, held ones among them
    held: int = 0  # of those, kept in the outbox while no mail server is set: not sent
    withheld: int = 0
    converted: int = 0
    revenue: float = 0.0
    waiting: int = 0
    bounced: int = 0  # of the emails, those that bounced for good (a hard bounce)
    complained: int = 0  # and those whose reader complained (marked it as spam)
    opened: int = 0  # distinct contacts whose email showed the open pixel (where the site has it on)
    clicked: int = 0  # distinct contacts who clicked a link of the email: people, not link scanners
    delivered: int = 0  # emails sent that did not bounce for good
    unsent: int = 0  # emails written and not sent (held, failed, pending, cancelled)
    unsubscribed: int = 0  # distinct contacts who unsubscribed, each from the newest email sent to it before then
    # Converted runs whose last email before the conversion was this step's, and their revenue (per step only:
    # `converted` and `revenue` count every step a converted run passed).
    converted_by_email: int = 0
    revenue_by_email: float = 0.0


@dataclass
class Stats:
    """A workflow's figures: per group and path ("" for the workflow as a whole), and the lift of sending."""

    counts: dict[tuple[str, bool], Counts] = field(default_factory=dict)

    def of(self, path: str, holdout: bool) -> Counts:
        return self.counts.get((path, holdout)) or Counts()

    def group(self, holdout: bool) -> dict[str, Any]:
        """A group's runs, emails, conversions and revenue, as `workflows stats --json` writes them."""
        whole = self.of("", holdout)
        runs = whole.entered
        steps = [counts for (path, held), counts in self.counts.items() if path and held is holdout]
        return {
            "runs": runs,
            "emails": sum(counts.emailed for counts in steps),
            "held": sum(counts.held for counts in steps),
            "conversions": min(whole.converted, runs),  # a run converting before its first step counts once it ran
            "revenue": round(whole.revenue, 2),
            "bounced": sum(counts.bounced for counts in steps),
            "complained": sum(counts.complained for counts in steps),
            "delivered": whole.delivered,
            "unsubscribed": whole.unsubscribed,
            "opened": whole.opened,
            "clicked": whole.clicked,
        }

    def steps(self) -> dict[str, dict[str, Any]]:
        """Each email step's figures for runs that sent (held-out runs write no email), as `workflows stats --json`
        writes them: emails, held, delivered, the people who opened, clicked and unsubscribed, the emails that
        bounced for good and drew complaints, and the runs that converted after this step's email was their last,
        with their revenue."""
        return {
            path: {
                "emails": counts.emailed,
                "held": counts.held,
                "delivered": counts.delivered,
                "opened": counts.opened,
                "clicked": counts.clicked,
                "bounced": counts.bounced,
                "complained": counts.complained,
                "unsubscribed": counts.unsubscribed,
                "converted": counts.converted_by_email,
                "revenue": round(counts.revenue_by_email, 2),
            }
            for (path, holdout), counts in sorted(self.counts.items())
            if path and not holdout and (counts.emailed or counts.delivered or counts.bounced or counts.complained)
        }

    @property
    def lift(self) -> Lift | None:
        sent, held = self.group(False), self.group(True)
        return lift(sent["runs"], sent["conversions"], held["runs"], held["conversions"])

    def document(self) -> dict[str, Any]:
        """The JSON of `workflows stats --json`."""
        measured = self.lift
        return {
            "groups": {name: self.group(holdout) for name, holdout in GROUPS.items()},
            "steps": self.steps(),
            "lift": (
                {"value": measured.value, "low": measured.low, "high": measured.high} if measured is not None else None
            ),
        }


def workflow_stats(session: Session, workflow_id: int) -> Stats:
    """The workflow's step counts, its waiting runs per step (through the workflow, state and step index), what
    came of its emails per step and over all of them (from the few notable ones: delivered is what was written less
    what was not sent or bounced for good), its bounces and complaints (through the outbox's index on feedback) and
    the conversions per step's email."""
    stats = Stats()
    for row in session.execute(select(StepCount).where(StepCount.workflow_id == workflow_id)).scalars():
        stats.counts[row.path, row.holdout] = Counts(
            entered=row.entered,
            emailed=row.emailed,
            withheld=row.withheld,
            converted=row.converted,
            revenue=row.revenue,
        )
    waiting = session.execute(
        select(Run.step, Run.holdout, func.count())
        .where(Run.workflow_id == workflow_id, Run.state == RunState.WAITING)
        .group_by(Run.step, Run.holdout)
    )
    for step, holdout, count in waiting:
        counts = stats.counts.setdefault((step or "", holdout), Counts())
        counts.waiting += count
    for step, kinds in feedback_per_step(session, workflow_id).items():
        counts = stats.counts.setdefault((step, False), Counts())
        counts.bounced, counts.complained = kinds.get(Feedback.HARD_BOUNCE, 0), kinds.get(Feedback.COMPLAINT, 0)
    whole = stats.counts.setdefault(("", False), Counts())
    for step, held, unsent, opened, clicked, unsubscribed in _per_step(session, workflow_id):
        counts = stats.counts.setdefault((step or "", False), Counts())  # held-out runs write no email
        counts.held, counts.unsent = held, unsent
        counts.opened, counts.clicked, counts.unsubscribed = opened, clicked, unsubscribed
    for (path, holdout), counts in stats.counts.items():
        if path and not holdout:
            counts.delivered = max(counts.emailed - counts.unsent - counts.bounced, 0)
            whole.delivered += counts.delivered
    whole.opened, whole.clicked, whole.unsubscribed = _engaged(session, workflow_id)
    for step, converted, revenue in _converted_by_email(session, workflow_id):
        counts = stats.counts.setdefault((step or "", False), Counts())
        counts.converted_by_email, counts.revenue_by_email = converted, revenue
    return stats


def _people(column: Any) -> Any:
    """The distinct contacts of the emails where `column` is set."""
    return func.count(distinct(case((column.is_not(None), OutboxEmail.contact_id))))


def _per_step(session: Session, workflow_id: int) -> list[tuple[str | None, int, int, int, int, int]]:
    """Per step, the workflow's emails held for want of a mail server and not sent at all (held, failed, pending,
    cancelled), and the distinct contacts who opened, clicked (people, from each email's first open and click) and
    unsubscribed from them: one pass over the notable emails only (`ix_outbox_notable_run`), never all of them."""
    rows = session.execute(
        select(
            OutboxEmail.step,
            func.count(case((OutboxEmail.status == OutboxStatus.HELD, 1))),
            func.count(case((OutboxEmail.status != OutboxStatus.SENT, 1))),
            _people(OutboxEmail.opened_at),
            _people(OutboxEmail.clicked_at),
            _people(OutboxEmail.unsubscribed_at),
        )
        .join(Run, Run.id == OutboxEmail.run_id)
        .where(NOTABLE_EMAIL, Run.workflow_id == workflow_id)
        .group_by(OutboxEmail.step)
    )
    return [(row[0], row[1], row[2], row[3], row[4], row[5]) for row in rows]


def _engaged(session: Session, workflow_id: int) -> tuple[int, int, int]:
    """The distinct contacts who opened, clicked and unsubscribed from any of the workflow's emails, from the
    notable emails only."""
    query = (
        select(_people(OutboxEmail.opened_at), _people(OutboxEmail.clicked_at), _people(OutboxEmail.unsubscribed_at))
        .select_from(OutboxEmail)
        .join(Run, Run.id == OutboxEmail.run_id)
        .where(NOTABLE_EMAIL, Run.workflow_id == workflow_id)
    )
    opened, clicked, unsubscribed = session.execute(query).one()
    return opened, clicked, unsubscribed


def _converted_by_email(session: Session, workflow_id: int) -> list[tuple[str | None, int, float]]:
    """The workflow's converted runs that sent, per step of the last email each sent at or before its conversion,
    with their revenue: one grouped query, each run's last email found through the outbox's (run_id, created_at)
    index (an email is sent after it is written, so none written after the conversion counts)."""
    last_step = (
        select(OutboxEmail.step)
        .where(
            OutboxEmail.run_id == Run.id,
            OutboxEmail.created_at <= Run.converted_at,
            OutboxEmail.status == OutboxStatus.SENT,
            OutboxEmail.sent_at <= Run.converted_at,
        )
        .order_by(OutboxEmail.created_at.desc(), OutboxEmail.id.desc())
        .limit(1)
        .correlate(Run)
        .scalar_subquery()
        .label("step")
    )
    runs = (
        select(last_step, Run.revenue)
        .where(Run.workflow_id == workflow_id, Run.converted_at.is_not(None), Run.holdout.is_(False))
        .subquery()
    )
    rows = session.execute(
        select(runs.c.step, func.count(), func.coalesce(func.sum(runs.c.revenue), 0.0))
        .where(runs.c.step.is_not(None))
        .group_by(runs.c.step)
    )
    return [(step, count, float(revenue)) for step, count, revenue in rows]
