"""A forgotten dashboard password: a signed link valid for an hour and once only (it names the user's current
password, so a new one ends it), built from SIBYL_PUBLIC_URL, and the email that carries it."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from datetime import UTC, datetime, timedelta

from flask import Flask
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from ..mail.dkim import DkimKeyError, configured_signer
from ..mail.outbox import message_domain
from ..mail.render import render
from ..mail.smtp import Email, Mailer, MailFailure, message_id, parse_smtp_url
from ..models import User

LINK_LIFETIME = timedelta(hours=1)
_SALT = "sibyl-password-reset"


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_SALT)


def _password_stamp(secret_key: str, user: User) -> str:
    """A keyed digest of the user's password hash: the link carries it, never the hash itself."""
    return hmac.new(secret_key.encode(), user.password_hash.encode(), hashlib.sha256).hexdigest()[:32]


def reset_link(base_url: str, secret_key: str, user: User) -> str:
    """`{base_url}/password/reset/{token}` for the user, as it is now."""
    token = _serializer(secret_key).dumps([user.id, _password_stamp(secret_key, user)])
    return f"{base_url.rstrip('/')}/password/reset/{token}"


def user_of_link(session: Session, secret_key: str, token: str, now: datetime) -> User | None:
    """The user a reset link names, if it is genuine, younger than LINK_LIFETIME at `now`, and the user's password
    has not changed since it was made (so it works once); None otherwise."""
    try:
        payload, issued_at = _serializer(secret_key).loads(token, return_timestamp=True)
    except BadData:
        return None
    if not isinstance(payload, list) or len(payload) != 2 or not isinstance(payload[0], int):
        return None
    if now.astimezone(UTC) - issued_at > LINK_LIFETIME:
        return None
    user = session.get(User, payload[0])
    if user is None or not hmac.compare_digest(str(payload[1]), _password_stamp(secret_key, user)):
        return None
    return user


def reset_email(app: Flask, user: User) -> Email:
    """The email with the user's reset link, from the server's SIBYL_MAIL_FROM."""
    sender = str(app.config["MAIL_FROM"])
    link = reset_link(str(app.config["PUBLIC_URL"]), str(app.config["SECRET_KEY"]), user)
    rendered = render("password_reset", {"link": link, "email": user.email, "hours": 1})
    return Email(
        sender=sender,
        recipient=user.email,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        message_id=message_id(f"password-reset-{user.id}-{secrets.token_hex(8)}", message_domain(sender)),
    )


def send_reset_email(app: Flask, email: Email) -> None:
    """Send the email over SIBYL_SMTP_URL in a thread of its own, so that the page answers as fast for an address
    that has no account as for one that has (no one learns which addresses are users); a failure is logged."""

    def send() -> None:
        try:
            with Mailer(parse_smtp_url(str(app.config["SMTP_URL"])), dkim=configured_signer(app.config)) as mailer:
                mailer.send(email)
        except (MailFailure, DkimKeyError, ValueError) as error:
            app.logger.warning("password reset email to a dashboard user not sent: %s", error)

    threading.Thread(target=send, name="password-reset-email", daemon=True).start()
