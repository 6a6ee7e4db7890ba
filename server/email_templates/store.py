"""A site's email templates: saved as versions (an email keeps the version it was written from), checked whole when
saved, and the shipped defaults every site has until it saves its own of the same name."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import EmailTemplate, TemplateVersion
from .language import TemplateError, compile_template

DEFAULTS = Path(__file__).resolve().parent / "defaults"
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
MAX_SUBJECT = 255  # characters of the subject as written (it is rendered to one line)
MAX_PREHEADER = 255


@dataclass(frozen=True)
class Template:
    """One version of a template as it renders: its subject, preview text, HTML and text (empty: made from the
    HTML). Version 0 is the shipped default of that name."""

    name: str
    version: int
    subject: str
    preheader: str
    html: str
    text: str
    saved_at: datetime | None = None

    @property
    def shipped(self) -> bool:
        return self.version == 0


class TemplateRefused(ValueError):
    """A template that cannot be saved, saying which part and why (`html: line 3: unknown tag 'load'`)."""


@cache
def shipped(name: str) -> Template | None:
    """The default template of that name that comes with Sibyl, or None."""
    folder = DEFAULTS / name
    if not NAME.match(name) or not folder.is_dir():
        return None
    text = folder / "body.txt"
    return Template(
        name=name,
        version=0,
        subject=(folder / "subject.txt").read_text().strip(),
        preheader=(folder / "preheader.txt").read_text().strip(),
        html=(folder / "body.html").read_text(),
        text=text.read_text() if text.exists() else "",
    )


def shipped_names() -> list[str]:
    return sorted(folder.name for folder in DEFAULTS.iterdir() if folder.is_dir())


def check_template(name: str, subject: str, preheader: str, html: str, text: str) -> None:
    """Refuse a template whose name, size or language is wrong, naming the part: each part is compiled whole."""
    if not NAME.match(name):
        raise TemplateRefused("name: lower-case letters, digits, '-' and '_', at most 100, such as cart-1")
    if not subject.strip():
        raise TemplateRefused("subject: required")
    for part, value, most in (("subject", subject, MAX_SUBJECT), ("preheader", preheader, MAX_PREHEADER)):
        if len(value) > most:
            raise TemplateRefused(f"{part}: {len(value)} characters; at most {most}")
    if not html.strip():
        raise TemplateRefused("html: required")
    for part, source in (("subject", subject), ("preheader", preheader), ("html", html), ("text", text)):
        try:
            compile_template(source)
        except TemplateError as error:
            raise TemplateRefused(f"{part}: {error}") from None


def save_template(
    session: Session, site_id: int, name: str, *, subject: str, html: str, text: str, preheader: str, now: datetime
) -> Template:
    """Save a new version of the site's template `name` (created at version 1); the caller commits."""
    check_template(name, subject, preheader, html, text)
    stored = session.scalars(
        select(EmailTemplate).where(EmailTemplate.site_id == site_id, EmailTemplate.name == name).with_for_update()
    ).one_or_none()
    if stored is None:
        stored = EmailTemplate(site_id=site_id, name=name, version=0, created_at=now)
        session.add(stored)
    stored.version += 1
    stored.updated_at = now
    session.flush()
    session.add(
        TemplateVersion(
            template_id=stored.id,
            version=stored.version,
            subject=subject,
            preheader=preheader,
            html=html,
            text=text,
            created_at=now,
        )
    )
    session.flush()
    return Template(name, stored.version, subject, preheader, html, text, now)


def current_template(session: Session, site_id: int, name: str) -> Template | None:
    """The version new emails are written from: the site's latest, else the shipped default, else None."""
    row = session.execute(
        select(TemplateVersion)
        .join(EmailTemplate, EmailTemplate.id == TemplateVersion.template_id)
        .where(
            EmailTemplate.site_id == site_id,
            EmailTemplate.name == name,
            TemplateVersion.version == EmailTemplate.version,
        )
    ).scalar_one_or_none()
    return _template(name, row) if row is not None else shipped(name)


def template_versions(session: Session, site_id: int, name: str) -> list[Template]:
    """Every saved version of the site's template, newest first."""
    rows = session.scalars(
        select(TemplateVersion)
        .join(EmailTemplate, EmailTemplate.id == TemplateVersion.template_id)
        .where(EmailTemplate.site_id == site_id, EmailTemplate.name == name)
        .order_by(TemplateVersion.version.desc())
    )
    return [_template(name, row) for row in rows]


def template_version(session: Session, site_id: int, name: str, version: int) -> Template | None:
    """One version of the site's template: a saved one, or 0 for the shipped default of that name; None if none."""
    if version == 0:
        return shipped(name)
    row = session.scalars(
        select(TemplateVersion)
        .join(EmailTemplate, EmailTemplate.id == TemplateVersion.template_id)
        .where(EmailTemplate.site_id == site_id, EmailTemplate.name == name, TemplateVersion.version == version)
    ).one_or_none()
    return _template(name, row) if row is not None else None


@dataclass(frozen=True)
class Listed:
    """A template as the list shows it: its name, latest version (0: the shipped default, unchanged) and when."""

    name: str
    version: int
    saved_at: datetime | None
    subject: str


def templates_of(session: Session, site_id: int) -> list[Listed]:
    """The site's templates and the shipped defaults it has not replaced, by name."""
    saved = {
        row.name: Listed(row.name, row.version, row.created_at, row.subject)
        for row in session.execute(
            select(EmailTemplate.name, EmailTemplate.version, TemplateVersion.created_at, TemplateVersion.subject)
            .join(TemplateVersion, TemplateVersion.template_id == EmailTemplate.id)
            .where(EmailTemplate.site_id == site_id, TemplateVersion.version == EmailTemplate.version)
        )
    }
    for name in shipped_names():
        default = shipped(name)
        if name not in saved and default is not None:
            saved[name] = Listed(name, 0, None, default.subject)
    return [saved[name] for name in sorted(saved)]


def version_list(session: Session, site_id: int, name: str) -> list[Listed]:
    """The saved versions of the site's template as a list shows them (number, when, subject), newest first: their
    HTML is not read."""
    rows = session.execute(
        select(TemplateVersion.version, TemplateVersion.created_at, TemplateVersion.subject)
        .join(EmailTemplate, EmailTemplate.id == TemplateVersion.template_id)
        .where(EmailTemplate.site_id == site_id, EmailTemplate.name == name)
        .order_by(TemplateVersion.version.desc())
    )
    return [Listed(name, version, saved_at, subject) for version, saved_at, subject in rows]


def template_names(session: Session, site_id: int) -> set[str]:
    """The names an email step may use on this site: its own templates and the shipped defaults."""
    own = session.scalars(select(EmailTemplate.name).where(EmailTemplate.site_id == site_id))
    return set(own) | set(shipped_names())


def _template(name: str, row: TemplateVersion) -> Template:
    return Template(name, row.version, row.subject, row.preheader, row.html, row.text, row.created_at)
