"""Contacts: a searchable list, each contact's attributes, visitor ids, timeline and carts; export and erasure."""

from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from .. import db
from ..contacts.privacy import erase_contact, export_contact
from ..models import Contact
from .blueprint import bp
from .queries import carts_of, contacts_page, held_carts, timeline_page, visitors_of
from .scope import current_site, record_of_a_site

MAX_SEARCH = 200


@bp.get("/contacts")
def contacts() -> str:
    site = current_site()
    search = request.args.get("q", "").strip()[:MAX_SEARCH]
    number = request.args.get("page", 1, type=int)
    page = contacts_page(db.session(), site.id, search, number) if site else None
    return render_template("dashboard/contacts.html", site=site, search=search, page=page)


@bp.get("/contacts/<int:contact_id>")
def contact(contact_id: int) -> str:
    session = db.session()
    found, site = record_of_a_site(Contact, contact_id, "There is no such contact.")
    carts = carts_of(session, found.id)
    return render_template(
        "dashboard/contact.html",
        site=site,
        contact=found,
        visitors=visitors_of(session, found.id),
        carts=carts,
        held=held_carts(session, [cart.id for cart in carts]),
        timeline=timeline_page(session, found.id, request.args.get("page", 1, type=int)),
    )


@bp.get("/contacts/<int:contact_id>/export.json")
def export_contact_json(contact_id: int) -> Response:
    """Everything stored about the contact, as a JSON download (a data subject's access request)."""
    found, _site = record_of_a_site(Contact, contact_id, "There is no such contact.")
    response = jsonify(export_contact(db.session(), found))
    response.headers["Content-Disposition"] = f'attachment; filename="contact-{found.id}.json"'
    return response


@bp.post("/contacts/<int:contact_id>/delete")
def delete_contact(contact_id: int) -> Response:
    found, _site = record_of_a_site(Contact, contact_id, "There is no such contact.")
    label = found.email or f"contact #{found.id}"
    erase_contact(db.session(), found)
    flash(f"Deleted {label} with all its events, carts and emails.", "success")
    return redirect(url_for("dashboard.contacts"))
