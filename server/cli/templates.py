"""`flask templates …`: a site's email templates: save a new version, list them, render one as it would be sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from .. import db
from ..contacts.addresses import normalise_email
from ..email_templates.compose import email_variables, render_template, shop_variables
from ..email_templates.finishing import FinishingError
from ..email_templates.language import TemplateError
from ..email_templates.store import TemplateRefused, current_template, save_template, templates_of
from ..mail.unsubscribe import unsubscribe_url
from ..models import Contact, utcnow
from ..sites import email_hosts
from .sites import site_named

templates_cli = AppGroup("templates", help="Each site's email templates: save, list, render.")
MAX_FILE = 1_000_000  # bytes of a template file


def _read(path: Path | None, option: str) -> str:
    if path is None:
        return ""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise click.BadParameter(f"{path}: {error.strerror}", param_hint=option) from None
    if len(data) > MAX_FILE:
        raise click.BadParameter(f"{path}: {len(data)} bytes; at most {MAX_FILE}", param_hint=option)
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise click.BadParameter(f"{path}: not UTF-8 text", param_hint=option) from None


@templates_cli.command("set")
@click.argument("site_name")
@click.argument("name")
@click.option("--html", "html_file", type=click.Path(path_type=Path), required=True, help="The HTML, a file.")
@click.option("--text", "text_file", type=click.Path(path_type=Path), help="The text part (default: from the HTML).")
@click.option("--subject", help="The subject (default: the template's current one).")
@click.option("--preheader", help="The preview text inboxes show after the subject.")
def set_command(
    site_name: str, name: str, html_file: Path, text_file: Path | None, subject: str | None, preheader: str | None
) -> None:
    """Create the template NAME, or save a new version of it (emails already written keep theirs). Prints
    `version=N` last."""
    html, text = _read(html_file, "--html"), _read(text_file, "--text")
    with db.new_session(current_app) as session:
        site = site_named(session, site_name)
        current = current_template(session, site.id, name)
        try:
            saved = save_template(
                session,
                site.id,
                name,
                subject=subject if subject is not None else current.subject if current else "",
                preheader=preheader if preheader is not None else current.preheader if current else "",
                html=html,
                text=text,
                now=utcnow(),
            )
        except TemplateRefused as error:
            raise click.ClickException(f"{name}: {error}") from None
        session.commit()
    click.echo(f"{site_name}: saved template '{name}'.")
    click.echo(f"version={saved.version}")


@templates_cli.command("list")
@click.argument("site_name")
def list_command(site_name: str) -> None:
    """Each template of the site: name, version (`default`: the one shipped, unchanged), when saved, subject."""
    with db.new_session(current_app) as session:
        site = site_named(session, site_name)
        for listed in templates_of(session, site.id):
            version = f"v{listed.version}" if listed.version else "default"
            saved = f"{listed.saved_at:%Y-%m-%d %H:%M}" if listed.saved_at else "-"
            click.echo(f"{listed.name}  {version}  {saved}  {listed.subject}")


@templates_cli.command("render")
@click.argument("site_name")
@click.argument("name")
@click.option("--contact", "email", required=True, help="The contact it is written to (an existing one).")
@click.option("--data", "data_file", type=click.Path(path_type=Path), help="JSON standing for the event's data.")
@click.option("--json", "as_json", is_flag=True, help='Print {"subject", "text", "html"}.')
def render_command(site_name: str, name: str, email: str, data_file: Path | None, as_json: bool) -> None:
    """Print the subject, text and HTML of the template as they would be sent to the contact."""
    params: Any = {}
    if data_file is not None:
        try:
            params = json.loads(_read(data_file, "--data"))
        except ValueError as error:
            raise click.BadParameter(f"{data_file}: not JSON ({error})", param_hint="--data") from None
    with db.new_session(current_app) as session:
        site = site_named(session, site_name)
        address = normalise_email(email)
        contact = session.scalars(
            select(Contact).where(Contact.site_id == site.id, Contact.email == address)
        ).one_or_none()
        if contact is None:
            raise click.BadParameter(f"{email!r}: no such contact on {site_name}", param_hint="--contact")
        template = current_template(session, site.id, name)
        if template is None:
            raise click.BadParameter(f"{name!r}: no such template on {site_name}", param_hint="NAME")
        hosts = email_hosts(site)
        link = unsubscribe_url(
            str(current_app.config["PUBLIC_URL"]),
            str(current_app.config["SECRET_KEY"]),
            site.id,
            contact.id,
            contact.link_nonce,
        )
        variables = email_variables(
            shop=shop_variables(site, hosts),
            email=contact.email or "",
            attributes=contact.attributes or {},
            params=params,
            properties={},
            unsubscribe_url=link,
            hosts=hosts,
        )
        try:
            rendered = render_template(template, variables, hosts=hosts, unsubscribe_url=link)
        except (TemplateError, FinishingError) as error:
            raise click.ClickException(f"{name} v{template.version}: {error}") from None
    if as_json:
        click.echo(json.dumps({"subject": rendered.subject, "text": rendered.text, "html": rendered.html}))
        return
    click.echo(f"Subject: {rendered.subject}\n\n{rendered.text}\n\n{rendered.html}")
