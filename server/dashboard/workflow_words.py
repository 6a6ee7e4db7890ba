"""An engine workflow in words: what starts a run, and each step (nested branches indented) with its counts."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..automation.conditions import Condition, Operator, Test, duration_text, where_subject
from ..automation.definitions import (
    AnyStep,
    EmailStep,
    EventTrigger,
    ExitStep,
    IfStep,
    PageTrigger,
    Per,
    WaitForStep,
    WaitStep,
    Workflow,
)
from ..automation.lift import Lift
from ..automation.states import ExitReason, RunState
from ..automation.stats import Counts, Stats
from ..email_templates.money import site_money
from ..models import Run, Site

PER = {Per.CART: "one run per cart", Per.CONTACT: "one run per contact", Per.EVENT: "one run per event"}


def value_text(value: Any) -> str:
    """A test's value as the document writes it: `"FR"`, `50` (a whole number read as 50.0 too), `true`."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value, ensure_ascii=False)


def comparison_text(test: Test) -> str:
    """`equals "FR"`, `is one of "FR", "BE"`, `is at least 50`, `is at most 5`, `is present` / `is missing`."""
    operator, value = test.operator
    if operator is Operator.EQUALS:
        return f"equals {value_text(value)}"
    if operator is Operator.IN:
        return f"is one of {', '.join(value_text(item) for item in value)}"
    if operator is Operator.GTE:
        return f"is at least {value_text(value)}"
    if operator is Operator.LTE:
        return f"is at most {value_text(value)}"
    return "is present" if value else "is missing"


def condition_text(condition: Condition) -> str:
    """`attribute COUNTRY equals "FR"`."""
    subject, name = condition.subject
    return f"{subject.value} {name} {comparison_text(condition)}"


def where_text(key: str, test: Test) -> str:
    """A trigger's test in words: `data total is at least 50`."""
    subject, name = where_subject(key)
    return f"{subject.value} {name} {comparison_text(test)}"


def trigger_text(workflow: Workflow) -> str:
    """What starts a run, in words: `the event cart_updated where data.total is at least 50; one run per cart`."""
    trigger = workflow.trigger
    if isinstance(trigger, EventTrigger):
        tests = [where_text(key, test) for key, test in trigger.where.items()]
        start = f"the event {trigger.event}" + (f" where {' and '.join(tests)}" if tests else "")
    elif isinstance(trigger, PageTrigger):
        start = f"a page view of {trigger.page}"
    else:
        start = "a new contact (identified)"
    return f"{start}; {PER[trigger.per]}"


def step_text(step: AnyStep) -> str:
    """One step in words, without its branches."""
    if isinstance(step, WaitStep):
        return f"Wait {duration_text(step.wait)}"
    if isinstance(step, WaitForStep):
        return f"Wait up to {duration_text(step.wait_for.timeout)} for the event {step.wait_for.event}"
    if isinstance(step, IfStep):
        return f"If {condition_text(step.if_)}"
    if isinstance(step, EmailStep):
        email = step.email
        what = f"the template {email.template}" if email.template else "the built-in cart recovery email"
        subject = f", subject {value_text(email.subject)}" if email.subject else ""
        transactional = " (transactional)" if email.transactional else ""
        return f"Email {what}{subject}{transactional}"
    assert isinstance(step, ExitStep)
    return "Exit: the run ends"


@dataclass(frozen=True)
class StepRow:
    """A line of the steps table: a step (with its path and counts per group) or the heading of a branch."""

    depth: int  # 0 for top-level steps; a branch's heading and steps one deeper than the step that branches
    text: str
    path: str | None = None  # None for a branch heading
    sent: Counts | None = None
    holdout: Counts | None = None


BRANCH_WORDS = {
    ("wait_for", "then"): "then, when the event came",
    ("wait_for", "else"): "else, when it did not come in time",
    ("if", "then"): "then, when it holds",
    ("if", "else"): "else, when it does not",
}


