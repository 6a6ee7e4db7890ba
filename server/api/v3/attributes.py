"""v3's contact attributes: list, create, change a category's values, delete."""

from __future__ import annotations

from flask import Response, jsonify, request
from sqlalchemy.orm import Session

from ... import db
from ...contacts.attributes import (
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
from ...errors import ApiError
from ...models import Attribute, Site
from ..keys import site_from_api_key
from ..schemas import V3CreateAttribute, V3UpdateAttribute, json_body, parse, parse_body
from .blueprint import bp


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
        raise ApiError(
            400,
            f"attributeName: {attribute.name} is a {attribute.type} attribute; "
            "only a category attribute's enumeration can be changed",
        )
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
