"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives, for tests."""

from __future__ import annotations

import socket
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

POLL_SECONDS = 0.02


class _Controller(Controller):
    """Counts the SMTP sessions it opens."""

    def __init__(self, sink: SmtpSink, **kwargs: Any) -> None:
        super().__init__(sink, **kwargs)
        self.sink = sink

    def factory(self) -> SMTP:
        with self.sink.lock:
            self.sink.connections += 1
        return SMTP(self.handler, **self.SMTP_kwargs)  # as Controller.factory, which subclasses are meant to replace


class SmtpSink:
    """Accepts mail on `.url`; `.messages` are the parsed messages (`.raw` as received), `.connections` the sessions.

    With `credentials`, `.url` carries them and mail from an unauthenticated session is refused.
    `idle_timeout` is how long the server keeps a silent connection open before dropping it.
    With `smtputf8`, the server offers SMTPUTF8 (RFC 6531) and takes non-ASCII addresses.
    """

    def __init__(
        self, credentials: tuple[str, str] | None = None, idle_timeout: float = 300, smtputf8: bool = False
    ) -> None:
        self.credentials = credentials
        self.idle_timeout = idle_timeout
        self.smtputf8 = smtputf8
        self.lock = threading.Lock()
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.mail_options: list[list[str]] = []
        self.connections = 0
        self._failures: dict[str, list[str]] = {"RCPT": [], "DATA": []}
        self._controller: _Controller | None = None
        self.port = 0

    @property
    def url(self) -> str:
        user = f"{self.credentials[0]}:{self.credentials[1]}@" if self.credentials else ""
        return f"smtp://{user}127.0.0.1:{self.port}"

    def start(self) -> None:
        """Listen on a free port, or on the same port again after `stop()` (a server coming back)."""
        if not self.port:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                self.port = sock.getsockname()[1]
        self._controller = _Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self._authenticate,
            auth_require_tls=False,
            timeout=self.idle_timeout,
            enable_SMTPUTF8=self.smtputf8,
        )
        self._controller.start()
        with self.lock:
            self.connections = 0  # the controller's own start-up probe is not a session

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def fail_next(self, count: int, reply: str, command: str = "DATA") -> None:
        """The next `count` DATA (or RCPT) commands answer `reply`, e.g. "451 4.3.0 try later"."""
        with self.lock:
            self._failures[command] = [reply] * count

    def wait_for(self, count: int, timeout: float = 10) -> list[EmailMessage]:
        """The messages once there are at least `count`; fails the test at the timeout."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
                received = len(self.messages)
            if time.monotonic() > deadline:
                pytest.fail(f"SMTP sink: expected {count} message(s) within {timeout}s, received {received}")
            time.sleep(POLL_SECONDS)

    def _failure(self, command: str) -> str | None:
        with self.lock:
            return self._failures[command].pop(0) if self._failures[command] else None

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        given = (data.login.decode(), data.password.decode()) if isinstance(data, LoginPassword) else None
        return AuthResult(success=self.credentials is not None and given == self.credentials, handled=False)

    async def handle_RCPT(  # noqa: N802 (aiosmtpd calls a hook by its SMTP command's name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        failure = self._failure("RCPT")
        if failure:
            return failure
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 (as handle_RCPT)
        if self.credentials and not session.authenticated:
            return "530 5.7.0 Authentication required"
        failure = self._failure("DATA")
        if failure:
            return failure
        message = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        with self.lock:
            self.messages.append(message)
            self.raw.append(envelope.original_content or b"")
            self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
            self.mail_options.append(list(envelope.mail_options))
        return "250 OK: queued"


def body(message: EmailMessage, subtype: str) -> str:
    """The text of a received message's plain or html part."""
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    content: str = part.get_content()
    return content