def step_rows(workflow: Workflow, stats: Stats) -> list[StepRow]:
    """Every step in document order with its counts, each branch under a heading, indented one level deeper."""
    return list(_rows(workflow.steps, "steps", 0, stats))


def _rows(steps: Sequence[AnyStep], prefix: str, depth: int, stats: Stats) -> Iterator[StepRow]:
    for index, step in enumerate(steps):
        path = f"{prefix}[{index}]"
        yield StepRow(depth, step_text(step), path, stats.of(path, False), stats.of(path, True))
        if isinstance(step, WaitForStep | IfStep):
            kind = "wait_for" if isinstance(step, WaitForStep) else "if"
            for branch, children in (("then", step.then), ("else", step.else_)):
                heading = BRANCH_WORDS[kind, branch] + ("" if children else ": nothing, the run goes on")
                yield StepRow(depth + 1, heading)
                yield from _rows(children, f"{path}.{branch}", depth + 1, stats)


def lift_text(measured: Lift) -> str:
    """`+12.5 % (95 % interval -3.1 % to +28.0 %)`: the difference of the conversion rates, sent minus held out."""
    return f"{measured.value:+.1%} (95 % interval {measured.low:+.1%} to {measured.high:+.1%})"


def measured_lift(workflow: Workflow, stats: Stats) -> Lift | None:
    """The lift of sending, once there is something to measure: a goal that counts conversions, and runs in
    both groups."""
    return stats.lift if workflow.goal is not None else None


def why_no_lift(workflow: Workflow, stats: Stats) -> str:
    """Why the lift is not measured yet."""
    sent, held = stats.group(False)["runs"], stats.group(True)["runs"]
    if workflow.goal is None:
        return "the workflow has no goal to count conversions by; add one, e.g. order_completed within 7d"
    if held == 0 and workflow.holdout == 0:
        return "there is no control group; set a holdout (e.g. 0.1) in the document to hold some runs out"
    if held == 0:
        return "no run has been held out yet"
    if sent == 0:
        return "no run has been sent yet"
    return "both groups need runs"


EXIT_REASONS: dict[str, str] = {
    ExitReason.STEP: "at an exit step",
    ExitReason.EVENT: "on an exit_on event",
    ExitReason.REDEFINED: "its step was removed from the document",
    ExitReason.MERGED: "merged into the same run of the contact the visitor turned out to be",
    ExitReason.CART_CLOSED: "its cart was ordered, deleted or emptied",
    ExitReason.BLACKLISTED: "its contact unsubscribed, bounced for good or complained",
}


@dataclass(frozen=True)
class RunWords:
    """A run's state in words: a label, a tone (a CSS modifier of `.pill`) and a detail."""

    label: str
    tone: str
    detail: str


def run_words(run: Run, enabled: bool, site: Site) -> RunWords:
    """Waiting (for what), paused (the workflow is off), done, or exited (and why); converted runs say so, with their
    revenue as the site writes money (in the currency of the data that started the run, as the overview counts it)."""
    converted = ""
    if run.converted_at is not None:
        currency = run.data.get("currency") if isinstance(run.data, dict) else None
        converted = f"; converted, revenue {site_money(site, run.revenue, currency)}" if run.revenue else "; converted"
    if run.state == RunState.WAITING:
        if not enabled:
            return RunWords("Paused", "paused", f"the workflow is off{converted}")
        if run.waiting_for is not None:
            return RunWords("Waiting", "waiting", f"for the event {run.waiting_for}{converted}")
        if run.due_at is None and run.contact_id is None:
            return RunWords("Waiting", "waiting", "for the visitor to be identified (only contacts are emailed)")
        return RunWords("Waiting", "waiting", f"until its next step is due{converted}")
    if run.state == RunState.EXITED:
        reason = EXIT_REASONS.get(run.exit_reason, run.exit_reason) if run.exit_reason else ""
        return RunWords("Exited", "exited", f"{reason}{converted}")
    return RunWords("Done", "sent", f"went through its last step{converted}")
