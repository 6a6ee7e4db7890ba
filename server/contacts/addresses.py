"""Email addresses: one strict rule at every door, one stored form, and the same rule again before a send."""

from __future__ import annotations

from email.utils import parseaddr
from functools import lru_cache
from typing import Any

# A maintained implementation of RFC 5321/5322/6531 addr-spec rules and IDNA, rather than a regex of our own.
from email_validator import EmailNotValidError, validate_email

MAX_CHARS = 254  # RFC 5321's limit on a forward path, less its angle brackets
_CACHED = 8192  # identifications repeat (one visitor, many messages): a hit is a dict lookup, a miss ~20 µs


class InvalidAddress(ValueError):
    """Not one plain email address; the message says what is wrong."""


def email_address(value: str) -> str:
    """The stored form of `value`, or InvalidAddress saying why it is not one address.

    One addr-spec, trimmed: no display name, comment, quoted local part, list, IP-literal domain or
    control character, and a domain that could exist on the Internet. The stored form is the whole
    address lower-cased, its local part in Unicode NFC (non-ASCII only through SMTPUTF8) and its
    domain in IDNA ASCII form (`bücher.example` is kept as `xn--bcher-kva.example`).
    """
    trimmed = value.strip()
    if len(trimmed) > MAX_CHARS:
        raise InvalidAddress(f"longer than {MAX_CHARS} characters")
    try:
        return _stored_form(trimmed.lower())  # lower-cased first: the stored form itself is then a cache hit
    except EmailNotValidError as error:
        raise InvalidAddress(str(error)) from None


def normalise_email(value: Any) -> str | None:
    """The stored form of `value`, or None when it is not a string holding one valid address."""
    if not isinstance(value, str):
        return None
    try:
        return email_address(value)
    except InvalidAddress:
        return None


def is_stored_form(address: str) -> bool:
    """Whether `address` is exactly what a door would store for it, so nothing re-parses it into another."""
    return normalise_email(address) == address


def needs_smtputf8(address: str) -> bool:
    """A non-ASCII local part can only be delivered by a server that offers SMTPUTF8 (RFC 6531)."""
    return not address.isascii()


@lru_cache(maxsize=_CACHED)
def _stored_form(value: str) -> str:
    valid = validate_email(value, check_deliverability=False, allow_smtputf8=True)
    address = f"{valid.local_part}@{valid.ascii_domain}"
    if parseaddr(address) != ("", address):  # what smtplib puts in RCPT TO must be this address, unchanged
        raise EmailNotValidError("The email address is not read back as itself by an SMTP client.")
    return address
