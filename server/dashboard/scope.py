"""Which site a dashboard page is about: `?site=ID`, else the one chosen last, else the first."""

from __future__ import annotations

from typing import TypeVar

from flask import abort, g, request, session
from flask_login import current_user
from sqlalchemy import select

from .. import db
from ..models import Contact, OutboxEmail, Site, WorkflowDefinition
from .queries import by_id

Record = TypeVar("Record", Contact, OutboxEmail, WorkflowDefinition)


def all_sites() -> list[Site]:
    """The sites the signed-in user may see, by name."""
    if "dashboard_sites" not in g:
        query = select(Site).order_by(Site.name)
        if current_user.site_ids is not None:
            query = query.where(Site.id.in_(current_user.site_ids))
        g.dashboard_sites = list(db.session().scalars(query))
    sites: list[Site] = g.dashboard_sites
    return sites


def visible_site(site_id: int | None) -> Site:
    """The site with this id when the signed-in user may see it; 404 otherwise, as if there were none."""
    site = by_id(db.session(), Site, site_id) if site_id is not None else None
    if site is None or not current_user.may_see(site.id):
        abort(404, "There is no such site.")
    return site


def require_every_site() -> None:
    """Only users who see every site may add one."""
    if current_user.site_ids is not None:
        abort(403, "Only a user who sees every site can add one.")


def current_site() -> Site | None:
    """The site this request is about (remembered in the session), or None when there is none yet."""
    sites = {site.id: site for site in all_sites()}
    wanted = request.args.get("site", type=int) or request.form.get("site", type=int) or session.get("site_id")
    site = sites.get(wanted) if wanted is not None else None
    if site is None and sites:
        site = next(iter(sites.values()))
    if site is not None:
        session["site_id"] = site.id
    g.dashboard_site = site
    return site


def remember(site: Site) -> None:
    """Make `site` the current one (a page about one site's record, e.g. a contact)."""
    session["site_id"] = site.id
    g.dashboard_site = site


def record_of_a_site(model: type[Record], row_id: int, missing: str) -> tuple[Record, Site]:
    """A contact's, an email's or a workflow's row (404 with `missing` when there is none) and its site, now the
    current one."""
    row = by_id(db.session(), model, row_id)
    if row is None or not current_user.may_see(row.site_id):
        abort(404, missing)
    site = db.session().get_one(Site, row.site_id)
    remember(site)
    return row, site
