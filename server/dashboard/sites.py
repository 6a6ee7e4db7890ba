"""Sites: create one, copy its tracking code, check that its traffic arrives, see its keys, set its consent mode,
choose its tracker modules, keep its contact attributes, set its brand."""

from __future__ import annotations

import re

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from .. import db
from ..contacts.attributes import (
    NORMAL_TYPES,
    AttributeRefused,
    AttributeType,
    UnknownAttribute,
    create_attribute,
    delete_attribute,
    existing_attribute,
    site_attributes,
)
from ..email_templates.brand import FIELDS as BRAND_FIELDS
from ..email_templates.brand import BrandRefused, set_brand
from ..ingest.refused_counters import totals
from ..ingest.tracker_modules import TrackerModule, UnknownModule, parse_modules, site_modules, stored
from ..ingest.trusted_servers import normalise_networks
from ..models import Site
from ..sites import (
    SiteKey,
    by_name,
    client_keys,
    create_site,
    email_hosts,
    normalise_host,
    normalise_origin,
    rotate_key,
    tracking_code,
    tracking_code_note,
    tracking_status,
)
from .blueprint import bp
from .cart_images import bad_cart_images
from .cart_recipes import RECIPES
from .scope import all_sites, remember, require_every_site, visible_site

MAX_NAME = 100
_ORIGIN_SEPARATORS = re.compile(r"[\s,]+")


@bp.get("/sites")
def sites() -> str:
    statuses = {site.id: tracking_status(site) for site in all_sites()}
    return render_template("dashboard/sites.html", statuses=statuses, form={}, errors={})


@bp.post("/sites")
def create() -> Response | tuple[str, int]:
    require_every_site()
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
    return _site_page(visible_site(site_id))


def _site_page(
    found: Site,
    attribute_form: dict[str, str] | None = None,
    attribute_errors: dict[str, str] | None = None,
    brand_form: dict[str, str] | None = None,
    brand_errors: dict[str, str] | None = None,
) -> str:
    """The site's page; a refused form shows what was typed in it, and why beside each field refused."""
    remember(found)
    return render_template(
        "dashboard/site.html",
        shown=found,
        status=tracking_status(found),
        code=tracking_code(found),
        code_note=tracking_code_note(),
        email_hosts=sorted(email_hosts(found)),
        reveal_api_key=request.args.get("reveal") == "api-key",
        refused_today=totals(db.session(), found.id, days=1),
        refused_week=totals(db.session(), found.id, days=7),
        attributes=site_attributes(db.session(), found.id),
        attribute_types=[kind.value for kind in NORMAL_TYPES],
        attribute_form=attribute_form or {"type": AttributeType.TEXT.value},
        attribute_errors=attribute_errors or {},
        brand_form=brand_form or {field: getattr(found, field) or "" for field in BRAND_FIELDS},
        brand_errors=brand_errors or {},
        cart_recipes=RECIPES,
        bad_images=bad_cart_images(db.session(), found.id),
        tracker_modules=list(TrackerModule),
        chosen_modules=site_modules(found.tracker_modules),
    )


@bp.post("/sites/<int:site_id>/attributes")
def add_attribute(site_id: int) -> Response | tuple[str, int]:
    """A new contact attribute: identify() calls and the APIs may then set it."""
    found = visible_site(site_id)
    form = {"name": request.form.get("name", "").strip(), "type": request.form.get("type", "")}
    kind = next((kind for kind in NORMAL_TYPES if kind.value == form["type"]), None)
    if kind is None:
        return _site_page(found, form, {"type": "Choose one of the types listed."}), 400
    try:
        attribute = create_attribute(db.session(), found.id, form["name"], kind)
    except AttributeRefused as refused:
        return _site_page(found, form, {"name": _sentence(refused.reason)}), 400
    flash(f"Attribute {attribute.name} added: identify() calls and the APIs can now set it.", "success")
    return redirect(url_for("dashboard.site", site_id=found.id, _anchor="attributes-title"))


@bp.post("/sites/<int:site_id>/attributes/<name>/delete")
def remove_attribute(site_id: int, name: str) -> Response:
    """Delete an attribute and its values on every contact of the site."""
    found = visible_site(site_id)
    session = db.session()
    try:
        attribute = existing_attribute(session, found.id, name, None)
    except UnknownAttribute:
        abort(404, "The site has no such attribute.")
    attribute_name = attribute.name
    cleared = delete_attribute(session, attribute)
    flash(f"Attribute {attribute_name} deleted, and its values removed from {cleared} contacts.", "success")
    return redirect(url_for("dashboard.site", site_id=site_id, _anchor="attributes-title"))


