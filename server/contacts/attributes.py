"""Contact attributes: the names a site's contacts may carry, created by the shop alone and capped per site."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..ingest import sizes
from ..models import Attribute, Contact, Site
from ..sqlfunctions import json_has_key, json_without_key
from ..values import is_text_or_number

_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,49}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
RESERVED = frozenset({"EMAIL"})  # the contact's own address, changed through its own field
CLEAR_BATCH = 500  # contacts whose value of a deleted attribute one statement removes


class AttributeType(StrEnum):
    """What an attribute's values are; a value of another kind is left out, as Brevo does."""

    TEXT = "text"
    FLOAT = "float"
    DATE = "date"
    BOOLEAN = "boolean"
    CATEGORY = "category"


class AttributeCategory(StrEnum):
    """Brevo's attribute categories that Sibyl keeps: plain values, or one of a list of choices."""

    NORMAL = "normal"
    CATEGORY = "category"


NORMAL_TYPES = (AttributeType.TEXT, AttributeType.FLOAT, AttributeType.DATE, AttributeType.BOOLEAN)
DEFAULT_ATTRIBUTES = {"FIRSTNAME": AttributeType.TEXT, "LASTNAME": AttributeType.TEXT, "SMS": AttributeType.TEXT}


class AttributeRefused(ValueError):
    """A request about attributes that cannot be met; `field` names what is wrong."""

    def __init__(self, field: str, message: str, duplicate: bool = False) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message
        self.duplicate = duplicate


class UnknownAttribute(LookupError):
    """No attribute of that name (in that category) on the site."""


@dataclass(frozen=True)
class AttributeRule:
    """What a value must be for an attribute to take it."""

    type: AttributeType
    choices: frozenset[int] = frozenset()

    def accepts(self, value: Any) -> bool:
        """None clears any attribute; otherwise the value must be of the attribute's type."""
        if value is None:
            return True
        if isinstance(value, bool):
            return self.type is AttributeType.BOOLEAN
        if self.type is AttributeType.TEXT:
            return is_text_or_number(value)
        if self.type is AttributeType.FLOAT:
            return isinstance(value, (int, float))
        if self.type is AttributeType.DATE:
            return isinstance(value, str) and _is_date(value)
        if self.type is AttributeType.CATEGORY:
            return isinstance(value, int) and value in self.choices
        return False


