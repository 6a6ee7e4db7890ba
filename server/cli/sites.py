"""`flask sites …`: create sites, print their tracking code, change their settings and keys."""

from __future__ import annotations

import json
import shlex

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import db
from ..automation.carts import MAX_PERIOD, workflow_of
from ..automation.quiet_hours import QuietHours, zone_named
from ..email_templates.brand import FIELDS, BrandRefused, set_brand
from ..ingest.tracker_modules import UnknownModule, parse_modules, site_modules, stored
from ..ingest.trusted_servers import normalise_networks
from ..models import Site
from ..sites import (
    SiteKey,
    by_name,
    client_keys,
    create_site,
    delete_site,
    email_hosts,
    normalise_host,
    rotate_key,
    site_contents,
    tracking_code,
    tracking_code_note,
    tracking_status,
)
from .options import duration_option, quiet_hours_option

sites_cli = AppGroup("sites", help="Create, list and delete sites, print their tracking code, change their settings.")


def snippet_hint(name: str) -> str:
    """The command that prints the site's tracking code, its name quoted for a shell."""
    return f"flask --app server sites snippet {shlex.quote(name)}"


def site_named(session: Session, name: str) -> Site:
    """The site of this name, or the command stops with an error naming it."""
    site = by_name(session, name)
    if site is None:
        raise click.ClickException(f"no site named {name!r}")
    return site


@sites_cli.command("create")
@click.argument("name")
@click.option("--origin", "origins", multiple=True, help="An allowed origin, e.g. https://shop.example (repeatable).")
def create_command(name: str, origins: tuple[str, ...]) -> None:
    """Create a site; prints its client key (public) and api key (secret) last."""
    with db.new_session(current_app) as session:
        if by_name(session, name) is not None:
            raise click.ClickException(f"a site named {name!r} already exists")
        try:
            site = create_site(session, name, list(origins), current_app.config["CART_DELAY"])
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--origin") from None
        click.echo(f"Created site {site.name!r}. Paste what `{snippet_hint(site.name)}` prints before </head>.")
        click.echo(f"client_key={site.client_key}")
        click.echo(f"api_key={site.api_key}")


@sites_cli.command("snippet")
@click.argument("name")
@click.option("--url", help="Base URL of this server as browsers reach it (default SIBYL_PUBLIC_URL).")
def snippet_command(name: str, url: str | None) -> None:
    """Print the site's tracking code, to paste just before </head>; a warning goes to stderr while it points at
    the default address because SIBYL_PUBLIC_URL is unset."""
    with db.new_session(current_app) as session:
        code = tracking_code(site_named(session, name), url)
    if url is None and (note := tracking_code_note()):
        click.echo(f"Warning: {note} Or give --url.", err=True)
    click.echo(code)


@sites_cli.command("list")
def list_command() -> None:
    """Every site, one a line: name, client key, allowed origins, when created (UTC)."""
    with db.new_session(current_app) as session:
        sites = list(session.scalars(select(Site).order_by(Site.name)))
    if not sites:
        click.echo("No sites yet: create one with `flask --app server sites create NAME`.")
    for site in sites:
        origins = ",".join(site.origins or []) or "any origin"
        click.echo(f"{site.name}\t{site.client_key}\t{origins}\t{site.created_at:%Y-%m-%d %H:%M}")


@sites_cli.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_command(name: str, yes: bool) -> None:
    """Delete a site with everything of it: contacts, events, carts, workflows, emails, templates, orders, keys."""
    with db.new_session(current_app) as session:
        site = site_named(session, name)
        if not yes:
            held = site_contents(session, site)
            click.confirm(
                f"Delete site {name!r} with its {held.contacts} contacts, {held.events} events and {held.emails} "
                "emails? This cannot be undone",
                abort=True,
            )
        deleted = delete_site(session, site)
    click.echo(f"Deleted site {name!r}: {deleted.contacts} contacts, {deleted.events} events, {deleted.emails} emails.")


