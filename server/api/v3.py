"""Brevo's v3 API subset (`api-key`), answering in Brevo's shapes so its SDKs work."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, time
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.blueprints import BlueprintSetupState
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.routing import PathConverter

from .. import db
from ..contacts.addresses import InvalidAddress, email_address
from ..contacts.attributes import (
    NORMAL_TYPES,
    AttributeCategory,
    AttributeRefused,
    AttributeType,
    UnknownAttribute,
    attribute_json,
    create_attribute,
    delete_attribute,
    existing_attribute,
    set_enumeration,
    site_attributes,
)
from ..contacts.identity import ContactBook
from ..contacts.privacy import erase_contact
from ..errors import ApiError
from ..ingest import sizes
from ..ingest.pipeline import IncomingEvent, client_time, event_time, ingest
from ..mail.unsubscribe import unsubscribe
from ..models import Attribute, Contact, Event, Site, utcnow
from ..sites import tracking_status
from .keys import site_from_api_key
from .schemas import (
    MAX_ID,
    V3CreateAttribute,
    V3CreateContact,
    V3Event,
    V3EventBatch,
    V3UpdateAttribute,
    V3UpdateContact,
    is_number,
    json_body,
    parse,
    parse_body,
)

bp = Blueprint("v3", __name__, url_prefix="/v3")


class ContactIdentifier(PathConverter):
    """A path's rest, line breaks included, so that an address holding one gets the 400 that names it."""

    regex = r"[^/](?s:.)*?"


@bp.record_once
def _register_converter(state: BlueprintSetupState) -> None:
    state.app.url_map.converters["identifier"] = ContactIdentifier

MAX_EVENTS_PAGE = 10000
MAX_CONTACTS_PAGE = 1000


def brevo_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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


def find_contact(session: Session, site: Site, identifier: str, kind: str | None) -> Contact | None:
    """A contact by email, id or ext_id; `identifierType` settles ambiguity (Brevo's default: digits are ids)."""
    kind = kind or ("contact_id" if is_number(identifier) else "email_id")
    if kind == "ext_id":
        return session.scalar(select(Contact).where(Contact.site_id == site.id, Contact.ext_id == identifier))
    if kind == "contact_id":
        if not is_number(identifier):
            raise ApiError(400, "identifier: a contact_id must be a number")
        if int(identifier) > MAX_ID:
            return None
        contact = session.get(Contact, int(identifier))
        return contact if contact is not None and contact.site_id == site.id else None
    if kind == "email_id":
        try:
            email = email_address(identifier)
        except InvalidAddress as error:
            raise ApiError(400, f"identifier: not a valid email address: {error}") from None
        return session.scalar(select(Contact).where(Contact.site_id == site.id, Contact.email == email))
    raise ApiError(400, f"identifierType: unsupported value {kind!r} (use email_id, contact_id or ext_id)")


def existing_contact(session: Session, site: Site, identifier: str) -> Contact:
    contact = find_contact(session, site, identifier, request.args.get("identifierType"))
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
    existing = _contact_by(session, site, body.email, body.ext_id)
    if existing is not None and not body.updateEnabled:
        raise ApiError(400, "Unable to create contact, email is already associated with another Contact",
                       "duplicate_parameter")
    contact = existing or Contact(site_id=site.id, email=body.email, ext_id=body.ext_id, attributes={})
    session.add(contact)
    _apply_contact_changes(session, site, contact, body)
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


@bp.get("/contacts/attributes")
def list_attributes() -> Response:
    site = site_from_api_key()
    return jsonify(attributes=[attribute_json(attribute) for attribute in site_attributes(db.session(), site.id)])


@bp.post("/contacts/attributes/<category>/<name>")
def create_attribute_route(category: str, name: str) -> Response:
    """201 for a new attribute: `normal` with a `type` (text by default), or `category` with its `enumeration`."""
    site = site_from_api_key()
    body = parse(V3CreateAttribute, json_body() if request.get_data() else {})  # a body is optional: a text attribute
    kind = _attribute_type(_category(category), body)
    try:
        create_attribute(db.session(), site.id, name, kind, body.choices())
    except AttributeRefused as refused:
        raise ApiError(400, str(refused), "duplicate_parameter" if refused.duplicate else None) from None
    return Response(status=201)