def _is_date(text: str) -> bool:
    if not _DATE.match(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def category_of(attribute: Attribute) -> AttributeCategory:
    return AttributeCategory.CATEGORY if attribute.type == AttributeType.CATEGORY else AttributeCategory.NORMAL


def attribute_name(raw: str) -> str:
    """The upper-cased name, or AttributeRefused when it is not one Brevo's templates can use."""
    name = raw.strip().upper()
    if not _NAME.match(name):
        raise AttributeRefused("attributeName", "use a letter then up to 49 letters, digits or underscores")
    if name in RESERVED:
        raise AttributeRefused("attributeName", f"{name} is the contact's own field, not an attribute")
    return name


@dataclass(frozen=True)
class Choice:
    """One value a category attribute can take, with its label."""

    value: int
    label: str


def _enumeration(choices: list[Choice] | None) -> list[dict[str, Any]]:
    """A category's values as stored: at least one, all different, within the limit."""
    if not choices:
        raise AttributeRefused("enumeration", "a category attribute needs a non-empty list of {value, label}")
    if len(choices) > sizes.ATTRIBUTE_CHOICES:
        raise AttributeRefused("enumeration", f"{len(choices)} values; the limit is {sizes.ATTRIBUTE_CHOICES}")
    values = [choice.value for choice in choices]
    if len(set(values)) != len(values):
        raise AttributeRefused("enumeration", "each value must differ from the others")
    return [{"value": choice.value, "label": choice.label} for choice in choices]


def rules(session: Session, site_id: int) -> dict[str, AttributeRule]:
    """The site's attributes by name, with what each accepts: one query."""
    columns = select(Attribute.name, Attribute.type, Attribute.enumeration)
    rows = session.execute(columns.where(Attribute.site_id == site_id))
    return {
        name: AttributeRule(AttributeType(kind), frozenset(item["value"] for item in enumeration or ()))
        for name, kind, enumeration in rows
    }


def site_attributes(session: Session, site_id: int) -> list[Attribute]:
    """The site's attributes, oldest first."""
    return list(session.scalars(select(Attribute).where(Attribute.site_id == site_id).order_by(Attribute.id)))


def seed_attributes(session: Session, site: Site) -> None:
    session.add_all(Attribute(site_id=site.id, name=name, type=kind) for name, kind in DEFAULT_ATTRIBUTES.items())


def find_attribute(session: Session, site_id: int, name: str) -> Attribute | None:
    return session.scalar(select(Attribute).where(Attribute.site_id == site_id, Attribute.name == name))


def create_attribute(
    session: Session, site_id: int, raw_name: str, kind: AttributeType, choices: list[Choice] | None = None
) -> Attribute:
    """A new attribute of the site, committed; refused when it exists, is malformed or the site is at its cap."""
    name = attribute_name(raw_name)
    enumeration = _enumeration(choices) if kind is AttributeType.CATEGORY else None
    # One creation at a time per site (a lock on its row), so that the cap holds.
    session.execute(select(Site.id).where(Site.id == site_id).with_for_update())
    if find_attribute(session, site_id, name) is not None:
        session.rollback()
        raise AttributeRefused("attributeName", f"an attribute named {name} already exists", duplicate=True)
    count = session.scalar(select(func.count()).select_from(Attribute).where(Attribute.site_id == site_id)) or 0
    if count >= sizes.ATTRIBUTES_PER_SITE:
        session.rollback()
        raise AttributeRefused(
            "attributeName", f"the site has {count} attributes; the limit is {sizes.ATTRIBUTES_PER_SITE} per site"
        )
    attribute = Attribute(site_id=site_id, name=name, type=kind.value, enumeration=enumeration)
    session.add(attribute)
    session.commit()
    return attribute


def existing_attribute(session: Session, site_id: int, raw_name: str, category: AttributeCategory | None) -> Attribute:
    """The site's attribute of that name (and category, when given); UnknownAttribute otherwise."""
    name = raw_name.strip().upper()
    attribute = find_attribute(session, site_id, name) if _NAME.match(name) else None
    if attribute is None or (category is not None and category_of(attribute) is not category):
        raise UnknownAttribute(raw_name)
    return attribute


def set_enumeration(session: Session, attribute: Attribute, choices: list[Choice]) -> None:
    """Replace a category attribute's values (contacts keep theirs, as Brevo does)."""
    attribute.enumeration = _enumeration(choices)
    session.commit()


def delete_attribute(session: Session, attribute: Attribute) -> int:
    """Delete the attribute, then remove its values from the site's contacts in batches; the number of contacts changed.

    The attribute goes first, so that no ingest writes a value while its old ones are being removed.
    """
    site_id, name = attribute.site_id, attribute.name
    session.delete(attribute)
    session.commit()
    changed, after = 0, 0
    while True:
        ids = list(
            session.scalars(
                select(Contact.id)
                .where(Contact.site_id == site_id, Contact.id > after, json_has_key(Contact.attributes, name))
                .order_by(Contact.id)
                .limit(CLEAR_BATCH)
            )
        )
        if not ids:
            return changed
        session.execute(
            update(Contact)
            .where(Contact.id.in_(ids))
            .values(attributes=json_without_key(Contact.attributes, name))
            .execution_options(synchronize_session=False)
        )
        session.commit()
        changed, after = changed + len(ids), ids[-1]


def attribute_json(attribute: Attribute) -> dict[str, Any]:
    """An attribute as Brevo's `GET /v3/contacts/attributes` lists it."""
    body: dict[str, Any] = {"name": attribute.name, "category": category_of(attribute).value, "type": attribute.type}
    if attribute.enumeration is not None:
        body["enumeration"] = [item | {"valueStr": str(item["value"])} for item in attribute.enumeration]
    return body
