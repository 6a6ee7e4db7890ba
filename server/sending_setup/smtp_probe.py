"""Whether the mail server answers as SIBYL_SMTP_URL says: connect, EHLO, STARTTLS when asked, AUTH when credentials
are given, QUIT; what went wrong and what to do otherwise, the password and user name never repeated."""

from __future__ import annotations

import ipaddress
import smtplib
import socket
import ssl
from dataclasses import dataclass

from ..mail.smtp import SmtpSettings

PROBE_TIMEOUT = 5.0


@dataclass(frozen=True)
class ProbeResult:
    """What the server did; `trouble` and `todo` are set when something is wrong, `serious` when nothing can be sent
    as it is (rather than sent less safely)."""

    found: str
    trouble: bool = False
    serious: bool = False
    todo: str | None = None


def shown(settings: SmtpSettings) -> str:
    """The server as the doctor names it: scheme, host and port, never the credentials."""
    scheme = "smtps" if settings.ssl else "smtp"
    login = " (with a user name and password)" if settings.username else ""
    return f"{scheme}://{settings.host}:{settings.port}{'?starttls=1' if settings.starttls else ''}{login}"


def probe(settings: SmtpSettings, timeout: float = PROBE_TIMEOUT) -> ProbeResult:
    """Talk to the server as the worker will, up to AUTH, then QUIT."""
    where = f"{settings.host}:{settings.port}"
    try:
        connection = _connect(settings, timeout)
    except TimeoutError:
        return _failed(
            f"No answer from {where} within {timeout:g} s.",
            "Check the host and port, and that a firewall lets this machine reach it.",
        )
    except socket.gaierror:
        return _failed(f"Cannot find the host {settings.host!r}.", "Check the host name in SIBYL_SMTP_URL.")
    except ssl.SSLError as error:
        return _failed(
            f"TLS with {where} failed: {_scrubbed(str(error), settings)}.",
            "smtps:// is for implicit TLS (port 465); for port 587 use smtp://…:587?starttls=1.",
        )
    except smtplib.SMTPException as error:
        return _failed(
            f"{where} refused the connection: {_scrubbed(str(error), settings)}.", "Check the host and port."
        )
    except OSError as error:
        return _failed(
            f"Cannot connect to {where}: {error.strerror or type(error).__name__}.",
            "Check the host and port, and that the mail server is running.",
        )
    try:
        return _converse(connection, settings, where)
    except (smtplib.SMTPException, OSError) as error:
        return _failed(
            f"{where} broke off the conversation: {_scrubbed(str(error), settings)}.",
            "Try again; if it persists, check the server's logs.",
        )
    finally:
        connection.close()


def _connect(settings: SmtpSettings, timeout: float) -> smtplib.SMTP:
    if settings.ssl:
        return smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout, context=ssl.create_default_context())
    return smtplib.SMTP(settings.host, settings.port, timeout=timeout)


def _converse(connection: smtplib.SMTP, settings: SmtpSettings, where: str) -> ProbeResult:
    code, _ = connection.ehlo()
    if code != 250:
        return _failed(f"{where} did not accept EHLO ({code}).", "Check that this is an SMTP server's submission port.")
    steps = ["EHLO"]
    if settings.starttls:
        if not connection.has_extn("starttls"):
            return _failed(f"{where} does not offer STARTTLS.", "Drop ?starttls=1, or use the server's TLS port.")
        try:
            connection.starttls(context=ssl.create_default_context())
        except ssl.SSLError as error:
            return _failed(
                f"STARTTLS with {where} failed: {_scrubbed(str(error), settings)}.",
                "Check that the host name is the one on the server's certificate.",
            )
        connection.ehlo()
        steps.append("STARTTLS")
    if settings.username:
        try:
            connection.login(settings.username, settings.password or "")
        except smtplib.SMTPAuthenticationError as error:
            return _failed(
                f"{where} refused the user name and password ({error.smtp_code}).",
                "Check them in SIBYL_SMTP_URL; percent-encode @ : / and % in them.",
            )
        except smtplib.SMTPNotSupportedError:
            return _failed(f"{where} offers no AUTH here.", "Add ?starttls=1 (many servers offer AUTH only over TLS).")
        steps.append("AUTH")
    unasked_tls = not settings.ssl and not settings.starttls and connection.has_extn("starttls")
    connection.quit()
    answered = f"{shown(settings)} answered: {', '.join(steps)}."
    if unasked_tls and not _loopback(settings.host):
        return ProbeResult(
            answered
            + " It offers STARTTLS, which is not asked for: emails and the password cross the network unencrypted.",
            trouble=True,
            todo="Add ?starttls=1 to SIBYL_SMTP_URL.",
        )
    return ProbeResult(answered)


def _failed(found: str, todo: str) -> ProbeResult:
    return ProbeResult(found, trouble=True, serious=True, todo=todo)


def _scrubbed(text: str, settings: SmtpSettings) -> str:
    """A server's or library's words, any credential they repeat blanked out, on one line."""
    for secret in (settings.password, settings.username):
        if secret:
            text = text.replace(secret, "…")
    return " ".join(text.split())[:200]


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
