"""A bounce or complaint report in one shape, whichever way it came (a DSN, an ARF report, a relay's JSON)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum

from ..mail.outbox import Feedback

DETAIL_CHARS = 500
_STATUS = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")


class Source(StrEnum):
    """Where a report came from."""

    DSN = "dsn"  # RFC 3464 delivery status notification
    ARF = "arf"  # RFC 5965 abuse report (a feedback loop's complaint)
    POSTMARK = "postmark"
    MAILGUN = "mailgun"
    SENDGRID = "sendgrid"
    SES = "ses"


class ReportError(ValueError):
    """The input is no bounce or complaint report of a known shape; the message says what is wrong."""


@dataclass(frozen=True)
class Report:
    """One bounced or complained-about email, as far as the report names it: by an address that may carry its
    bounce token, by its Message-ID, or by the recipient's address."""

    kind: Feedback
    source: Source
    key: str  # unique per report: a report read or posted twice is applied once
    token_addresses: tuple[str, ...] = ()
    message_id: str | None = None
    recipient: str | None = None
    status: str | None = None  # the enhanced status code, e.g. 5.1.1
    detail: str | None = None

    @property
    def bounced(self) -> bool:
        return self.kind is not Feedback.COMPLAINT


def report_key(source: Source, *parts: object) -> str:
    """A report's key from what identifies it (its own id, or its whole content): short, and the same every time."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()[:40]
    return f"{source}:{digest}"


def one_line(text: str | None) -> str | None:
    """A value as stored or looked up: one line of printable characters (a NUL or a lone surrogate, which the
    database refuses, made a space), at most DETAIL_CHARS of them; None for nothing."""
    if text is None:
        return None
    flat = " ".join("".join(char if char.isprintable() else " " for char in str(text)).split())
    return flat[:DETAIL_CHARS] or None


def status_code(text: str | None) -> str | None:
    """An enhanced status code (RFC 3463, `5.1.1`) as given, or None for anything else."""
    return text if text is not None and _STATUS.fullmatch(text) else None


def bracketed(message_id: str | None) -> str | None:
    """A Message-ID in the `<…>` form the outbox keeps, however a report wrote it."""
    bare = (one_line(message_id) or "").strip("<>").strip()
    return f"<{bare}>" if bare else None