@bp.put("/contacts/attributes/<category>/<name>")
def update_attribute_route(category: str, name: str) -> Response:
    """204 after replacing a category attribute's `enumeration`, the one thing Sibyl's attributes can change."""
    site = site_from_api_key()
    body = parse_body(V3UpdateAttribute)
    _refuse_unsupported(body)
    session = db.session()
    attribute = _existing_attribute(session, site, category, name)
    if attribute.type != AttributeType.CATEGORY:
        raise ApiError(400, f"attributeName: {attribute.name} is a {attribute.type} attribute; "
                            "only a category attribute's enumeration can be changed")
    if body.enumeration is None:
        raise ApiError(400, "enumeration: give the category's new list of {value, label}")
    try:
        set_enumeration(session, attribute, body.choices() or [])
    except AttributeRefused as refused:
        raise ApiError(400, str(refused)) from None
    return Response(status=204)


@bp.delete("/contacts/attributes/<category>/<name>")
def delete_attribute_route(category: str, name: str) -> Response:
    """204 once the attribute and every contact's value of it are gone."""
    site = site_from_api_key()
    session = db.session()
    delete_attribute(session, _existing_attribute(session, site, category, name))
    return Response(status=204)


def _category(text: str) -> AttributeCategory:
    try:
        return AttributeCategory(text)
    except ValueError:
        raise ApiError(400, f"attributeCategory: {text!r} is not supported (use normal or category)") from None


def _existing_attribute(session: Session, site: Site, category: str, name: str) -> Attribute:
    try:
        return existing_attribute(session, site.id, name, _category(category))
    except UnknownAttribute:
        raise ApiError(404, f"Attribute {name} does not exist in category {category}") from None


def _refuse_unsupported(body: V3CreateAttribute | V3UpdateAttribute) -> None:
    """Brevo's fields for calculated, global and multiple-choice attributes, which Sibyl does not keep."""
    for field, given in (("value", body.value), ("multiCategoryOptions", body.multiCategoryOptions)):
        if given is not None:
            raise ApiError(400, f"{field}: calculated, global and multiple-choice attributes are not supported")


def _attribute_type(category: AttributeCategory, body: V3CreateAttribute) -> AttributeType:
    """The new attribute's type, from its category and the body's `type` and `enumeration`."""
    _refuse_unsupported(body)
    if body.isRecurring is not None:
        raise ApiError(400, "isRecurring: calculated and global attributes are not supported")
    if category is AttributeCategory.CATEGORY:
        if body.type not in (None, AttributeType.CATEGORY.value):
            raise ApiError(400, "type: a category attribute's type is category")
        return AttributeType.CATEGORY
    if body.enumeration is not None:
        raise ApiError(400, "enumeration: only a category attribute has one (use the category attributeCategory)")
    if body.type is None:
        return AttributeType.TEXT
    for kind in NORMAL_TYPES:
        if kind.value == body.type:
            return kind
    supported = ", ".join(kind.value for kind in NORMAL_TYPES)
    raise ApiError(400, f"type: {body.type!r} is not supported for a normal attribute (use {supported})")


def _contact_by(session: Session, site: Site, email: str | None, ext_id: str | None) -> Contact | None:
    if email is not None:
        return session.scalar(select(Contact).where(Contact.site_id == site.id, Contact.email == email))
    return session.scalar(select(Contact).where(Contact.site_id == site.id, Contact.ext_id == ext_id))


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


@bp.post("/events")
def create_event() -> Response:
    """One custom event through the common ingest path; 204 as Brevo answers."""
    site = site_from_api_key()
    session = db.session()
    ingest(session, site, [_incoming(session, site, parse_body(V3Event))])
    return Response(status=204)


@bp.post("/events/batch")
def create_events_batch() -> tuple[Response, int]:
    """Each valid event stored: 202 when all were, 207 when some were, 400 when none."""
    site = site_from_api_key()
    batch = parse_body(V3EventBatch)
    session = db.session()
    accepted: list[IncomingEvent] = []
    errors: list[dict[str, Any]] = []
    for index, raw in enumerate(batch.events):
        try:
            accepted.append(_incoming(session, site, parse(V3Event, raw)))
        except ApiError as error:
            errors.append({"eventIndex": [index], "message": error.message})
    if accepted:
        ingest(session, site, accepted)
    summary = {
        "message": f"{len(accepted)} of {len(batch.events)} events accepted",
        "count": len(accepted),
        "status": "accepted" if not errors else ("partial" if accepted else "failed"),
        "total_events": len(batch.events),
        "successful_events": len(accepted),
        "failed_events": len(errors),
        "errors": errors,
    }
    status = 202 if not errors else (207 if accepted else 400)
    return jsonify(summary), status


