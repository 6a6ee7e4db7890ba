"""Group commit: the requests of one process that arrive while a transaction is being written share the next one.

One request at a time is the leader: it takes every request waiting (its own first), stores their events as one
batch in one transaction, answers them all, and hands the lead to the next waiting request, if any. A request alone
(a quiet site, the test client, a worker without threads) leads a group of one: the plain path, with no thread, no
timer and no wait. Each request is still answered only after the transaction holding its events has committed, so an
acknowledged event is durable, stored once, and its contact, cart and runs are updated before the answer goes back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

Request = TypeVar("Request")
Answer = TypeVar("Answer")

# One transaction holds at most this many requests' events (a bound on its size and on how long it locks).
MAX_GROUP = 64


@dataclass(eq=False)
class _Waiting(Generic[Request, Answer]):
    request: Request
    woken: threading.Event = field(default_factory=threading.Event)
    leads: bool = False
    answer: Answer | None = None
    error: BaseException | None = None

    def outcome(self) -> Answer:
        if self.error is not None:
            raise self.error
        assert self.answer is not None
        return self.answer


Group = Callable[[Session, list[Request]], list[Answer | BaseException]]


class GroupCommit(Generic[Request, Answer]):
    """Requests answered by `store`, which writes a whole group in the leader's session and returns, in order, each
    request's answer or the error that request alone met."""

    def __init__(self, store: Group[Request, Answer], max_group: int = MAX_GROUP) -> None:
        self._store = store
        self._max_group = max_group
        self._lock = threading.Lock()
        self._queue: list[_Waiting[Request, Answer]] = []
        self._leading = False

    @property
    def waiting(self) -> int:
        """How many requests wait for the next transaction."""
        with self._lock:
            return len(self._queue)

    def submit(self, session: Session, request: Request) -> Answer:
        """Wait for the transaction that stores `request` (leading it if no one is) and return its answer."""
        waiting: _Waiting[Request, Answer] = _Waiting(request)
        with self._lock:
            self._queue.append(waiting)
            leads = not self._leading
            self._leading = True
        if not leads:
            waiting.woken.wait()
            if not waiting.leads:
                return waiting.outcome()
        self._lead(session)
        return waiting.outcome()

    def _lead(self, session: Session) -> None:
        """Store one group (the leader's request is the queue's first), then pass the lead on or give it up."""
        with self._lock:
            group = self._queue[: self._max_group]
            del self._queue[: self._max_group]
        try:
            outcomes = self._store(session, [waiting.request for waiting in group])
        except BaseException as error:  # every request of the group is answered, even by this
            outcomes = [error] * len(group)
        finally:
            with self._lock:
                successor = self._queue[0] if self._queue else None
                self._leading = successor is not None
        for waiting, outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                waiting.error = outcome
            else:
                waiting.answer = outcome
            waiting.woken.set()
        if successor is not None:
            successor.leads = True
            successor.woken.set()
