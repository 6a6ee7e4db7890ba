"""Bounces and complaints as relays post them to a webhook, each read into Reports: Postmark's bounce and spam
complaint webhooks, Mailgun's `failed` and `complained` events, SendGrid's event batches (bounce, dropped,
spamreport) and Amazon SES notifications (straight, or inside an SNS message). Other events of the same relays
(delivered, opened, deferred…) are known and ask for nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..mail.outbox import Feedback
from .reports import Report, ReportError, Source, bracketed, one_line, report_key, status_code

_POSTMARK_KINDS = {
    "HardBounce": Feedback.HARD_BOUNCE,
    "BadEmailAddress": Feedback.HARD_BOUNCE,
    "SoftBounce": Feedback.SOFT_BOUNCE,
    "Transient": Feedback.SOFT_BOUNCE,
    "DnsError": Feedback.SOFT_BOUNCE,
    "SpamComplaint": Feedback.COMPLAINT,
}
_SENDGRID_DROPS = {"Bounced Address": Feedback.HARD_BOUNCE, "Invalid": Feedback.HARD_BOUNCE}
_SES_BOUNCES = {"Permanent": Feedback.HARD_BOUNCE, "Transient": Feedback.SOFT_BOUNCE}


def read_relay(body: Any) -> list[Report]:
    """The reports in a relay's JSON body (parsed); ReportError when it is no shape this knows."""
    if isinstance(body, list):
        if not all(isinstance(item, dict) and "event" in item and "email" in item for item in body):
            raise ReportError("a JSON array must be SendGrid's event batch: objects with `event` and `email`")
        return [report for item in body for report in _sendgrid(item)]
    if not isinstance(body, dict):
        raise ReportError("expected a JSON object or array")
    for recognised, read in _SHAPES:
        if recognised(body):
            return read(body)
    raise ReportError(
        "not a bounce or complaint of a known shape (Postmark, Mailgun, SendGrid, Amazon SES or SNS); "
        "see docs/bounces.md"
    )


def _postmark(body: dict[str, Any]) -> list[Report]:
    kind = _POSTMARK_KINDS.get(str(body.get("Type") or body.get("RecordType") or ""))
    if kind is None or body.get("RecordType") not in ("Bounce", "SpamComplaint"):
        return []
    return [
        Report(
            kind=kind,
            source=Source.POSTMARK,
            key=report_key(Source.POSTMARK, body.get("RecordType"), body.get("ID"), _text(body, "Email")),
            recipient=_text(body, "Email"),
            detail=one_line(_text(body, "Details") or _text(body, "Description")),
        )
    ]


def _mailgun(body: dict[str, Any]) -> list[Report]:
    data = body["event-data"]
    if not isinstance(data, dict):
        raise ReportError("event-data: expected an object")
    event = data.get("event")
    if event == "complained":
        kind = Feedback.COMPLAINT
    elif event == "failed":
        kind = Feedback.HARD_BOUNCE if data.get("severity") == "permanent" else Feedback.SOFT_BOUNCE
    else:
        return []
    status = _object(data, "delivery-status")
    headers = _object(_object(data, "message"), "headers")
    code = str(status.get("code") or "")
    return [
        Report(
            kind=kind,
            source=Source.MAILGUN,
            key=report_key(Source.MAILGUN, data.get("id"), data.get("timestamp"), _text(data, "recipient")),
            message_id=bracketed(_text(headers, "message-id")),
            recipient=_text(data, "recipient"),
            status=status_code(_text(status, "enhanced-code")) or status_code(f"{code[:1]}.0.0"),
            detail=one_line(_text(status, "description") or _text(status, "message") or _text(data, "reason")),
        )
    ]


