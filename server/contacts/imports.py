"""Contacts from a CSV file as Brevo exports them: one a row, found by email (created when new), the columns named
like the site's attributes setting those, and Brevo's blocklist columns unsubscribing."""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from ..mail.unsubscribe import unsubscribe
from ..models import Attribute, Contact, Site, utcnow
from .addresses import InvalidAddress, email_address
from .attributes import AttributeType
from .identity import ContactBook

BATCH = 500  # rows written in one transaction
DELIMITERS = (",", ";", "\t")
_EMAIL_COLUMNS = frozenset({"email"})
# Brevo's names for "this address unsubscribed", old (blacklisted) and new (blocklisted), as the exports and API
# spell them, compared without case or separators.
_EMAIL_FLAG_COLUMNS = frozenset(
    {"emailblacklisted", "emailblocklisted", "blacklisted", "blocklisted", "unsubscribed", "emailunsubscribed"}
)
_SMS_FLAG_COLUMNS = frozenset({"smsblacklisted", "smsblocklisted"})
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
_ISO_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})([ T].*)?$")


class ImportRefused(ValueError):
    """The file as a whole cannot be imported; the message says why (and on which line)."""


def _key(column: str) -> str:
    return re.sub(r"[^a-z0-9]", "", column.lower())


@dataclass(frozen=True)
class Columns:
    """What each column of the file is: the email, a blocklist flag, an attribute, or unknown (left out)."""

    names: list[str]
    email: int
    email_flag: int | None
    sms_flag: int | None
    attributes: dict[int, Attribute]
    unknown: list[str]


@contextmanager
def _lines(path: Path) -> Iterator[Iterator[str]]:
    """The file's lines as UTF-8 text (a byte order mark skipped), or ImportRefused naming what stops it being read."""
    try:
        file = path.open("rb")
    except OSError as error:
        raise ImportRefused(f"{path}: {error.strerror}") from None
    with file:
        yield _decoded(file)


