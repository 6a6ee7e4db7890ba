"""The outbox: every automation email with its status, and each one previewed in a sandbox."""

from __future__ import annotations

from flask import make_response, render_template, request
from werkzeug.wrappers import Response

from .. import db
from ..models import Contact, OutboxEmail
from .blueprint import bp
from .queries import OUTBOX_FILTERS, outbox_page
from .scope import current_site, record_of_a_site

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
    return render_template("dashboard/outbox.html", site=site, status=status, page=page)


@bp.get("/outbox/<int:email_id>")
def email(email_id: int) -> Response:
    session = db.session()
    found, site = record_of_a_site(OutboxEmail, email_id, "There is no such email.")
    contact = session.get(Contact, found.contact_id) if found.contact_id else None
    response = make_response(render_template("dashboard/email.html", site=site, email=found, contact=contact))
    response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    return response
