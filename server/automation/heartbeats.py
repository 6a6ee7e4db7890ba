"""Worker heartbeats: each worker process's row, written as it passes; which workers are alive, and which can send."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select
from sqlalchemy.orm import Session

from ..db import insert_for
from ..models import WorkerHeartbeat

BEAT_EVERY = timedelta(seconds=5)  # a busy worker passes back to back: its row is written at most this often
FORGET_AFTER = timedelta(days=1)  # a row unseen this long is a worker gone for good, and deleted
PRUNE_EVERY = timedelta(hours=1)
MIN_ALIVE = timedelta(seconds=60)
_HEARTBEATS = WorkerHeartbeat.__table__
_MAX_HOST = 40  # the id is host:pid:random, at most 64 characters


def alive_within(poll: float, lease: float) -> timedelta:
    """How recently a live worker was seen: three idle waits, or two leases (a pass of many emails takes about one,
    and its row is written at the pass's start), and never less than a minute."""
    return max(MIN_ALIVE, timedelta(seconds=3 * poll), timedelta(seconds=2 * lease))


@dataclass
class Heartbeat:
    """One worker process's row, and when it was last written and old rows last pruned."""

    delivers: bool
    started_at: datetime
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    token: str = field(default_factory=lambda: secrets.token_hex(4))
    beaten_at: datetime | None = None
    pruned_at: datetime | None = None

    @property
    def id(self) -> str:
        return f"{self.host[:_MAX_HOST]}:{self.pid}:{self.token}"

    def due(self, now: datetime) -> bool:
        """Whether the row is to be written now: not within BEAT_EVERY of the last time (a clock set back: at once)."""
        return self.beaten_at is None or not timedelta(0) <= now - self.beaten_at < BEAT_EVERY

    def beat(self, connection: Connection, now: datetime) -> None:
        """Write the row (one upsert) and commit; about once an hour, first delete the rows of workers unseen for
        FORGET_AFTER."""
        if self.pruned_at is None or not timedelta(0) <= now - self.pruned_at < PRUNE_EVERY:
            connection.execute(delete(_HEARTBEATS).where(_HEARTBEATS.c.seen_at < now - FORGET_AFTER))
            self.pruned_at = now
        upsert = insert_for(connection.dialect.name)(_HEARTBEATS).values(
            id=self.id, host=self.host, pid=self.pid, delivers=self.delivers, started_at=self.started_at, seen_at=now
        )
        connection.execute(upsert.on_conflict_do_update(index_elements=[_HEARTBEATS.c.id], set_={"seen_at": now}))
        connection.commit()
        self.beaten_at = now


def alive_workers(session: Session, now: datetime, within: timedelta) -> list[WorkerHeartbeat]:
    """The workers seen within `within` of `now`, the most recently seen first."""
    seen = select(WorkerHeartbeat).where(WorkerHeartbeat.seen_at >= now - within)
    return list(session.scalars(seen.order_by(WorkerHeartbeat.seen_at.desc())))


def last_seen(session: Session) -> datetime | None:
    """When any worker was last seen (over the past FORGET_AFTER: older rows are pruned)."""
    return session.scalar(select(WorkerHeartbeat.seen_at).order_by(WorkerHeartbeat.seen_at.desc()).limit(1))