def _decoded(file: BinaryIO) -> Iterator[str]:
    for number, raw in enumerate(file, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ImportRefused(f"line {number}: not UTF-8 text (save the file as UTF-8 CSV)") from None
        yield text.removeprefix("\ufeff") if number == 1 else text


def read_header(path: Path) -> tuple[list[str], str]:
    """The file's column names and its separator (the one of `,` `;` or tab its first line holds most of)."""
    with _lines(path) as lines:
        first = next(lines, "")
    delimiter = max(DELIMITERS, key=first.count)
    header = next(csv.reader([first], delimiter=delimiter), [])
    names = [name.strip() for name in header]
    if not any(_key(name) in _EMAIL_COLUMNS for name in names):
        raise ImportRefused("line 1: no EMAIL column (the first line must name the columns)")
    keys = [_key(name) for name in names]
    repeated = sorted({name for name, key in zip(names, keys, strict=True) if key and keys.count(key) > 1})
    if repeated:
        raise ImportRefused(f"line 1: columns named twice: {', '.join(repeated)}")
    return names, delimiter


def columns_of(names: list[str], attributes: list[Attribute]) -> Columns:
    """Each column's meaning; an attribute's column matches its name whatever its case."""
    by_name = {attribute.name: attribute for attribute in attributes}
    email, email_flag, sms_flag = -1, None, None
    matched: dict[int, Attribute] = {}
    unknown = []
    for index, name in enumerate(names):
        key = _key(name)
        if key in _EMAIL_COLUMNS:
            email = index
        elif key in _EMAIL_FLAG_COLUMNS:
            email_flag = index
        elif key in _SMS_FLAG_COLUMNS:
            sms_flag = index
        elif name.upper() in by_name:
            matched[index] = by_name[name.upper()]
        elif name:
            unknown.append(name)
    return Columns(names, email, email_flag, sms_flag, matched, unknown)


def rows(path: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """The rows after the header, each with the line it starts on; ImportRefused for a file that is not CSV text."""
    with _lines(path) as lines:
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        line = 1
        try:
            next(reader, None)
            line = reader.line_num + 1
            for row in reader:
                if any(cell.strip() for cell in row):
                    yield line, row
                line = reader.line_num + 1
        except csv.Error as error:
            raise ImportRefused(f"line {line}: not CSV: {error}") from None


def check_file(path: Path, delimiter: str) -> int:
    """How many rows the file holds, read through once before anything is written."""
    return sum(1 for _ in rows(path, delimiter))


@dataclass
class ImportReport:
    """What an import did, and each value or row it left out, by line."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)


def _flag(text: str) -> bool | None:
    """True or False for a flag cell, None for an empty one; ValueError for anything else."""
    value = text.strip().lower()
    if not value:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{text!r} is neither true nor false")


def attribute_value(attribute: Attribute, text: str) -> Any:
    """A cell's text as a value of the attribute's type; ValueError saying why it is not one."""
    kind = AttributeType(attribute.type)
    if "\x00" in text:
        raise ValueError("contains a NUL character")
    if kind is AttributeType.TEXT:
        return text
    if kind is AttributeType.FLOAT:
        number = float(text.strip())
        if not math.isfinite(number):
            raise ValueError(f"{text!r} is not a finite number")
        return number
    if kind is AttributeType.DATE:
        match = _ISO_DATE.match(text.strip())
        if not match:
            raise ValueError(f"{text!r} is not a date written YYYY-MM-DD")
        return date.fromisoformat(match.group(1)).isoformat()
    if kind is AttributeType.BOOLEAN:
        flag = _flag(text)
        if flag is None:
            raise ValueError("empty")
        return flag
    for choice in attribute.enumeration or []:
        if text.strip() in (str(choice["value"]), str(choice["label"])):
            return choice["value"]
    raise ValueError(f"{text!r} is none of the category's values")


def import_contacts(session: Session, site: Site, path: Path, delimiter: str, columns: Columns) -> ImportReport:
    """Create or update a contact per row, BATCH rows a transaction. An empty cell changes nothing; a blocklist
    column's true unsubscribes the contact (its carts close), and an import never lifts a blocklist. The contacts
    count as vouched for, as those a secret-key API call writes (a confirmed-only site may email them); no
    workflow starts for them."""
    report = ImportReport()
    batch: list[tuple[int, list[str]]] = []
    for line, row in rows(path, delimiter):
        batch.append((line, row))
        if len(batch) == BATCH:
            _write_batch(session, site, batch, columns, report)
            batch = []
    if batch:
        _write_batch(session, site, batch, columns, report)
    return report


def _cell(row: list[str], index: int | None) -> str:
    return row[index] if index is not None and index < len(row) else ""


def _write_batch(
    session: Session, site: Site, batch: list[tuple[int, list[str]]], columns: Columns, report: ImportReport
) -> None:
    book = ContactBook(session, site)
    counts = ImportReport()
    for line, row in batch:
        try:
            address = email_address(_cell(row, columns.email))
        except InvalidAddress as error:
            counts.skipped += 1
            report.problems.append(f"line {line}: {_cell(row, columns.email)!r} is not a valid email address: {error}")
            continue
        try:
            email_flag = _flag(_cell(row, columns.email_flag))
            sms_flag = _flag(_cell(row, columns.sms_flag))
        except ValueError as error:
            counts.skipped += 1
            report.problems.append(f"line {line}: blocklist column: {error}")
            continue
        values = {}
        for index, attribute in columns.attributes.items():
            text = _cell(row, index)
            if not text.strip():
                continue
            try:
                values[attribute.name] = attribute_value(attribute, text)
            except ValueError as error:
                report.problems.append(f"line {line}: {columns.names[index]}: {error}; left out")
        contact = book.find_or_create_by_email(address)
        before = (dict(contact.attributes or {}), contact.email_blacklisted, contact.sms_blacklisted)
        _apply(session, book, contact, values, email_flag, sms_flag)
        if contact.id in book.created:
            book.created.discard(contact.id)
            counts.created += 1
        elif before != (contact.attributes, contact.email_blacklisted, contact.sms_blacklisted):
            counts.updated += 1
        else:
            counts.unchanged += 1
    session.commit()
    report.created += counts.created
    report.updated += counts.updated
    report.unchanged += counts.unchanged
    report.skipped += counts.skipped


def _apply(
    session: Session,
    book: ContactBook,
    contact: Contact,
    values: dict[str, Any],
    email_flag: bool | None,
    sms_flag: bool | None,
) -> None:
    book.set_attributes(contact, values)
    if email_flag and not contact.email_blacklisted:
        unsubscribe(session, contact, from_email=False)  # unsubscribed elsewhere: no email of ours is counted
    if sms_flag and not contact.sms_blacklisted:
        contact.sms_blacklisted = True
        contact.modified_at = utcnow()
    contact.confirmed_at = contact.confirmed_at or utcnow()
