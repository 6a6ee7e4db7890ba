"""An automation worker in the test's process whose emails reach the test's SMTP sink and link back to the test
receiver (its SIBYL_PUBLIC_URL), on the receiver's database, with the test's clock."""

from __future__ import annotations

from server import create_app
from server.automation.worker import Worker
from server.models import Site

from .clock import Clock
from .servers import Process
from .smtp_sink import SmtpSink
from .store import Store


def worker_linking_back(store: Store, site: Site, smtp_sink: SmtpSink, clock: Clock, receiver: Process) -> Worker:
    """The worker, with only `site`'s carts left for it to email."""
    store.leave_only_carts_of(site)
    app = create_app(
        {
            "DATABASE_URL": store.app.config["DATABASE_URL"],
            "SMTP_URL": smtp_sink.url,
            "WORKER": "external",
            "PUBLIC_URL": receiver.url,
        }
    )
    return Worker(app, clock)
