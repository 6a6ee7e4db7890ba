"""The dashboard's blueprint: every page under `/`, sent with strict security headers."""

from __future__ import annotations

from flask import Blueprint, Response, render_template
from werkzeug.exceptions import HTTPException

from ..ingest.input_checks import refuse_unstorable_form

bp = Blueprint("dashboard", __name__)
bp.before_request(refuse_unstorable_form)

# Scripts, styles and images from Sibyl itself only; no framing, no plugins, forms post back here.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@bp.after_request
def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("X-Frame-Options", "DENY")  # a template's preview is framed by its own page
    response.headers.setdefault("Referrer-Policy", "same-origin")  # a page carrying a token in its URL sends none
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(HTTPException)
def _error_page(error: HTTPException) -> tuple[str, int]:
    """A page's errors as a page (the API's stay JSON): not found, expired form, too many attempts."""
    return render_template("dashboard/error.html", error=error), error.code or 500
