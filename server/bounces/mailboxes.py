"""The bounce mailbox read: a maildir folder or an IMAP folder, each message read into reports and applied, and
every report (applied, already applied, or about no email known here) removed so that the next read skips it.
Messages that are no bounce or complaint report stay where they are, for a person to read."""

from __future__ import annotations

import imaplib
import mailbox
import ssl
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol
from urllib.parse import unquote, urlsplit

from .apply import Outcome
from .dsn import read_report
from .reports import Report

_IMAP_PORTS = {"imap": 143, "imaps": 993}


class Mailbox(Protocol):
    """A folder of messages: each one's key and raw bytes, and removing one by its key."""

    def messages(self) -> Iterator[tuple[str, bytes]]: ...

    def remove(self, key: str) -> None: ...


@dataclass
class Summary:
    """What a read did: reports applied, already applied before, naming nothing known here; messages left alone."""

    outcomes: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    not_reports: int = 0
    removed: int = 0


def read_mailbox(box: Mailbox, apply: Callable[[Report], Outcome]) -> Summary:
    """Apply the reports of every message, removing each message that was a report once its reports are applied."""
    summary = Summary()
    for key, raw in box.messages():
        reports = read_report(raw)
        if reports is None:
            summary.not_reports += 1
            continue
        for report in reports:
            summary.outcomes[apply(report)] += 1
        box.remove(key)
        summary.removed += 1
    return summary


class Maildir:
    """A maildir folder (its `new` and `cur`), read with the standard library; a processed message is deleted."""

    def __init__(self, path: Path) -> None:
        if not (path / "new").is_dir() or not (path / "cur").is_dir():
            raise ValueError(f"{path}: not a maildir (it needs the folders cur, new and tmp)")
        self.folder = mailbox.Maildir(path, factory=None, create=False)

    def messages(self) -> Iterator[tuple[str, bytes]]:
        for key in list(self.folder.iterkeys()):
            yield key, self.folder.get_bytes(key)

    def remove(self, key: str) -> None:
        self.folder.discard(key)


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    folder: str
    ssl: bool


def parse_imap_url(url: str) -> ImapSettings:
    """Settings from `imaps://user:pass@host[:port]/FOLDER` (implicit TLS) or `imap://…` (plain; STARTTLS is
    used when the server offers it). The folder defaults to INBOX. ValueError otherwise, never repeating the
    password."""
    parts = urlsplit(url.strip())
    shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    if parts.scheme not in _IMAP_PORTS:
        raise ValueError(f"a mailbox URL must start with imap:// or imaps:// (or be a maildir path): {shown!r}")
    if not parts.hostname or not parts.username or parts.password is None:
        raise ValueError(f"an IMAP URL needs a user, a password and a host: {shown!r}")
    try:
        port = parts.port or _IMAP_PORTS[parts.scheme]
    except ValueError:
        raise ValueError(f"the IMAP URL has an invalid port: {shown!r}") from None
    return ImapSettings(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username),
        password=unquote(parts.password),
        folder=unquote(parts.path.strip("/")) or "INBOX",
        ssl=parts.scheme == "imaps",
    )


class Imap(AbstractContextManager["Imap"]):
    """An IMAP folder: every message fetched by UID; a processed one flagged \\Deleted, and expunged on close."""

    def __init__(self, settings: ImapSettings, timeout: float = 30) -> None:
        context = ssl.create_default_context()
        if settings.ssl:
            self.connection: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                settings.host, settings.port, ssl_context=context, timeout=timeout
            )
        else:
            self.connection = imaplib.IMAP4(settings.host, settings.port, timeout=timeout)
            if "STARTTLS" in self.connection.capabilities:
                self.connection.starttls(context)
        try:
            self.connection.login(settings.username, settings.password)
            status, _ = self.connection.select(_quoted(settings.folder))
        except imaplib.IMAP4.error as error:
            self.connection.shutdown()
            raise ValueError(f"IMAP server {settings.host} refused: {error}") from None
        if status != "OK":
            self.connection.shutdown()
            raise ValueError(f"IMAP folder {settings.folder!r} cannot be opened")

    def messages(self) -> Iterator[tuple[str, bytes]]:
        _, found = self.connection.uid("SEARCH", "ALL")
        for uid in (found[0] or b"").decode().split():
            _, fetched = self.connection.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((item[1] for item in fetched if isinstance(item, tuple)), None)
            if isinstance(raw, bytes):
                yield uid, raw

    def remove(self, key: str) -> None:
        self.connection.uid("STORE", key, "+FLAGS.SILENT", "(\\Deleted)")

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        try:
            self.connection.expunge()
            self.connection.logout()
        except (imaplib.IMAP4.error, OSError):
            self.connection.shutdown()


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