@bp.post("/sites/<int:site_id>/brand")
def save_brand(site_id: int) -> Response | tuple[str, int]:
    """The shop's brand, which the default email templates show: every value checked, none saved if one is refused."""
    session = db.session()
    found = visible_site(site_id)
    form = {field: request.form.get(field, "") for field in BRAND_FIELDS}
    errors: dict[str, str] = {}
    for field, text in form.items():
        try:
            set_brand(found, field, text)
        except BrandRefused as refused:
            errors[field] = _sentence(refused.message)
    if errors:
        session.rollback()
        return _site_page(found, brand_form=form, brand_errors=errors), 400
    session.commit()
    flash("Brand saved: emails written from now on show it.", "success")
    return redirect(url_for("dashboard.site", site_id=found.id, _anchor="brand-title"))


def _sentence(reason: str) -> str:
    """A refusal's reason as a sentence shown beside its field."""
    return reason[:1].upper() + reason[1:] + "."


@bp.post("/sites/<int:site_id>/privacy")
def save_privacy(site_id: int) -> Response:
    """Consent mode and Do-Not-Track: both go into the tracking code, which must then be pasted again."""
    session = db.session()
    found = visible_site(site_id)
    found.require_consent = request.form.get("require_consent") == "on"
    found.respect_dnt = request.form.get("respect_dnt") == "on"
    session.commit()
    flash("Saved. Paste the updated tracking code on your site for the change to take effect.", "success")
    return redirect(url_for("dashboard.site", site_id=found.id))


@bp.post("/sites/<int:site_id>/engagement")
def save_engagement(site_id: int) -> Response:
    """The open pixel, in the emails written from now on (clicks are always counted)."""
    session = db.session()
    found = visible_site(site_id)
    found.open_pixel = request.form.get("open_pixel") == "on"
    session.commit()
    carry = "carry the open pixel" if found.open_pixel else "carry no open pixel"
    flash(f"Saved: emails written from now on {carry}.", "success")
    return redirect(url_for("dashboard.site", site_id=found.id, _anchor="engagement-title"))


@bp.post("/sites/<int:site_id>/tracker-modules")
def save_tracker_modules(site_id: int) -> Response:
    """The tracker's optional modules: sa.js serves them within seconds, with the same tracking code."""
    session = db.session()
    found = visible_site(site_id)
    try:
        found.tracker_modules = stored(parse_modules(",".join(request.form.getlist("modules"))))
    except UnknownModule as error:
        abort(400, str(error))
    session.commit()
    client_keys.forget(found.client_key)  # this process's copy of the site; others refresh within seconds
    flash("Saved: the tracker sends these events from now on, with the same tracking code.", "success")
    return redirect(url_for("dashboard.site", site_id=found.id, _anchor="modules-title"))


@bp.post("/sites/<int:site_id>/email-hosts")
def save_email_hosts(site_id: int) -> Response:
    """Hosts besides the origins' that the site's emails may link to and show images from."""
    session = db.session()
    found = visible_site(site_id)
    try:
        given = _ORIGIN_SEPARATORS.split(request.form.get("hosts", ""))
        hosts = sorted({normalise_host(host) for host in given if host})
    except ValueError as error:
        flash(f"Not saved: {error}. Write host names such as cdn.shop.example.", "error")
        return redirect(url_for("dashboard.site", site_id=found.id))
    found.email_hosts = hosts
    session.commit()
    flash("Saved: emails link only to the hosts listed.", "success")
    return redirect(url_for("dashboard.site", site_id=found.id))


@bp.post("/sites/<int:site_id>/servers")
def save_servers(site_id: int) -> Response:
    """The shop's own servers, whose tracker REST calls with the client key are trusted like the secret key."""
    session = db.session()
    found = visible_site(site_id)
    try:
        servers = normalise_networks(_ORIGIN_SEPARATORS.split(request.form.get("servers", "")))
    except ValueError as error:
        flash(f"Not saved: {error}. Write addresses such as 203.0.113.7 or ranges such as 10.0.0.0/24.", "error")
        return redirect(url_for("dashboard.site", site_id=found.id))
    found.servers = servers
    session.commit()
    client_keys.forget(found.client_key)  # this process's copy of the site; others refresh within seconds
    flash("Saved: tracker calls from these servers are trusted like the secret key.", "success")
    return redirect(url_for("dashboard.site", site_id=found.id))


@bp.post("/sites/<int:site_id>/rotate-key")
def rotate(site_id: int) -> Response:
    """A new client or api key; the old one is refused from now on."""
    found = visible_site(site_id)
    try:
        which = SiteKey(request.form.get("key", ""))
    except ValueError:
        abort(400, "key: client or api")
    rotate_key(db.session(), found, which)
    if which is SiteKey.CLIENT:
        flash("New client key. Paste the updated tracking code on your site now: the old key is refused.", "success")
        return redirect(url_for("dashboard.site", site_id=found.id))
    flash("New API key. Put it in your shop's server settings now: the old key is refused.", "success")
    return redirect(url_for("dashboard.site", site_id=found.id, reveal="api-key"))