@sites_cli.command("set")
@click.argument("name")
@click.option(
    "--require-consent/--no-require-consent",
    "require_consent",
    default=None,
    help="The tracker sends nothing and sets no cookie until the page calls sendinblue.consent().",
)
@click.option(
    "--respect-dnt/--no-respect-dnt",
    "respect_dnt",
    default=None,
    help="Browsers asking for Do-Not-Track (or Global Privacy Control) are not tracked.",
)
@click.option(
    "--email-hosts",
    "hosts",
    help="Hosts besides the origins' that emails may link to and show images from, comma-separated ('' for none).",
)
@click.option(
    "--servers",
    help="The shop's own servers, whose tracker REST calls with the client key are trusted "
    "like the secret key: addresses or CIDR ranges, comma-separated ('' for none; the "
    "addresses of the site's origins count anyway).",
)
@click.option(
    "--email-period",
    help="At most one automation email per contact in this period, across all workflows: seconds, or 90s, 15m, "
    "24h, 7d (0 for no limit); transactional email steps ignore it.",
)
@click.option(
    "--quiet-hours",
    help="Automation emails due in this span of the contact's night wait for its end, in the contact's time zone "
    "(the site's when its browser never said): 21:00-08:00, or 'off'; transactional email steps ignore it.",
)
@click.option("--time-zone", help="The site's IANA time zone, for contacts whose own is unknown: Europe/Paris, UTC.")
@click.option(
    "--track",
    help="The tracker's optional modules, replacing those chosen before, comma-separated: outbound, downloads, "
    "forms, tagged ('none' for the core alone); sa.js serves them within seconds, the tracking code stays the same.",
)
@click.option(
    "--open-pixel/--no-open-pixel",
    "open_pixel",
    default=None,
    help="Automation emails carry a 1x1 image recording email_opened (off by default; unreliable since Apple Mail "
    "Privacy Protection fetches every image).",
)
def sites_set_command(
    name: str,
    require_consent: bool | None,
    respect_dnt: bool | None,
    hosts: str | None,
    servers: str | None,
    email_period: str | None,
    quiet_hours: str | None,
    time_zone: str | None,
    track: str | None,
    open_pixel: bool | None,
) -> None:
    """Change a site's consent settings (its tracking code must then be pasted again), its emails' hosts, its
    servers, its email period, quiet hours, time zone, tracker modules or open pixel."""
    with db.new_session(current_app) as session:
        site = site_named(session, name)
        settings = workflow_of(session, site.id)
        if email_period is not None:
            settings.contact_period_seconds = duration_option(email_period, "--email-period", MAX_PERIOD, zero=True)
        if quiet_hours is not None:
            quiet = quiet_hours_option(quiet_hours)
            settings.quiet_start, settings.quiet_end = (quiet.start, quiet.end) if quiet else (None, None)
        if time_zone is not None:
            if zone_named(time_zone) is None:
                raise click.BadParameter(
                    f"{time_zone!r} is not an IANA time zone this server knows", param_hint="--time-zone"
                )
            settings.time_zone = time_zone
        if track is not None:
            try:
                site.tracker_modules = stored(parse_modules(track))
            except UnknownModule as error:
                raise click.BadParameter(str(error), param_hint="--track") from None
        if require_consent is not None:
            site.require_consent = require_consent
        if respect_dnt is not None:
            site.respect_dnt = respect_dnt
        if open_pixel is not None:
            site.open_pixel = open_pixel
        if hosts is not None:
            try:
                site.email_hosts = sorted({normalise_host(host) for host in hosts.split(",") if host.strip()})
            except ValueError as error:
                raise click.BadParameter(str(error), param_hint="--email-hosts") from None
        if servers is not None:
            try:
                site.servers = normalise_networks(servers.split(","))
            except ValueError as error:
                raise click.BadParameter(str(error), param_hint="--servers") from None
        session.commit()
        client_keys.forget(site.client_key)
        click.echo(
            f"{name}: consent {'required' if site.require_consent else 'not required'}, "
            f"Do-Not-Track {'honoured' if site.respect_dnt else 'ignored'}, "
            f"emails link to {', '.join(sorted(email_hosts(site))) or 'no host (name an origin or --email-hosts)'}."
        )
        click.echo(f"{name}: trusted servers {', '.join(site.servers) or 'none listed'} (and the origins' addresses).")
        period = settings.contact_period_seconds
        click.echo(f"{name}: at most one email per contact every {period:g}s" if period else f"{name}: no email period")
        quiet = QuietHours.stored(settings.quiet_start, settings.quiet_end)
        click.echo(
            f"{name}: quiet hours {quiet or 'off'}, time zone {settings.time_zone} "
            "(for contacts whose browser did not say theirs)."
        )
        modules = ", ".join(sorted(site_modules(site.tracker_modules))) or "none (the core alone)"
        click.echo(f"{name}: tracker modules {modules}.")
        click.echo(f"{name}: open pixel {'on' if site.open_pixel else 'off'} in emails written from now on.")
        if require_consent is not None or respect_dnt is not None:
            click.echo(f"Paste what `{snippet_hint(name)}` prints again.")


