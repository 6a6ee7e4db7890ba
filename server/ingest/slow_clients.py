"""A deadline on reading a request's body under gunicorn, so that a client sending slowly holds a web
thread for a bounded time, then gets 408 and loses its connection."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterable, Iterator
from typing import Any, cast

from werkzeug.exceptions import RequestTimeout


class BodyTimeout(RequestTimeout):
    description = "body: not received in time; send the whole request at once"


class _DeadlineInput:
    """`wsgi.input` whose every read waits at most until the deadline for the client's bytes."""

    def __init__(self, stream: Any, sock: socket.socket, deadline: float) -> None:
        self._stream = stream
        self._sock = sock
        self._deadline = deadline

    def _call(self, method: str, *args: Any) -> Any:
        remaining = self._deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            self._sock.settimeout(remaining)
            return getattr(self._stream, method)(*args)
        except TimeoutError:
            # Nothing more is read from this client: gunicorn finds the body ended and closes the
            # connection after the 408, instead of waiting for the rest of it.
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RD)
            raise BodyTimeout() from None
        finally:
            with contextlib.suppress(OSError):
                self._sock.settimeout(None)

    def read(self, *size: int | None) -> bytes:
        return cast(bytes, self._call("read", *size))

    def readline(self, *size: int | None) -> bytes:
        return cast(bytes, self._call("readline", *size))

    def readlines(self, *hint: int | None) -> list[bytes]:
        return cast(list[bytes], self._call("readlines", *hint))

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line


class BodyDeadline:
    """WSGI middleware: under gunicorn (which hands the app its socket), bound the time a body may take."""

    def __init__(self, app: Any, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        sock = environ.get("gunicorn.socket")
        if sock is not None and "wsgi.input" in environ:
            environ["wsgi.input"] = _DeadlineInput(environ["wsgi.input"], sock, time.monotonic() + self.seconds)
        return cast(Iterable[bytes], self.app(environ, start_response))
