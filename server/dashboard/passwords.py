"""Passwords: a forgotten one reset through a link by email, and a signed-in user's own changed."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user
from werkzeug.security import check_password_hash
from werkzeug.wrappers import Response

from .. import db
from ..ingest.request_rates import limiter
from ..models import User, utcnow
from .auth import SignedInUser
from .blueprint import bp
from .reset_links import reset_email, send_reset_email, user_of_link
from .users import MIN_PASSWORD, by_email, granted_site_ids, set_password

# The reset link's page: nothing leaves it carrying the token (no Referer), nothing keeps it.
LINK_PAGE_HEADERS = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


def _limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


def _address_key() -> str:
    return f"password:{get_remote_address()}"


def _email_key() -> str:
    """Requests for one address are limited whoever sends them, so no one floods a user's inbox."""
    return f"password-email:{request.form.get('email', '').strip().lower()}"


def _new_password_error(password: str, again: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return f"Use at least {MIN_PASSWORD} characters."
    if password != again:
        return "The two passwords differ."
    return None


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(_limit, key_func=_address_key, methods=["POST"])
@limiter.limit(_limit, key_func=_email_key, methods=["POST"])
def forgot_password() -> str:
    """The form asking for the account's email; the answer is the same whether or not it is a user's."""
    sends_mail = bool(current_app.config["SMTP_URL"])
    if request.method == "GET" or not sends_mail:
        return render_template("dashboard/forgot_password.html", sends_mail=sends_mail, sent=False)
    user = by_email(db.session(), request.form.get("email", ""))
    if user is not None:
        app = current_app._get_current_object()  # type: ignore[attr-defined]  # the app behind the proxy, for the thread
        send_reset_email(app, reset_email(app, user))
    return render_template("dashboard/forgot_password.html", sends_mail=True, sent=True)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit(_limit, key_func=_address_key, methods=["POST"])
def reset_password(token: str) -> tuple[str, int, dict[str, str]] | Response:
    """The new-password form of a reset link (showing it changes nothing); its POST sets the password."""
    session = db.session()
    user = user_of_link(session, str(current_app.config["SECRET_KEY"]), token, utcnow())
    if user is None:
        return render_template("dashboard/reset_password.html", valid=False, error=None), 400, LINK_PAGE_HEADERS
    if request.method == "GET":
        return render_template("dashboard/reset_password.html", valid=True, error=None), 200, LINK_PAGE_HEADERS
    error = _new_password_error(request.form.get("password", ""), request.form.get("password_again", ""))
    if error is not None:
        return render_template("dashboard/reset_password.html", valid=True, error=error), 400, LINK_PAGE_HEADERS
    set_password(session, user, request.form["password"])
    flash("Your new password is set: sign in with it.", "success")
    return redirect(url_for("dashboard.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@limiter.limit(
    _limit,
    key_func=lambda: f"password-change:{current_user.id}",
    methods=["POST"],
    deduct_when=lambda response: response.status_code == 401,
)
def change_password() -> tuple[str, int] | str | Response:
    """A signed-in user's own password: the current one, then the new one twice. Other sessions end; this one
    stays signed in."""
    if request.method == "GET":
        return render_template("dashboard/change_password.html", errors={})
    session = db.session()
    user = session.get_one(User, current_user.id)
    errors: dict[str, str] = {}
    if not check_password_hash(user.password_hash, request.form.get("current_password", "")):
        errors["current_password"] = "This is not your current password."
        return render_template("dashboard/change_password.html", errors=errors), 401
    error = _new_password_error(request.form.get("password", ""), request.form.get("password_again", ""))
    if error is not None:
        return render_template("dashboard/change_password.html", errors={"password": error}), 400
    set_password(session, user, request.form["password"])
    login_user(SignedInUser(user, granted_site_ids(session, user)))  # this session, under the new password
    flash("Your password is changed; your other sessions are signed out.", "success")
    return redirect(url_for("dashboard.change_password"))
