"""v3's contacts: read, list, create, update and delete them, by email, id or ext_id."""

from __future__ import annotations

from datetime import time
from typing import Any

from flask import Response, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ... import db
from ...automation import runs
from ...contacts.addresses import InvalidAddress, email_address
from ...contacts.identity import ContactBook, contact_by_email, contact_by_ext_id, contact_by_id
from ...contacts.privacy import erase_contact
from ...errors import ApiError
from ...mail.unsubscribe import unsubscribe
from ...models import Contact, Site, utcnow
from ..keys import site_from_api_key
from ..schemas import MAX_ID, V3CreateContact, V3UpdateContact, is_number, parse_body
from .blueprint import bp
from .formats import brevo_time, int_arg, parse_date

MAX_CONTACTS_PAGE = 1000


def contact_json(contact: Contact) -> dict[str, Any]:
    """A contact as Brevo's `GetContactDetails` lists it."""
    body: dict[str, Any] = {"email": contact.email, "id": contact.id}
    if contact.ext_id is not None:
        body["ext_id"] = contact.ext_id
    return body | {
        "emailBlacklisted": contact.email_blacklisted,
        "smsBlacklisted": contact.sms_blacklisted,
        "whatsappBlacklisted": False,
        "createdAt": brevo_time(contact.created_at),
        "modifiedAt": brevo_time(contact.modified_at),
        "attributes": contact.attributes or {},
        "listIds": [],
    }


def contact_by_identifier(session: Session, site: Site, identifier: str, kind: str | None) -> Contact | None:
    """A contact by email, id or ext_id; `identifierType` settles ambiguity (Brevo's default: digits are ids)."""
    kind = kind or ("contact_id" if is_number(identifier) else "email_id")
    if kind == "ext_id":
        return contact_by_ext_id(session, site.id, identifier)
    if kind == "contact_id":
        if not is_number(identifier):
            raise ApiError(400, "identifier: a contact_id must be a number")
        return contact_by_id(session, site.id, int(identifier)) if int(identifier) <= MAX_ID else None
    if kind == "email_id":
        try:
            email = email_address(identifier)
        except InvalidAddress as error:
            raise ApiError(400, f"identifier: not a valid email address: {error}") from None
        return contact_by_email(session, site.id, email)
    raise ApiError(400, f"identifierType: unsupported value {kind!r} (use email_id, contact_id or ext_id)")


def existing_contact(session: Session, site: Site, identifier: str) -> Contact:
    contact = contact_by_identifier(session, site, identifier, request.args.get("identifierType"))
    if contact is None:
        raise ApiError(404, "Contact does not exist")
    return contact


@bp.get("/contacts/<identifier:identifier>")
def get_contact(identifier: str) -> Response:
    contact = existing_contact(db.session(), site_from_api_key(), identifier)
    return jsonify(contact_json(contact) | {"statistics": {}})


@bp.post("/contacts")
def create_contact() -> Response | tuple[Response, int]:
    """201 `{id}` for a new contact; with `updateEnabled`, 204 after updating an existing one."""
    site = site_from_api_key()
    body = parse_body(V3CreateContact)
    session = db.session()
    existing = _named_contact(session, site, body)
    if existing is not None and not body.updateEnabled:
        raise ApiError(
            400, "Unable to create contact, email is already associated with another Contact", "duplicate_parameter"
        )
    contact = existing or Contact(site_id=site.id, email=body.email, ext_id=body.ext_id, attributes={})
    session.add(contact)
    _apply_contact_changes(session, site, contact, body)
    if existing is None:
        session.flush()
        runs.contact_created(session.connection(), site, contact.id, utcnow())
    _commit_contact(session)
    return Response(status=204) if existing is not None else (jsonify(id=contact.id), 201)


@bp.put("/contacts/<identifier:identifier>")
def update_contact(identifier: str) -> Response:
    site = site_from_api_key()
    body = parse_body(V3UpdateContact)
    session = db.session()
    contact = existing_contact(session, site, identifier)
    _apply_contact_changes(session, site, contact, body)
    _commit_contact(session)
    return Response(status=204)


@bp.delete("/contacts/<identifier:identifier>")
def delete_contact(identifier: str) -> Response:
    """The contact and, with it, its events, carts and emails."""
    site = site_from_api_key()
    session = db.session()
    erase_contact(session, existing_contact(session, site, identifier))
    return Response(status=204)


@bp.get("/contacts")
def list_contacts() -> Response:
    site = site_from_api_key()
    limit = int_arg("limit", 50, 1, MAX_CONTACTS_PAGE)
    offset = int_arg("offset", 0, 0, None)
    sort = request.args.get("sort", "desc")
    if sort not in ("asc", "desc"):
        raise ApiError(400, "sort: use asc or desc")
    query = select(Contact).where(Contact.site_id == site.id)
    for name, column in (("modifiedSince", Contact.modified_at), ("createdSince", Contact.created_at)):
        if request.args.get(name):
            query = query.where(column >= parse_date(name, request.args[name], time.min))
    session = db.session()
    count = session.scalar(select(func.count()).select_from(query.subquery()))
    order = (Contact.created_at, Contact.id) if sort == "asc" else (Contact.created_at.desc(), Contact.id.desc())
    page = session.scalars(query.order_by(*order).limit(limit).offset(offset))
    return jsonify(contacts=[contact_json(contact) for contact in page], count=count)


def _named_contact(session: Session, site: Site, body: V3CreateContact) -> Contact | None:
    """The contact a new contact's body names: by its email when it gives one, else by its ext_id."""
    if body.email is not None:
        return contact_by_email(session, site.id, body.email)
    return contact_by_ext_id(session, site.id, body.ext_id) if body.ext_id is not None else None


def _apply_contact_changes(
    session: Session, site: Site, contact: Contact, body: V3CreateContact | V3UpdateContact
) -> None:
    """Merge the given attributes (`EMAIL` changes the address) and flags into the contact.

    A secret-key call vouches for the contact (confirmed-only workflows may email it); blacklisting
    its email unsubscribes it, as the link in an email does.
    """
    attributes = dict(body.attributes or {})
    given = [attributes.pop(key) for key in [key for key in attributes if key.upper() == "EMAIL"]]
    new_email = next((value for value in given if value), None)
    if new_email is not None:
        if not isinstance(new_email, str):
            raise ApiError(400, "attributes.EMAIL: not a valid email address: expected a string")
        try:
            contact.email = email_address(new_email)
        except InvalidAddress as error:
            raise ApiError(400, f"attributes.EMAIL: not a valid email address: {error}") from None
    if body.ext_id is not None:
        contact.ext_id = body.ext_id
    if body.emailBlacklisted and not contact.email_blacklisted:
        session.flush()
        unsubscribe(session, contact)
    elif body.emailBlacklisted is not None:
        contact.email_blacklisted = body.emailBlacklisted
        contact.email_blacklist_reason = contact.email_blacklist_reason if body.emailBlacklisted else None
    if body.smsBlacklisted is not None:
        contact.sms_blacklisted = body.smsBlacklisted
    session.flush()
    ContactBook(session, site).set_attributes(contact, attributes)
    contact.modified_at = utcnow()
    contact.confirmed_at = contact.confirmed_at or contact.modified_at


def _commit_contact(session: Session) -> None:
    """Commit, turning a clash with another contact's email or ext_id into Brevo's 400."""
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ApiError(
            400, "email or ext_id is already associated with another Contact", "duplicate_parameter"
        ) from None
