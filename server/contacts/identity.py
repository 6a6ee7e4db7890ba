"""Contacts: identification by email, upper-case attributes, visitors linked to contacts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import Connection, Insert, bindparam, select, update
from sqlalchemy.orm import Session

from ..db import insert_for
from ..models import Contact, Event, Site, Visitor, utcnow
from .attributes import AttributeRule, rules


def contact_by_email(session: Session, site_id: int, email: str) -> Contact | None:
    """The site's contact with this address (in its stored form), if any."""
    return session.scalar(select(Contact).where(Contact.site_id == site_id, Contact.email == email))


def contact_by_ext_id(session: Session, site_id: int, ext_id: str) -> Contact | None:
    """The site's contact with this external id, if any."""
    return session.scalar(select(Contact).where(Contact.site_id == site_id, Contact.ext_id == ext_id))


def contact_by_id(session: Session, site_id: int, contact_id: int) -> Contact | None:
    """The contact with this id if it is the site's (another site's contact is none of its business)."""
    contact = session.get(Contact, contact_id)
    return contact if contact is not None and contact.site_id == site_id else None


class ContactBook:
    """One site's contacts and attributes, cached for the length of one ingest."""

    def __init__(self, session: Session, site: Site) -> None:
        self.session = session
        self.site = site
        self._contacts: dict[str, Contact] = {}
        self.created: set[int] = set()  # the contacts this ingest created (a workflow may start for each)

    @cached_property
    def attributes(self) -> dict[str, AttributeRule]:
        """The site's attributes, read only when an event concerns a contact."""
        return rules(self.session, self.site.id)

    def find_or_create_by_email(self, email: str) -> Contact:
        """The site's contact with this email, created when new."""
        if email not in self._contacts:
            found = contact_by_email(self.session, self.site.id, email)
            if found is None:
                found = Contact(site_id=self.site.id, email=email, attributes={})
                self.session.add(found)
                self.session.flush()
                self.created.add(found.id)
            self._contacts[email] = found
        return self._contacts[email]

    def find_or_create_by_ext_id(self, ext_id: str) -> Contact:
        """The site's contact with this external id, created (without an email) when new."""
        found = contact_by_ext_id(self.session, self.site.id, ext_id)
        if found is None:
            found = Contact(site_id=self.site.id, ext_id=ext_id, attributes={})
            self.session.add(found)
            self.session.flush()
            self.created.add(found.id)
        return found

    def give_ext_id(self, contact: Contact, ext_id: str) -> None:
        """Record the external id on the contact, unless another contact already holds it."""
        if contact_by_ext_id(self.session, self.site.id, ext_id) is None:
            contact.ext_id = ext_id

    def matching_attributes(self, values: dict[str, Any]) -> dict[str, Any]:
        """The values whose upper-cased name is one of the site's attributes and which fit its type.

        Nothing else becomes an attribute, whoever sends it: the shop creates attributes, and
        unknown properties stay on their event.
        """
        matching = {}
        for key, value in values.items():
            rule = self.attributes.get(key.upper())
            if rule is not None and rule.accepts(value):
                matching[key.upper()] = value
        return matching

    def set_attributes(self, contact: Contact, values: dict[str, Any]) -> None:
        """Store on the contact those of `values` that are the site's attributes and fit their types."""
        changed = dict(contact.attributes or {}) | self.matching_attributes(values)
        if changed != contact.attributes:
            contact.attributes = changed
            contact.modified_at = utcnow()


@dataclass
class SeenVisitor:
    """A visitor as one ingest knows it: its row and the contact it is linked to."""

    id: int
    site_id: int
    contact_id: int | None


def _visitor_upsert(dialect: str) -> Insert:
    """Insert each visitor or, when its cookie is known, move its last sighting: one statement for them all."""
    table = Visitor.__table__
    statement = insert_for(dialect)(table).values(
        site_id=bindparam("site_id"),
        cuid=bindparam("cuid"),
        first_seen_at=bindparam("now"),
        last_seen_at=bindparam("now"),
    )
    return statement.on_conflict_do_update(
        index_elements=[table.c.site_id, table.c.cuid], set_={"last_seen_at": statement.excluded.last_seen_at}
    ).returning(table.c.id, table.c.contact_id, table.c.cuid)


_VISITOR_UPSERTS = {dialect: _visitor_upsert(dialect) for dialect in ("postgresql", "sqlite")}


def see_visitors(connection: Connection, site_id: int, cuids: set[str], now: datetime) -> dict[str, SeenVisitor]:
    """The site's visitors with these cookies, each created when new and last seen `now`, by cookie.

    One statement for all of them, written in cookie order so that two processes seeing the same visitors take
    their rows' locks in the same order."""
    if not cuids:
        return {}
    params = [{"site_id": site_id, "cuid": cuid, "now": now} for cuid in sorted(cuids)]
    rows = connection.execute(_VISITOR_UPSERTS[connection.dialect.name], params)
    return {row.cuid: SeenVisitor(id=row.id, site_id=site_id, contact_id=row.contact_id) for row in rows}


def link_visitor(session: Session, visitor: SeenVisitor, contact: Contact) -> None:
    """Link the visitor to the contact (another than its own); its anonymous events move to the contact."""
    visitor.contact_id = contact.id
    session.execute(
        update(Visitor)
        .where(Visitor.id == visitor.id)
        .values(contact_id=contact.id)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Event)
        .where(Event.visitor_id == visitor.id, Event.contact_id.is_(None))
        .values(contact_id=contact.id)
        .execution_options(synchronize_session=False)
    )