def _sendgrid(item: dict[str, Any]) -> list[Report]:
    event = item.get("event")
    if event == "spamreport":
        kind: Feedback | None = Feedback.COMPLAINT
    elif event == "bounce":
        kind = Feedback.SOFT_BOUNCE if item.get("type") == "blocked" else Feedback.HARD_BOUNCE
    elif event == "dropped":
        reason = str(item.get("reason") or "")
        kind = Feedback.COMPLAINT if reason == "Spam Reporting Address" else _SENDGRID_DROPS.get(reason)
    else:
        kind = None
    if kind is None:
        return []
    status = _text(item, "status")
    return [
        Report(
            kind=kind,
            source=Source.SENDGRID,
            key=report_key(Source.SENDGRID, item.get("sg_event_id") or json.dumps(item, sort_keys=True)),
            message_id=bracketed(_text(item, "smtp-id")),
            recipient=_text(item, "email"),
            status=status_code(status),
            detail=one_line(_text(item, "reason")),
        )
    ]


def _sns(body: dict[str, Any]) -> list[Report]:
    if body.get("Type") == "SubscriptionConfirmation":
        raise ReportError(
            "an SNS subscription confirmation: confirm the subscription by opening its SubscribeURL "
            f"({_text(body, 'SubscribeURL')}); notifications are accepted after that"
        )
    if body.get("Type") != "Notification":
        return []
    try:
        message = json.loads(str(body.get("Message")))
    except json.JSONDecodeError:
        raise ReportError("Message: an SNS notification's Message must be the JSON of an SES notification") from None
    if not isinstance(message, dict):
        raise ReportError("Message: expected the JSON object of an SES notification")
    return _ses(message)


def _ses(body: dict[str, Any]) -> list[Report]:
    kind_name = body.get("notificationType") or body.get("eventType")
    headers = _object(_object(body, "mail"), "commonHeaders")
    message_id = bracketed(_text(headers, "messageId"))
    if kind_name == "Bounce":
        bounce = _object(body, "bounce")
        kind = _SES_BOUNCES.get(str(bounce.get("bounceType")), Feedback.SOFT_BOUNCE)
        return [
            Report(
                kind=kind,
                source=Source.SES,
                key=report_key(Source.SES, bounce.get("feedbackId"), _text(recipient, "emailAddress")),
                message_id=message_id,
                recipient=_text(recipient, "emailAddress"),
                status=status_code(_text(recipient, "status")),
                detail=one_line(_text(recipient, "diagnosticCode") or _text(bounce, "bounceSubType")),
            )
            for recipient in _objects(bounce, "bouncedRecipients")
        ]
    if kind_name == "Complaint":
        complaint = _object(body, "complaint")
        if complaint.get("complaintFeedbackType") == "not-spam":
            return []
        return [
            Report(
                kind=Feedback.COMPLAINT,
                source=Source.SES,
                key=report_key(Source.SES, complaint.get("feedbackId"), _text(recipient, "emailAddress")),
                message_id=message_id,
                recipient=_text(recipient, "emailAddress"),
                detail=one_line(_text(complaint, "complaintFeedbackType")),
            )
            for recipient in _objects(complaint, "complainedRecipients")
        ]
    return []


def _object(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ReportError(f"{name}: expected an object")
    return value


def _objects(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = body.get(name) or []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ReportError(f"{name}: expected an array of objects")
    return value


def _text(body: dict[str, Any], name: str) -> str | None:
    """A string or number field as one printable line; None when absent, empty or of another type."""
    value = body.get(name)
    return one_line(str(value)) if isinstance(value, (str, int)) and not isinstance(value, bool) else None


_SHAPES: list[tuple[Callable[[dict[str, Any]], bool], Callable[[dict[str, Any]], list[Report]]]] = [
    (lambda body: "RecordType" in body, _postmark),
    (lambda body: "event-data" in body, _mailgun),
    (lambda body: body.get("Type") in ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"), _sns),
    (lambda body: "notificationType" in body or "eventType" in body, _ses),
    (lambda body: "event" in body and "email" in body, _sendgrid),
]
