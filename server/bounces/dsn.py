"""Bounce and complaint messages as mail systems send them: RFC 3464 delivery status notifications and RFC 5965
abuse reports (ARF), each read into Reports naming the email by its bounce token or its Message-ID.

Parsed with the standard library's `email` package rather than a bounce library such as flufl.bounce: both formats
are structured MIME that `email` reads field by field, and what is needed is the email the bounce is about (the
token in the address it came back to, the returned Message-ID), which heuristic libraries that only list the
addresses that failed do not give."""

from __future__ import annotations

import hashlib
from email import message_from_bytes
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32
from email.utils import getaddresses

from ..mail.outbox import Feedback
from .reports import Report, Source, bracketed, one_line, report_key

# Where a bounce says which address it came back to: the token in its envelope recipient, kept by the mailbox.
_DELIVERED_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To")
# The returned copy's envelope sender, as the receiving mailbox recorded it.
_RETURNED_HEADERS = ("Return-Path",)
_COMPLAINT_TYPES = {"abuse", "fraud", "virus"}
# RFC 3463's X.2.2, mailbox full: a passing state, counted as a soft bounce even when reported as permanent.
_MAILBOX_FULL = "5.2.2"


def read_report(raw: bytes) -> list[Report] | None:
    """The reports a message holds: None when it is no DSN or ARF report (an auto-reply, spam); an empty list for
    one that asks for nothing (a delay warning, a delivery notice, a report that is not a complaint)."""
    message = message_from_bytes(raw, policy=compat32)
    if message.get_content_type() != "multipart/report":
        return None
    report_type = str(message.get_param("report-type", "") or "").lower()
    if report_type == "delivery-status":
        return _delivery_status(message, raw)
    if report_type == "feedback-report":
        return _feedback_report(message, raw)
    return None


def _delivery_status(message: Message, raw: bytes) -> list[Report] | None:
    fields = _part_fields(message, "message/delivery-status")
    if fields is None:
        return None
    original = _returned_headers(message)
    addresses = _addresses(message, _DELIVERED_HEADERS) + (_addresses(original, _RETURNED_HEADERS) if original else ())
    reports = []
    for recipient in fields[1:]:
        if (_field(recipient, "Action") or "").lower() != "failed":
            continue  # delayed (the mail system still tries), delivered, relayed, expanded: nothing bounced
        status = _status(recipient)
        address = _typed_address(_field(recipient, "Final-Recipient") or _field(recipient, "Original-Recipient"))
        reports.append(
            Report(
                kind=_bounce_kind(status),
                source=Source.DSN,
                key=report_key(Source.DSN, _identity(message, raw), address),
                token_addresses=addresses,
                message_id=bracketed(_field(original, "Message-ID")) if original else None,
                recipient=address,
                status=status,
                detail=one_line(_field(recipient, "Diagnostic-Code")),
            )
        )
    return reports


def _feedback_report(message: Message, raw: bytes) -> list[Report] | None:
    fields = _part_fields(message, "message/feedback-report")
    if fields is None or not fields:
        return None
    feedback = fields[0]
    if (_field(feedback, "Feedback-Type") or "").lower() not in _COMPLAINT_TYPES:
        return []
    original = _returned_headers(message)
    recipient = _typed_address(_field(feedback, "Original-Rcpt-To"))
    if recipient is None and original is not None:
        recipient = next(iter(_addresses(original, ("To",))), None)
    addresses = (
        _addresses(message, _DELIVERED_HEADERS)
        + _addresses(feedback, ("Original-Mail-From",))
        + (_addresses(original, _RETURNED_HEADERS) if original else ())
    )
    return [
        Report(
            kind=Feedback.COMPLAINT,
            source=Source.ARF,
            key=report_key(Source.ARF, _identity(message, raw)),
            token_addresses=addresses,
            message_id=bracketed(_field(original, "Message-ID")) if original else None,
            recipient=recipient,
            detail=one_line(_field(feedback, "User-Agent")),
        )
    ]


def _bounce_kind(status: str | None) -> Feedback:
    """Hard for a permanent failure (5.x.x, or no status: the mail system gave up), soft for a transient one."""
    if status is None:
        return Feedback.HARD_BOUNCE
    if status.startswith("4.") or status == _MAILBOX_FULL:
        return Feedback.SOFT_BOUNCE
    return Feedback.HARD_BOUNCE


def _status(recipient: Message) -> str | None:
    """The enhanced status code (`5.1.1`), from the Status field, else from a Diagnostic-Code's SMTP reply."""
    for text in (_field(recipient, "Status"), _field(recipient, "Diagnostic-Code")):
        for word in (text or "").replace("-", " ").split():
            parts = word.strip("();,").split(".")
            if len(parts) == 3 and parts[0] in ("2", "4", "5") and all(part.isdigit() for part in parts[1:]):
                return ".".join(parts)
    diagnostic = (_field(recipient, "Diagnostic-Code") or "").partition(";")[2].strip()
    if diagnostic[:1] in ("4", "5") and diagnostic[:3].isdigit():
        return f"{diagnostic[0]}.0.0"
    return None


def _identity(message: Message, raw: bytes) -> str:
    """What identifies the report: its own Message-ID, else its whole content."""
    return _field(message, "Message-ID") or hashlib.sha256(raw).hexdigest()


def _part_fields(message: Message, content_type: str) -> list[Message] | None:
    """The field groups of the report's machine-readable part (per message, then per recipient), or None."""
    for part in message.walk():
        if part.get_content_type() != content_type:
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            return [group for group in payload if isinstance(group, Message)]
        text = _decoded(part)
        return [HeaderParser().parsestr(block.strip() + "\n") for block in text.replace("\r\n", "\n").split("\n\n")]
    return None


def _returned_headers(message: Message) -> Message | None:
    """The headers of the returned email (a message/rfc822 copy or text/rfc822-headers), when the report has them."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        elif kind == "text/rfc822-headers":
            return HeaderParser().parsestr(_decoded(part))
    return None


def _decoded(part: Message) -> str:
    body = part.get_payload(decode=True)
    return body.decode("utf-8", "replace") if isinstance(body, bytes) else str(part.get_payload())


def _field(message: Message, name: str) -> str | None:
    value = message.get(name)
    return one_line(str(value)) if value is not None else None


def _typed_address(value: str | None) -> str | None:
    """The address of a DSN's `rfc822; someone@example.com` field."""
    if not value:
        return None
    address = value.partition(";")[2] if ";" in value else value
    address = address.strip().strip("<>").strip()
    return address or None


def _addresses(message: Message, names: tuple[str, ...]) -> tuple[str, ...]:
    """The addresses in the headers `names`, each once, in order."""
    values = [str(value) for name in names for value in message.get_all(name, [])]
    return tuple(dict.fromkeys(address for _, address in getaddresses(values) if address))
