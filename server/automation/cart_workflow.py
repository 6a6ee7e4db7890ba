"""The site's abandoned-cart workflow: the abandoned-cart preset written from the site's cart settings (its delay,
on or off, re-entry), which `workflows set` and the dashboard's automation page change."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from ..models import Run, Workflow, WorkflowDefinition
from .conditions import duration_text
from .definitions import PRESETS, WaitStep, parse_workflow, workflow_document
from .states import RunState

CART_PRESET = PRESETS / "abandoned-cart.json"
SHORTEST_WAIT = 1.0  # seconds: a delay below it waits this long
_RUNS = Run.__table__


def cart_document(settings: Workflow, name: str | None = None) -> dict[str, Any]:
    """The abandoned-cart preset with the site's settings: wait the delay after the cart's last update, then the
    built-in recovery email; on or off, and re-entry, as set."""
    document = json.loads(CART_PRESET.read_text())
    document["name"] = name or document["name"]
    document["enabled"] = settings.enabled
    document["reentry"] = settings.reentry
    delay = timedelta(seconds=max(SHORTEST_WAIT, round(settings.delay_seconds)))
    document["steps"][0] = {"wait": duration_text(delay)}
    return workflow_document(parse_workflow(document))


def new_definition(session: Session, site_id: int, document: dict[str, Any], now: datetime) -> WorkflowDefinition:
    """A new workflow of the site, from a valid document (its name and on/off are the document's)."""
    definition = WorkflowDefinition(
        site_id=site_id,
        name=document["name"],
        enabled=document.get("enabled", True),
        document=document,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(definition)
    session.flush()
    return definition


def add_cart_workflow(session: Session, settings: Workflow, now: datetime) -> WorkflowDefinition:
    """A new site's abandoned-cart workflow, from its settings."""
    definition = new_definition(session, settings.site_id, cart_document(settings), now)
    settings.definition_id = definition.id
    return definition


def write_cart_workflow(session: Session, settings: Workflow, now: datetime, old_delay: float) -> WorkflowDefinition:
    """Write the site's abandoned-cart workflow from its changed settings; with a new delay, the runs waiting at
    its wait move to the new deadline (counted from the same last update)."""
    definition = session.get(WorkflowDefinition, settings.definition_id) if settings.definition_id else None
    if definition is None:
        return add_cart_workflow(session, settings, now)
    document = cart_document(settings, definition.name)
    if document != definition.document:
        definition.document, definition.enabled = document, settings.enabled
        definition.version += 1
        definition.updated_at = now
    shift = timedelta(seconds=settings.delay_seconds - old_delay)
    if shift:
        _move_waiting(session, definition.id, shift)
    return definition


def mirror_settings(settings: Workflow, document: dict[str, Any]) -> None:
    """A new definition imported for the site's abandoned-cart workflow: its settings follow what it says (on or
    off, re-entry, and the delay when its first step is a wait)."""
    workflow = parse_workflow(document)
    settings.enabled, settings.reentry = workflow.enabled, workflow.reentry
    first = workflow.steps[0]
    if isinstance(first, WaitStep):
        settings.delay_seconds = first.wait.total_seconds()


def _move_waiting(session: Session, workflow_id: int, shift: timedelta) -> None:
    """Runs waiting at the first step (the wait) fire `shift` later (earlier when negative)."""
    waiting = session.execute(
        select(Run.id, Run.due_at).where(
            Run.workflow_id == workflow_id,
            Run.state == RunState.WAITING,
            Run.step == "steps[0]",
            Run.due_at.is_not(None),
        )
    ).all()
    if waiting:
        session.connection().execute(
            update(_RUNS).where(_RUNS.c.id == bindparam("run_id")).values(due_at=bindparam("new_due")),
            [{"run_id": run_id, "new_due": due_at + shift} for run_id, due_at in waiting if due_at is not None],
        )
