"""Sites: create one, copy its tracking code, check that its traffic arrives, see its keys, set its consent mode."""
from __future__ import annotations

import re

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from .. import db
from ..counters import totals
from ..models import Site
from ..sites import by_name, create_site, normalise_origin, snippet, tracking_status
from .blueprint import bp
from .queries import by_id
from .scope import all_sites, remember

MAX_NAME = 100
_ORIGIN_SEPARATORS = re.compile(r"[\s,]+")


@bp.get("/sites")
def sites() -> str:
    statuses = {site.id: tracking_status(site) for site in all_sites()}
    return render_template("dashboard/sites.html", statuses=statuses, form={}, errors={})


@bp.post("/sites")
def create() -> Response | tuple[str, int]:
    name = request.form.get("name", "").strip()
    origins_text = request.form.get("origins", "")
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Give the site a name, e.g. your shop's."
    elif len(name) > MAX_NAME:
        errors["name"] = f"At most {MAX_NAME} characters."
    elif by_name(db.session(), name) is not None:
        errors["name"] = "A site with this name already exists."
    origins = [origin for origin in _ORIGIN_SEPARATORS.split(origins_text) if origin]
    for origin in origins:
        try:
            normalise_origin(origin)
        except ValueError:
            errors["origins"] = f"{origin} is not an origin: write it as https://shop.example"
            break
    if errors:
        statuses = {site.id: tracking_status(site) for site in all_sites()}
        form = {"name": name, "origins": origins_text}
        return render_template("dashboard/sites.html", statuses=statuses, form=form, errors=errors), 400
    site = create_site(db.session(), name, origins, current_app.config["CART_DELAY"])
    remember(site)
    flash(f"Site {site.name} created. Paste its tracking code just before </head> on every page.", "success")
    return redirect(url_for("dashboard.site", site_id=site.id))


@bp.get("/sites/<int:site_id>")
def site(site_id: int) -> str:
    found = by_id(db.session(), Site, site_id)
    if found is None:
        abort(404, "There is no such site.")
    remember(found)
    base_url = current_app.config["PUBLIC_URL"]  # SIBYL_PUBLIC_URL, never the request's Host
    return render_template(
        "dashboard/site.html",
        shown=found,
        status=tracking_status(found),
        code=snippet(found, base_url),
        reveal_api_key=request.args.get("reveal") == "api-key",
        refused_today=totals(db.session(), found.id, days=1),
        refused_week=totals(db.session(), found.id, days=7),
    )


@bp.post("/sites/<int:site_id>/privacy")
def save_privacy(site_id: int) -> Response:
    """Consent mode and Do-Not-Track: both go into the tracking code, which must then be pasted again."""
    session = db.session()
    found = by_id(session, Site, site_id)
    if found is None:
        abort(404, "There is no such site.")
    found.require_consent = request.form.get("require_consent") == "on"
    found.respect_dnt = request.form.get("respect_dnt") == "on"
    session.commit()
    flash("Saved. Paste the updated tracking code on your site for the change to take effect.", "success")
    return redirect(url_for("dashboard.site", site_id=found.id))
