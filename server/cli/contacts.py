"""`flask contacts …`, `flask attributes …` and `flask events prune`: contacts' data, attributes and retention."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from .. import db
from ..config import parse_duration
from ..contacts.addresses import InvalidAddress, email_address
from ..contacts.attributes import (
    NORMAL_TYPES,
    AttributeRefused,
    AttributeType,
    UnknownAttribute,
    category_of,
    create_attribute,
    delete_attribute,
    existing_attribute,
    site_attributes,
)
from ..contacts.identity import contact_by_email
from ..contacts.imports import ImportRefused, check_file, columns_of, import_contacts, read_header
from ..contacts.privacy import erase_contact, export_contact
from ..contacts.retention import prune_events
from ..models import Contact, utcnow
from .sites import site_named

contacts_cli = AppGroup("contacts", help="Contacts: import them from a CSV file; export or erase one's data.")
attributes_cli = AppGroup("attributes", help="The contact attributes a site keeps (only these are stored on contacts).")
events_cli = AppGroup("events", help="Stored events.")


def _existing_contact(session: Session, site_name: str, email: str) -> Contact:
    """The site's contact with this address, or the command stops with an error naming what is wrong."""
    site = site_named(session, site_name)
    try:
        address = email_address(email)
    except InvalidAddress as error:
        raise click.ClickException(f"EMAIL: not a valid email address: {error}") from None
    contact = contact_by_email(session, site.id, address)
    if contact is None:
        raise click.ClickException(f"no contact {email!r} in site {site_name!r}")
    return contact


@contacts_cli.command("export")
@click.argument("site_name")
@click.argument("email")
def contacts_export_command(site_name: str, email: str) -> None:
    """Print everything stored about a contact as JSON: attributes, browsers, events, carts, emails."""
    with db.new_session(current_app) as session:
        document = export_contact(session, _existing_contact(session, site_name, email))
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))


@contacts_cli.command("delete")
@click.argument("site_name")
@click.argument("email")
@click.confirmation_option(prompt="Delete the contact with all its events, carts and emails?")
def contacts_delete_command(site_name: str, email: str) -> None:
    """Erase a contact with its events, carts, emails and browsers, in one transaction."""
    with db.new_session(current_app) as session:
        erase_contact(session, _existing_contact(session, site_name, email))
    click.echo(f"Deleted {email} from {site_name}.")


@contacts_cli.command("import")
@click.argument("site_name")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--create-attributes",
    is_flag=True,
    help="Create a text attribute for each column that names none of the site's attributes (else it is left out).",
)
def contacts_import_command(site_name: str, file: Path, create_attributes: bool) -> None:
    """Create or update the site's contacts from a CSV file, such as Brevo's contacts export: an EMAIL column,
    columns named like the site's attributes (any case), and Brevo's blocklist columns (emailBlacklisted…); `,`
    `;` or tab between values. Importing the file again updates the same contacts."""
    with db.new_session(current_app) as session:
        site = site_named(session, site_name)
        try:
            names, delimiter = read_header(file)
            rows = check_file(file, delimiter)
        except ImportRefused as error:
            raise click.ClickException(f"{file}: {error}") from None
        columns = columns_of(names, site_attributes(session, site.id))
        if create_attributes:
            for name in columns.unknown:
                try:
                    attribute = create_attribute(session, site.id, name, AttributeType.TEXT)
                except AttributeRefused as refused:
                    click.echo(f"Column {name!r}: no attribute created: {refused.reason}.", err=True)
                else:
                    click.echo(f"Created attribute {attribute.name} (text) in {site_name}.")
            columns = columns_of(names, site_attributes(session, site.id))
        if columns.unknown:
            click.echo(
                f"Columns left out (no such attribute; see --create-attributes): {', '.join(columns.unknown)}", err=True
            )
        report = import_contacts(session, site, file, delimiter, columns)
    for problem in report.problems:
        click.echo(problem, err=True)
    click.echo(
        f"{site_name}: {rows} rows: {report.created} contacts created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.skipped} skipped."
    )


@attributes_cli.command("list")
@click.argument("site_name")
def attributes_list_command(site_name: str) -> None:
    """Print the site's attributes, one a line: name, category, type."""
    with db.new_session(current_app) as session:
        for attribute in site_attributes(session, site_named(session, site_name).id):
            click.echo(f"{attribute.name}\t{category_of(attribute).value}\t{attribute.type}")


@attributes_cli.command("create")
@click.argument("site_name")
@click.argument("name")
@click.option(
    "--type",
    "kind",
    type=click.Choice([kind.value for kind in NORMAL_TYPES]),
    default=AttributeType.TEXT.value,
    show_default=True,
    help="What the attribute's values are; a value of another kind is left out.",
)
def attributes_create_command(site_name: str, name: str, kind: str) -> None:
    """Create an attribute: identify() calls and the APIs may then set it on contacts."""
    with db.new_session(current_app) as session:
        site = site_named(session, site_name)
        try:
            attribute = create_attribute(session, site.id, name, AttributeType(kind))
        except AttributeRefused as refused:
            raise click.ClickException(str(refused)) from None
        click.echo(f"Created attribute {attribute.name} ({attribute.type}) in {site_name}.")


@attributes_cli.command("delete")
@click.argument("site_name")
@click.argument("name")
def attributes_delete_command(site_name: str, name: str) -> None:
    """Delete an attribute and remove its values from every contact of the site."""
    with db.new_session(current_app) as session:
        site = site_named(session, site_name)
        try:
            attribute = existing_attribute(session, site.id, name, None)
        except UnknownAttribute:
            raise click.ClickException(f"no attribute {name!r} in site {site_name!r}") from None
        attribute_name = attribute.name
        cleared = delete_attribute(session, attribute)
    click.echo(f"Deleted attribute {attribute_name} from {site_name}; removed its values from {cleared} contacts.")


@events_cli.command("prune")
@click.option("--older-than", "older_than", help="Age to keep: 90d, 2160h … (default SIBYL_RETENTION).")
def events_prune_command(older_than: str | None) -> None:
    """Delete events older than the retention period, in batches."""
    period = parse_duration(older_than) if older_than else current_app.config["RETENTION"]
    if not period:
        raise click.ClickException("no retention period: give --older-than or set SIBYL_RETENTION")
    with db.new_session(current_app) as session:
        deleted = prune_events(session, utcnow() - timedelta(seconds=period))
    click.echo(f"Deleted {deleted} events older than {period / 86400:g} days.")
