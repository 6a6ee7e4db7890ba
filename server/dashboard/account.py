"""The signed-in user's own settings: the time zone its pages show times in."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from .. import db
from ..models import User
from .blueprint import bp
from .display import zone_names


@bp.get("/account")
def account() -> str:
    return _page(current_user.time_zone or "UTC", None)


@bp.post("/account/time-zone")
def set_time_zone() -> Response | tuple[str, int]:
    """Save the user's time zone, one of `zone_names()` (UTC is stored as none); a 400 naming the problem else."""
    name = request.form.get("time_zone", "").strip()
    if name not in zone_names():
        error = "Choose a time zone from the list, such as Europe/Paris or America/New_York."
        return _page(name, error), 400
    session = db.session()
    user = session.get_one(User, current_user.id)
    user.time_zone = None if name == "UTC" else name
    session.commit()
    flash(f"Saved: times are shown in {name}.", "success")
    return redirect(url_for("dashboard.account"))


def _page(chosen: str, error: str | None) -> str:
    return render_template(
        "dashboard/account.html",
        zones=zone_names(),
        chosen=chosen,
        error=error,
    )
