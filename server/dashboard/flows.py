"""A site's engine workflows: the list (on/off, created from a preset) and each workflow's steps with their counts,
its lift, its newest runs, and its JSON document to edit or download."""

from __future__ import annotations

import json
from typing import Any

from flask import flash, make_response, redirect, render_template, request, url_for
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from .. import db
from ..automation.definitions import DefinitionError, Workflow, parse_workflow, presets, workflow_document
from ..automation.library import definition_of, import_workflow, set_enabled, workflow_named, workflows_of
from ..automation.stats import workflow_stats
from ..errors import ApiError
from ..ingest.input_checks import load_json
from ..models import Run, Site, WorkflowDefinition, utcnow
from .blueprint import bp
from .queries import by_id, workflow_figures, workflow_runs
from .scope import current_site, record_of_a_site, visible_site
from .workflow_words import measured_lift, run_words, step_rows, trigger_text, why_no_lift

NO_WORKFLOW = "There is no such workflow."
MAX_DOCUMENT = 100_000  # characters of a document posted from the edit form; a workflow of 50 steps needs far fewer


@bp.get("/workflows")
def flows() -> str:
    return _list_page(current_site(), chosen="", error=None)


@bp.post("/workflows")
def create_flow() -> Response | tuple[str, int]:
    """A new workflow from a preset, created off: its owner reads its steps, then turns it on."""
    site = visible_site(request.form.get("site", type=int))
    chosen = request.form.get("preset", "")
    preset = presets().get(chosen)
    if preset is None:
        return _list_page(site, chosen, "Choose one of the presets."), 400
    session = db.session()
    taken = f"This site already has a workflow named “{preset.name}”: open it below, or rename it first."
    if workflow_named(session, site.id, preset.name) is not None:
        return _list_page(site, chosen, taken), 400
    try:
        imported = import_workflow(session, site, {**workflow_document(preset), "enabled": False}, utcnow())
        session.commit()
    except IntegrityError:  # created by another request since the check
        session.rollback()
        return _list_page(site, chosen, taken), 400
    flash(f"Created “{preset.name}”, off: check its steps, then turn it on.", "success")
    return redirect(url_for("dashboard.flow", workflow_id=imported.definition.id))


@bp.post("/workflows/<int:workflow_id>/switch")
def switch_flow(workflow_id: int) -> Response:
    """Turn a workflow on or off (`enabled` says which, so a form posted twice does the same)."""
    definition, site = record_of_a_site(WorkflowDefinition, workflow_id, NO_WORKFLOW)
    enabled = request.form.get("enabled") == "on"
    set_enabled(db.session(), site, definition, enabled, utcnow())
    db.session().commit()
    flash(f"“{definition.name}” is {'on' if enabled else 'off'}.", "success")
    if request.form.get("back") == "workflow":
        return redirect(url_for("dashboard.flow", workflow_id=definition.id))
    return redirect(url_for("dashboard.flows", site=site.id))


@bp.get("/workflows/<int:workflow_id>")
def flow(workflow_id: int) -> str:
    definition, site = record_of_a_site(WorkflowDefinition, workflow_id, NO_WORKFLOW)
    return _flow_page(definition, site, document_text(definition), None)


@bp.post("/workflows/<int:workflow_id>/document")
def edit_flow(workflow_id: int) -> Response | tuple[str, int]:
    """Replace the workflow's document (its name too); a document that is not valid saves nothing."""
    definition, site = record_of_a_site(WorkflowDefinition, workflow_id, NO_WORKFLOW)
    text = request.form.get("document", "")
    session = db.session()
    try:
        raw = _loaded(text)
        workflow = parse_workflow(raw)
        _check_name(definition, site, workflow)
    except DefinitionError as error:
        return _flow_page(definition, site, text, str(error)), 400
    definition.name = workflow.name
    try:
        imported = import_workflow(session, site, raw, utcnow())
        session.commit()
    except IntegrityError:  # another workflow took the name since the check
        session.rollback()
        return _flow_page(definition, site, text, f"name: another workflow is named “{workflow.name}”"), 400
    lost = f"; {imported.exited} waiting runs lost their step and exited" if imported.exited else ""
    flash(f"Saved “{workflow.name}”, version {definition.version}{lost}.", "success")
    return redirect(url_for("dashboard.flow", workflow_id=definition.id))


@bp.get("/workflows/<int:workflow_id>/export.json")
def export_flow(workflow_id: int) -> Response:
    """The workflow's JSON document as a download (what `flask workflows import` reads back)."""
    definition, _site = record_of_a_site(WorkflowDefinition, workflow_id, NO_WORKFLOW)
    response = make_response(document_text(definition) + "\n")
    response.mimetype = "application/json"
    response.headers["Content-Disposition"] = f'attachment; filename="workflow-{definition.id}.json"'
    return response


def document_text(definition: WorkflowDefinition) -> str:
    return json.dumps(definition.document, indent=2, ensure_ascii=False)


def _loaded(text: str) -> Any:
    """The posted text as JSON, read as strictly as the API reads bodies; DefinitionError when it is not."""
    if len(text) > MAX_DOCUMENT:
        raise DefinitionError(f"the document has {len(text):,} characters; the limit is {MAX_DOCUMENT:,}")
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        raise DefinitionError(f"not JSON: {error.msg} (line {error.lineno}, column {error.colno})") from None
    try:
        return load_json(text.encode("utf-8"))
    except ApiError as error:
        raise DefinitionError(f"not JSON that can be stored: {error.message.removeprefix('body: ')}") from None


def _check_name(definition: WorkflowDefinition, site: Site, workflow: Workflow) -> None:
    """A new name must not be another workflow's (the import would replace that one instead)."""
    other = workflow_named(db.session(), site.id, workflow.name)
    if other is not None and other.id != definition.id:
        raise DefinitionError(f"name: another workflow of this site is named “{workflow.name}”")


def _list_page(site: Site | None, chosen: str, error: str | None) -> str:
    session = db.session()
    definitions = workflows_of(session, site.id) if site is not None else []
    return render_template(
        "dashboard/flows.html",
        site=site,
        rows=[(definition, definition_of(definition)) for definition in definitions],
        figures=workflow_figures(session, [definition.id for definition in definitions]),
        presets=presets(),
        chosen=chosen,
        error=error,
        trigger_text=trigger_text,
    )


def _flow_page(definition: WorkflowDefinition, site: Site, text: str, error: str | None) -> str:
    session = db.session()
    workflow = definition_of(definition)
    stats = workflow_stats(session, definition.id)
    before_id = request.args.get("before", type=int)
    before = by_id(session, Run, before_id) if before_id is not None else None
    runs = workflow_runs(session, definition.id, before if before and before.workflow_id == definition.id else None)
    rows = step_rows(workflow, stats)
    lift = measured_lift(workflow, stats)
    return render_template(
        "dashboard/flow.html",
        site=site,
        definition=definition,
        workflow=workflow,
        trigger=trigger_text(workflow),
        rows=rows,
        step_words={row.path: row.text for row in rows if row.path is not None},
        groups={"sent": stats.group(False), "holdout": stats.group(True)},
        whole={"sent": stats.of("", False), "holdout": stats.of("", True)},
        show_holdout=workflow.holdout > 0 or stats.group(True)["runs"] > 0,
        lift=lift,
        why_no_lift=why_no_lift(workflow, stats) if lift is None else None,
        runs=runs,
        paged=before_id is not None,
        states=[run_words(item.run, definition.enabled, site) for item in runs.runs],
        document=text,
        error=error,
    )