def _incoming(session: Session, site: Site, event: V3Event) -> IncomingEvent:
    """A v3 event in the common shape; `event_properties` with `id`/`data` also act as Brevo's eventdata."""
    properties = event.event_properties or {}
    size = len(json.dumps(properties, separators=(",", ":")).encode())
    if size > sizes.V3_EVENT_PROPERTIES_BYTES:
        raise ApiError(413, f"event_properties: {size} bytes; the limit is {sizes.V3_EVENT_PROPERTIES_BYTES}")
    ids = event.identifiers
    if ids.contact_id is not None:
        contact = session.get(Contact, ids.contact_id)
        if contact is None or contact.site_id != site.id:
            raise ApiError(404, "identifiers.contact_id: Contact does not exist")
    eventdata: dict[str, Any] | None = None
    if "id" in properties or "data" in properties:
        eventdata = {key: properties[key] for key in ("id", "data") if key in properties}
    sent_ms, now = int(event.event_date.timestamp() * 1000) if event.event_date else None, utcnow()
    return IncomingEvent(
        message_id=uuid.uuid4().hex,
        kind="track",
        name=event.event_name,
        occurred_at=event_time(sent_ms, now),
        sent_at=client_time(sent_ms, now),
        email=ids.email_id,
        ext_id=ids.ext_id,
        contact_id=ids.contact_id,
        properties=properties,
        eventdata=eventdata,
        attributes=event.contact_properties or {},
        vouched=True,
    )


def event_json(event: Event) -> dict[str, Any]:
    body: dict[str, Any] = {
        "contact_id": event.contact_id,
        "event_date": brevo_time(event.occurred_at),
        "event_name": event.name,
        "event_properties": event.properties or {},
    }
    if event.eventdata is not None:
        body["eventdata"] = event.eventdata
    return body


@bp.get("/events")
def get_events() -> Response:
    site = site_from_api_key()
    limit = int_arg("limit", 100, 1, MAX_EVENTS_PAGE)
    offset = int_arg("offset", 0, 0, None)
    query = select(Event).where(Event.site_id == site.id, Event.kind == "track")
    contact_ids = request.args.getlist("contact_id")
    if contact_ids:
        if not all(is_number(value) and int(value) <= MAX_ID for value in contact_ids):
            raise ApiError(400, f"contact_id: must be whole numbers up to {MAX_ID}")
        query = query.where(Event.contact_id.in_([int(value) for value in contact_ids]))
    names = request.args.getlist("event_name")
    if names:
        query = query.where(Event.name.in_(names))
    start, end = _date_range()
    if start is not None:
        query = query.where(Event.occurred_at >= start, Event.occurred_at <= end)
    session = db.session()
    count = session.scalar(select(func.count()).select_from(query.subquery()))
    page = session.scalars(query.order_by(Event.occurred_at.desc(), Event.id.desc()).limit(limit).offset(offset))
    return jsonify(events=[event_json(event) for event in page], count=count)


@bp.get("/tracking/status")
def get_tracking_status() -> Response:
    """Sibyl's own addition: whether the site's tracking code has sent traffic lately."""
    return jsonify(tracking_status(site_from_api_key()))


def int_arg(name: str, default: int, low: int, high: int | None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not is_number(raw) or int(raw) < low or int(raw) > (high if high is not None else MAX_ID):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ApiError(400, f"{name}: must be a whole number {bound}")
    return int(raw)


def _date_range() -> tuple[datetime | None, datetime | None]:
    start_text, end_text = request.args.get("startDate"), request.args.get("endDate")
    if start_text is None and end_text is None:
        return None, None
    if start_text is None or end_text is None:
        raise ApiError(400, "startDate and endDate: give both or neither")
    start, end = parse_date("startDate", start_text, time.min), parse_date("endDate", end_text, time.max)
    if start > end:
        raise ApiError(400, "startDate: must not be after endDate")
    return start, end


def parse_date(name: str, text: str, day_edge: time) -> datetime:
    """A query's date or time, in UTC; 400 when it is not one, or is out of range once in UTC."""
    try:
        if len(text) == 10:
            return datetime.combine(datetime.strptime(text, "%Y-%m-%d").date(), day_edge, UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{name}: use YYYY-MM-DD or RFC 3339") from None
    try:
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:
        raise ApiError(400, f"{name}: out of range (before year 1 or after year 9999 in UTC)") from None
