"""SMTP delivery: `SIBYL_SMTP_URL` settings, MIME messages and one reused connection."""

from __future__ import annotations

import base64
import hashlib
import secrets
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr
from types import TracebackType
from urllib.parse import parse_qsl, unquote, urlsplit

from ..contacts.addresses import is_stored_form, needs_smtputf8
from .dkim import DkimSigner

_DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_REPLY_CHARS = 200
IDLE_CHECK_SECONDS = 0.5  # back-to-back sends in one pass skip the NOOP round trip
_ADDRESS_HEADERS = ("From", "To")
_SMTPUTF8_OPTIONS = ("SMTPUTF8", "BODY=8BITMIME")  # as smtplib's own send_message asks for an international message


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssl: bool = False
    starttls: bool = False


def parse_smtp_url(url: str) -> SmtpSettings:
    """Settings from `smtp://[user:pass@]host:port`, `smtps://…` (implicit TLS) or `…?starttls=1`.

    ValueError otherwise; its message never repeats the password.
    """
    parts = urlsplit(url.strip())
    shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    if parts.scheme not in _DEFAULT_PORTS:
        raise ValueError(f"SMTP URL must start with smtp:// or smtps://: {shown!r}")
    if not parts.hostname:
        raise ValueError(f"SMTP URL has no host: {shown!r}")
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError(f"SMTP URL takes no path: {shown!r}")
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise ValueError(f"SMTP URL has an invalid port: {shown!r}") from None
    starttls = False
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name != "starttls" or value.lower() not in _TRUE + _FALSE:
            raise ValueError(f"SMTP URL takes only ?starttls=1 or ?starttls=0: {shown!r}")
        starttls = value.lower() in _TRUE
    if starttls and parts.scheme == "smtps":
        raise ValueError(f"smtps:// is already TLS; drop ?starttls=1 or use smtp://: {shown!r}")
    return SmtpSettings(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        ssl=parts.scheme == "smtps",
        starttls=starttls,
    )


@dataclass(frozen=True)
class Email:
    sender: str
    recipient: str
    subject: str
    html: str
    text: str
    message_id: str
    headers: dict[str, str] = field(default_factory=dict)
    bounce_to: str | None = None  # the envelope sender (MAIL FROM, Return-Path) when not the From address


def message_id(key: str, domain: str) -> str:
    """The same `<…@domain>` Message-ID for the same key, so a re-send is recognisably the same."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


def build_message(email: Email) -> bytes:
    """The raw multipart/alternative message: plain text first, HTML second (the part clients prefer).

    Assembled directly: every part is base64 and every header is ASCII or an RFC 2047 word, so the
    stdlib's general-purpose MIME generator (0.8 ms a message, most of a worker's time) is not needed.
    The one exception is a non-ASCII address in From or To: it stays UTF-8 (RFC 6532), and such a
    message is only ever sent with SMTPUTF8.
    """
    fields = {
        "Message-ID": email.message_id,
        "Date": formatdate(usegmt=True),
        "From": email.sender,
        "To": email.recipient,
        "Subject": email.subject,
        **email.headers,
        "MIME-Version": "1.0",
    }
    if any("\r" in value or "\n" in value for value in fields.values()):
        raise ValueError("a header value contains a line break")
    boundary = f"=_sibyl_{secrets.token_hex(16)}"
    lines = [
        f"{name}: {_address_header(value) if name in _ADDRESS_HEADERS else _header_value(value)}"
        for name, value in fields.items()
    ]
    lines.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
    lines.append("")
    for subtype, body in (("plain", email.text), ("html", email.html)):
        lines += [
            f"--{boundary}",
            f'Content-Type: text/{subtype}; charset="utf-8"',
            "Content-Transfer-Encoding: base64",
            "",
        ]
        lines.append(base64.encodebytes(body.encode()).decode("ascii").replace("\n", "\r\n").rstrip("\r\n"))
    lines += [f"--{boundary}--", ""]
    return "\r\n".join(lines).encode("utf-8")


def _header_value(value: str) -> str:
    """ASCII as it is; anything else as RFC 2047 encoded words (display names keep their address)."""
    if value.isascii():
        return value
    name, address = parseaddr(value)
    if address and "@" in address and name:
        return formataddr((str(Header(name, "utf-8")), address))
    return Header(value, "utf-8").encode()


def _address_header(value: str) -> str:
    """From or To: a non-ASCII address as it is (RFC 6532), its display name as RFC 2047 words."""
    name, address = parseaddr(value)
    if address.isascii():
        return _header_value(value)
    return f"{Header(name, 'utf-8').encode()} <{address}>" if name else address


def _envelope_sender(email: Email) -> str:
    return email.bounce_to or parseaddr(email.sender)[1]


class MailFailure(Exception):
    """Delivery failed; the message names the SMTP code or the connection problem."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TemporaryFailure(MailFailure):
    """Worth retrying later: a 4xx reply, or the server could not be reached."""


