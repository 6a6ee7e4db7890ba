"""The abandoned-cart workflow of a site: its settings (as `flask workflows set` changes them) and its runs."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from .. import db
from ..api.schemas import is_number
from ..automation.carts import MAX_DELAY, MAX_PERIOD, MAX_RESETS, workflow_of
from ..automation.library import cart_settings_changed
from ..automation.quiet_hours import QuietHours, zone_named
from ..config import parse_duration
from ..models import Site, Workflow, utcnow
from ..sending_setup.checks import not_sending_reason, sending_checks
from .blueprint import bp
from .display import duration
from .queries import RUN_FILTERS, cart_counts, failed_count, runs_page
from .runs import describe
from .scope import all_sites, current_site, visible_site

MAX_SUBJECT = 255
PROBE_MAX_AGE = 60  # seconds: the page asks the mail server again at most once a minute


@bp.get("/automation")
def automation() -> str:
    site = current_site()
    if site is None:
        return render_template("dashboard/automation.html", site=None, **_sending_setup())
    workflow = workflow_of(db.session(), site.id)
    form = {
        "enabled": workflow.enabled,
        "delay": duration(workflow.delay_seconds),
        "reentry": workflow.reentry,
        "max_resets": str(workflow.max_resets),
        "subject": workflow.subject,
        "contact_period": duration(workflow.contact_period_seconds),
        "confirmed_only": workflow.confirmed_only,
        "quiet_hours": str(QuietHours.stored(workflow.quiet_start, workflow.quiet_end) or ""),
        "time_zone": workflow.time_zone,
    }
    return _page(site, workflow, form, {})


@bp.post("/automation")
def save_workflow() -> Response | tuple[str, int]:
    site = visible_site(request.form.get("site", type=int))
    session = db.session()
    workflow = workflow_of(session, site.id)
    old_delay = workflow.delay_seconds
    form = {
        "enabled": request.form.get("enabled") == "on",
        "delay": request.form.get("delay", "").strip(),
        "reentry": request.form.get("reentry") == "on",
        "max_resets": request.form.get("max_resets", "").strip(),
        "subject": request.form.get("subject", "").strip(),
        "contact_period": request.form.get("contact_period", "").strip(),
        "confirmed_only": request.form.get("confirmed_only") == "on",
        "quiet_hours": request.form.get("quiet_hours", "").strip(),
        "time_zone": request.form.get("time_zone", "").strip() or "UTC",
    }
    errors: dict[str, str] = {}
    quiet: QuietHours | None = None
    try:
        quiet = QuietHours.parse(str(form["quiet_hours"])) if form["quiet_hours"] else None
    except ValueError as error:
        errors["quiet_hours"] = f"{str(error).capitalize()}; empty: none."
    if zone_named(str(form["time_zone"])) is None:
        errors["time_zone"] = "An IANA time zone, such as Europe/Paris or America/New_York."
    period = 0.0
    try:
        period = parse_duration(str(form["contact_period"]))
        if period > MAX_PERIOD:
            errors["contact_period"] = "At most 365 days."
    except ValueError:
        errors["contact_period"] = "Write a duration: 0, or 12h, 1d, 7d."
    delay = 0.0
    try:
        delay = parse_duration(str(form["delay"]))
        if not 0 < delay <= MAX_DELAY:
            errors["delay"] = "Between 1 second and 30 days."
    except ValueError:
        errors["delay"] = "Write a duration: seconds, or 90s, 15m, 2h, 1d."
    if not is_number(str(form["max_resets"])) or int(str(form["max_resets"])) > MAX_RESETS:
        errors["max_resets"] = f"A whole number from 0 to {MAX_RESETS:,}."
    if not form["subject"] or len(str(form["subject"])) > MAX_SUBJECT:
        errors["subject"] = f"Between 1 and {MAX_SUBJECT} characters."
    if errors:
        return _page(site, workflow, form, errors), 400
    workflow.enabled, workflow.reentry = bool(form["enabled"]), bool(form["reentry"])
    workflow.delay_seconds, workflow.max_resets = delay, int(str(form["max_resets"]))
    workflow.subject = str(form["subject"])
    workflow.contact_period_seconds, workflow.confirmed_only = period, bool(form["confirmed_only"])
    workflow.quiet_start, workflow.quiet_end = (quiet.start, quiet.end) if quiet else (None, None)
    workflow.time_zone = str(form["time_zone"])
    cart_settings_changed(session, site, workflow, old_delay, utcnow())
    session.commit()
    flash(f"Saved: the workflow is {'on' if workflow.enabled else 'off'}, delay {duration(delay)}.", "success")
    return redirect(url_for("dashboard.automation", site=site.id))


def _page(site: Site, workflow: Workflow, form: dict[str, object], errors: dict[str, str]) -> str:
    session = db.session()
    status = request.args.get("status", "all")
    status = status if status in RUN_FILTERS else "all"
    page = runs_page(session, site.id, status, request.args.get("page", 1, type=int))
    now = utcnow()
    return render_template(
        "dashboard/automation.html",
        site=site,
        workflow=workflow,
        form=form,
        errors=errors,
        status=status,
        page=page,
        states=[describe(run, workflow, now) for run in page.items],
        counts=cart_counts(session, site.id),
        failed=failed_count(session, site.id),
        **_sending_setup(),
    )


def _sending_setup() -> dict[str, object]:
    """The Sending setup card's checks (over the sites this user sees), and why workflows that are on send nothing."""
    now = utcnow()
    session = db.session()
    return {
        "sending_checks": sending_checks(current_app, session, all_sites(), now, probe_max_age=PROBE_MAX_AGE),
        "not_sending": not_sending_reason(current_app, session, now),
    }
