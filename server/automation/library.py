"""A site's workflows as stored: import (create or replace) a definition, read it back, and the enabled ones as
plans, parsed once per change of any of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session

from ..models import Run, Site, Workflow, WorkflowDefinition
from ..sites import client_keys
from .cart_workflow import mirror_settings, new_definition, write_cart_workflow
from .carts import reconfigure
from .definitions import Workflow as Definition
from .definitions import parse_workflow, step_paths, workflow_document
from .plans import Plan
from .states import ExitReason, RunState, exited

_DEFINITIONS = WorkflowDefinition.__table__
_OF_SITE = (
    select(_DEFINITIONS.c.id, _DEFINITIONS.c.version, _DEFINITIONS.c.document)
    .where(_DEFINITIONS.c.site_id == bindparam("site_id"))
    .order_by(_DEFINITIONS.c.id)
)
_CACHED_SITES = 1024


@dataclass(frozen=True)
class Imported:
    """What an import did: the stored definition, whether it was new, and how many waiting runs lost their step."""

    definition: WorkflowDefinition
    created: bool
    exited: int


class Plans:
    """Each site's workflows as plans (those switched off too: exits and goals still apply to their runs), read
    and parsed again only when the site's stamp moved."""

    def __init__(self) -> None:
        self._plans: dict[int, tuple[int, list[Plan]]] = {}

    def of(self, connection: Connection, site_id: int, stamp: int) -> list[Plan]:
        cached = self._plans.get(site_id)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        plans = [
            Plan(row.id, row.version, parse_workflow(row.document))
            for row in connection.execute(_OF_SITE, {"site_id": site_id})
        ]
        if len(self._plans) >= _CACHED_SITES:
            self._plans.clear()
        self._plans[site_id] = (stamp, plans)
        return plans


site_plans = Plans()


def workflow_named(session: Session, site_id: int, name: str) -> WorkflowDefinition | None:
    return session.scalar(
        select(WorkflowDefinition).where(WorkflowDefinition.site_id == site_id, WorkflowDefinition.name == name)
    )


def workflows_of(session: Session, site_id: int) -> list[WorkflowDefinition]:
    return list(
        session.scalars(
            select(WorkflowDefinition).where(WorkflowDefinition.site_id == site_id).order_by(WorkflowDefinition.id)
        )
    )


def definition_of(definition: WorkflowDefinition) -> Definition:
    return parse_workflow(definition.document)


def import_workflow(session: Session, site: Site, raw: Any, now: datetime) -> Imported:
    """Create the workflow the document names, or replace its definition: waiting runs go on where their step is
    still there, the others exit. Raises DefinitionError for a document that is not valid."""
    workflow = parse_workflow(raw)
    document = workflow_document(workflow)
    definition = workflow_named(session, site.id, workflow.name)
    exited = 0
    created = definition is None
    if definition is None:
        definition = new_definition(session, site.id, document, now)
    else:
        definition.document, definition.enabled = document, workflow.enabled
        definition.version += 1
        definition.updated_at = now
        exited = _exit_lost_runs(session, definition.id, set(step_paths(workflow)), now)
        settings = _cart_settings_of(session, definition)
        if settings is not None:
            mirror_settings(settings, document)
            reconfigure(session, settings)
    changed(session, site)
    session.flush()
    return Imported(definition, created, exited)


def set_enabled(session: Session, site: Site, definition: WorkflowDefinition, enabled: bool, now: datetime) -> None:
    """Turn a workflow on or off: off, no run starts and no step runs; its waiting runs go on once it is on."""
    definition.enabled = enabled
    definition.document = {**definition.document, "enabled": enabled}
    definition.updated_at = now
    settings = _cart_settings_of(session, definition)
    if settings is not None:
        settings.enabled = enabled
        reconfigure(session, settings)
    changed(session, site)


def cart_settings_changed(session: Session, site: Site, settings: Workflow, old_delay: float, now: datetime) -> None:
    """The site's cart settings changed (`workflows set`, the dashboard): its abandoned-cart workflow follows, and
    its open carts show their new deadlines."""
    definition = write_cart_workflow(session, settings, now, old_delay)
    _exit_lost_runs(session, definition.id, set(step_paths(definition_of(definition))), now)
    reconfigure(session, settings)
    changed(session, site)


def _cart_settings_of(session: Session, definition: WorkflowDefinition) -> Workflow | None:
    """The site's cart settings when this is its abandoned-cart workflow."""
    settings = session.get(Workflow, definition.site_id)
    return settings if settings is not None and settings.definition_id == definition.id else None


def changed(session: Session, site: Site) -> None:
    """A definition of the site changed: every process reads the site's plans again (within the seconds the
    client-key cache keeps a site; at once in this one)."""
    site.workflows_stamp = (site.workflows_stamp or 0) + 1
    client_keys.forget(site.client_key)


def _exit_lost_runs(session: Session, workflow_id: int, paths: set[str], now: datetime) -> int:
    """End as exited the waiting runs whose step or next step the new definition no longer has."""
    lost = [
        run_id
        for run_id, step, cursor in session.execute(
            select(Run.id, Run.step, Run.cursor).where(Run.workflow_id == workflow_id, Run.state == RunState.WAITING)
        )
        if (step is not None and step not in paths) or (cursor is not None and cursor not in paths)
    ]
    for start in range(0, len(lost), 500):
        session.execute(
            update(Run)
            .where(Run.id.in_(lost[start : start + 500]))
            .values(**exited(ExitReason.REDEFINED, now), version=Run.version + 1)
            .execution_options(synchronize_session=False)
        )
    return len(lost)