class PermanentFailure(MailFailure):
    """Retrying will not help: a 5xx reply (unknown recipient, bad credentials, rejected)."""


def _reply_failure(code: int, reply: bytes | str) -> MailFailure:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    text = " ".join(text.split())[:_REPLY_CHARS]
    kind = PermanentFailure if 500 <= code < 600 else TemporaryFailure
    return kind(f"SMTP {code}: {text}", code)


def _failure(error: smtplib.SMTPException | OSError) -> MailFailure:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return _reply_failure(*next(iter(error.recipients.values())))
    if isinstance(error, smtplib.SMTPResponseException):
        return _reply_failure(error.smtp_code, error.smtp_error)
    # The rest, smtplib's own errors included (they are OSErrors), leave the connection in doubt: try again later.
    return TemporaryFailure(f"SMTP connection failed: {type(error).__name__}: {error}")


class Mailer:
    """One SMTP connection, opened on the first `send` and reused until `close`.

    Not thread-safe: use one Mailer per thread. With `dkim`, each message is DKIM-signed for its From domain.
    """

    def __init__(self, settings: SmtpSettings, timeout: float = 10, dkim: DkimSigner | None = None) -> None:
        self.settings = settings
        self.timeout = timeout
        self.dkim = dkim
        self._connection: smtplib.SMTP | None = None
        self._last_used = 0.0

    def __enter__(self) -> Mailer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def send(self, email: Email) -> None:
        """Deliver `email`, or raise TemporaryFailure or PermanentFailure.

        The recipient must be an address exactly in its stored form, or smtplib's own parsing could
        send to another mailbox (`v@a.example(1)` goes to `v@a.example`). A non-ASCII address is
        sent with SMTPUTF8, and not at all by a server that does not offer it.
        """
        if not is_stored_form(email.recipient):
            raise PermanentFailure("recipient: not exactly one plain email address in its stored form; not sent")
        international = needs_smtputf8(email.recipient) or needs_smtputf8(_envelope_sender(email))
        try:
            message = build_message(email)
            if self.dkim is not None:
                message = self.dkim.sign(message, email.sender)
        except ValueError as error:  # e.g. a line break in a header, a From without a domain: no retry will fix it
            raise PermanentFailure(f"invalid email: {error}") from None
        try:
            connection = self._live_connection()
            options = self._smtputf8_options(connection) if international else ()
            connection.sendmail(email.bounce_to or email.sender, [email.recipient], message, mail_options=options)
            self._last_used = time.monotonic()
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as error:
            raise _failure(error) from None
        except (smtplib.SMTPException, OSError) as error:
            self._drop()
            raise _failure(error) from None
        except UnicodeError as error:  # something smtplib cannot put on the wire: the same on every retry
            self._drop()
            raise PermanentFailure(f"cannot encode the SMTP exchange: {error}") from None

    @staticmethod
    def _smtputf8_options(connection: smtplib.SMTP) -> tuple[str, ...]:
        """MAIL FROM's options for a non-ASCII address; PermanentFailure when the server lacks SMTPUTF8."""
        connection.ehlo_or_helo_if_needed()
        if not connection.has_extn("smtputf8"):
            raise PermanentFailure("the SMTP server does not offer SMTPUTF8, which a non-ASCII address needs; not sent")
        return _SMTPUTF8_OPTIONS

    def close(self) -> None:
        """Say QUIT and close the connection, if one is open."""
        if self._connection is None:
            return
        try:
            self._connection.quit()
        except (smtplib.SMTPException, OSError):
            self._drop()
        self._connection = None

    def _live_connection(self) -> smtplib.SMTP:
        """The open connection (checked with NOOP when it has been idle), else a new one."""
        if self._connection is not None and time.monotonic() - self._last_used > IDLE_CHECK_SECONDS:
            try:
                code, _ = self._connection.noop()
            except (smtplib.SMTPException, OSError):
                code = 0
            if code != 250:
                self._drop()
        if self._connection is None:
            self._connection = self._connect()
        return self._connection

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        if settings.ssl:
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            connection = smtplib.SMTP(settings.host, settings.port, timeout=self.timeout)
        try:
            if settings.starttls:
                connection.starttls(context=ssl.create_default_context())
            if settings.username:
                connection.login(settings.username, settings.password or "")
        except BaseException:
            connection.close()
            raise
        return connection

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
