"""Sign-in: a login form, a signed session cookie, CSRF tokens on every form, and sign-out."""

from __future__ import annotations

import hashlib
import hmac

from flask import Flask, current_app, flash, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFProtect
from werkzeug.wrappers import Response

from .. import db
from ..api.schemas import is_number
from ..errors import error_response
from ..ingest.request_rates import limiter
from ..models import User
from ..redirects import local_path
from .blueprint import bp
from .users import authenticate, granted_site_ids

login_manager = LoginManager()
csrf = CSRFProtect()

PUBLIC_ENDPOINTS = {"dashboard.login", "dashboard.forgot_password", "dashboard.reset_password"}
JSON_ENDPOINTS = {"dashboard.live_events"}


class SignedInUser(UserMixin):  # type: ignore[misc]  # Flask-Login ships no type information
    """The session's user as Flask-Login sees it: its session id changes with its password, so that a new
    password ends every session signed in with the old one."""

    def __init__(self, user: User, site_ids: set[int] | None) -> None:
        self.id = user.id
        self.email = user.email
        self.time_zone = user.time_zone  # the zone its pages show times in; None: UTC
        self.site_ids = site_ids  # the sites it may see; None for every site
        self.session_id = f"{user.id}:{_fingerprint(user.password_hash)}"

    def get_id(self) -> str:
        return self.session_id

    def may_see(self, site_id: int) -> bool:
        return self.site_ids is None or site_id in self.site_ids


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, its cookie marked Secure whenever the request came over https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


@login_manager.user_loader  # type: ignore[untyped-decorator]  # Flask-Login ships no type information
def _load_user(session_id: str) -> SignedInUser | None:
    """The signed-in user, unless it was deleted or its password changed since it signed in."""
    user_id, _, fingerprint = session_id.partition(":")
    user = db.session().get(User, int(user_id)) if is_number(user_id) else None
    if user is None or not hmac.compare_digest(fingerprint, _fingerprint(user.password_hash)):
        return None
    return SignedInUser(user, granted_site_ids(db.session(), user))


@bp.before_request
def _require_sign_in() -> Response | None:
    """Check the CSRF token of every form posted here; send anonymous visitors to the login page."""
    csrf.protect()
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return None
    if request.endpoint in JSON_ENDPOINTS:
        return error_response(401, "sign in to the dashboard first")
    target = request.full_path.rstrip("?")
    return redirect(url_for("dashboard.login", next=target if target != "/" else None))


def _login_key() -> str:
    """Failed sign-ins are limited per address and email, so no one can lock out everyone."""
    return f"login:{get_remote_address()}:{request.form.get('email', '').strip().lower()}"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT"],
    key_func=_login_key,
    methods=["POST"],
    deduct_when=lambda response: response.status_code == 401,
)
def login() -> Response | tuple[str, int] | str:
    target = local_path(request.values.get("next")) or url_for("dashboard.overview")
    if current_user.is_authenticated and request.method == "GET":
        return redirect(target)
    if request.method == "GET":
        return render_template("dashboard/login.html", next=target, email="", error=None)
    email = request.form.get("email", "")
    user = authenticate(db.session(), email, request.form.get("password", ""))
    if user is None:
        page = render_template("dashboard/login.html", next=target, email=email, error="Wrong email or password.")
        return page, 401
    session.clear()  # a fresh session at sign-in: no fixation
    login_user(SignedInUser(user, granted_site_ids(db.session(), user)))
    return redirect(target)


@bp.post("/logout")
def logout() -> Response:
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("dashboard.login"))


def init_app(app: Flask) -> None:
    app.session_interface = SessionInterface()
    login_manager.init_app(app)
    csrf.init_app(app)