BRAND_OPTIONS = {
    "sender_name": "--sender-name",
    "sender_email": "--sender-email",
    "logo_url": "--logo",
    "accent_color": "--accent",
    "intro_text": "--intro",
    "postal_address": "--address",
    "locale": "--locale",
}


@sites_cli.command("brand")
@click.argument("name")
@click.option("--sender-name", help="The name emails come from ('' for the server's).")
@click.option("--sender-email", help="The address emails come from ('' for the server's SIBYL_MAIL_FROM).")
@click.option("--logo", "logo_url", help="The logo's URL, on one of the site's hosts ('' for none: the name is shown).")
@click.option("--accent", "accent_color", help="The buttons' colour, #rrggbb ('' for the default).")
@click.option("--intro", "intro_text", help="A paragraph the default templates show after the greeting.")
@click.option("--address", "postal_address", help="The shop's postal address, shown in every email's footer.")
@click.option("--locale", help="How money is written in emails and on the dashboard: en_US, fr_FR, de_DE…")
def brand_command(name: str, **values: str | None) -> None:
    """Set the shop's brand, which the default email templates show (and `shop.*` gives any template)."""
    with db.new_session(current_app) as session:
        site = site_named(session, name)
        for field, value in values.items():
            if value is not None:
                try:
                    set_brand(site, field, value)
                except BrandRefused as error:
                    raise click.BadParameter(error.message, param_hint=BRAND_OPTIONS[field]) from None
        session.commit()
        for field in FIELDS:
            click.echo(f"{field}: {getattr(site, field) or '-'}".replace("\n", " / "))


@sites_cli.command("rotate-key")
@click.argument("name")
@click.option("--client", "which", flag_value="client", help="A new public client key (the snippet changes).")
@click.option("--api", "which", flag_value="api", default=True, help="A new secret api key (the default).")
def rotate_key_command(name: str, which: str) -> None:
    """Replace one of the site's keys; the old one stops working at once. Prints the new key last."""
    with db.new_session(current_app) as session:
        site = site_named(session, name)
        new = rotate_key(session, site, SiteKey(which))
        if which == "client":
            click.echo(f"Paste what `{snippet_hint(name)}` prints again: the old client key is refused now.")
        click.echo(f"{which}_key={new}")


@sites_cli.command("status")
@click.argument("name")
def status_command(name: str) -> None:
    """Print whether the site has received traffic in the last 24 hours."""
    with db.new_session(current_app) as session:
        click.echo(json.dumps(tracking_status(site_named(session, name)), indent=2))
