"""The outbox: every automation email with its status, each one previewed in a sandbox, and the emails held while no
mail server was set released for sending."""

from __future__ import annotations

from flask import current_app, flash, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from .. import db
from ..mail.outbox import RELEASE_MAX_AGE, held_count, release_held
from ..models import Contact, OutboxEmail, utcnow
from .blueprint import bp
from .queries import OUTBOX_FILTERS, outbox_page
from .scope import current_site, record_of_a_site, visible_site

# The preview page runs no script at all, and the email inside it (a sandboxed srcdoc frame, which
# inherits this policy) may show its own inline styles, nothing else: no remote image is fetched, so
# opening a preview tells no one that the owner looked (images show as their alt text).
PREVIEW_POLICY = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@bp.get("/outbox")
def outbox() -> str:
    site = current_site()
    status = request.args.get("status", "all")
    status = status if status in OUTBOX_FILTERS else "all"
    page = outbox_page(db.session(), site.id, status, request.args.get("page", 1, type=int)) if site else None
    return render_template(
        "dashboard/outbox.html",
        site=site,
        status=status,
        page=page,
        held=held_count(db.session(), site.id) if site else 0,
        delivers=bool(current_app.config["SMTP_URL"]),
    )


@bp.post("/outbox/release")
def release() -> Response:
    """Send the site's held emails: pending and due now, for the worker's next pass (as `flask outbox release`)."""
    site = visible_site(request.form.get("site", type=int))
    if not current_app.config["SMTP_URL"]:
        flash("No mail server is set: set SIBYL_SMTP_URL and restart, then send the held emails.", "error")
        return redirect(url_for("dashboard.outbox", site=site.id))
    session = db.session()
    done = release_held(session, utcnow(), site.id, RELEASE_MAX_AGE)
    session.commit()
    skipped = done.stale + done.changed
    not_sent = f" {skipped} too old or whose cart changed meanwhile were cancelled." if skipped else ""
    flash(f"Released {done.released} held emails: the worker sends them now.{not_sent}", "success")
    return redirect(url_for("dashboard.outbox", site=site.id))


@bp.get("/outbox/<int:email_id>")
def email(email_id: int) -> Response:
    session = db.session()
    found, site = record_of_a_site(OutboxEmail, email_id, "There is no such email.")
    contact = session.get(Contact, found.contact_id) if found.contact_id else None
    response = make_response(render_template("dashboard/email.html", site=site, email=found, contact=contact))
    response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    return response
