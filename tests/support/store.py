"""Direct access to the receiver's database, for arranging sites and reading results."""

from __future__ import annotations

import uuid
from datetime import datetime

from playwright.sync_api import Page
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server import create_app, db
from server.automation.carts import workflow_of
from server.automation.library import cart_settings_changed
from server.models import Cart, Contact, Event, Run, Site, Visitor, utcnow
from server.sites import create_site, snippet

from .waiting import wait_until


class Store:
    """Direct access to the receiver's database, for arranging sites and reading results."""

    def __init__(self, database_url: str) -> None:
        self.app = create_app({"DATABASE_URL": database_url, "WORKER": "external"})

    def create_site(self, origins: list[str] | None = None, email_hosts: tuple[str, ...] = ("shop.example",)) -> Site:
        """A new site; its emails may link to the guide's shop (shop.example) besides its origins."""
        with db.new_session(self.app) as session:
            site = create_site(session, f"site-{uuid.uuid4().hex[:8]}", origins or [], self.app.config["CART_DELAY"])
            site.email_hosts = list(email_hosts)
            session.commit()
            return site

    def snippet(self, site: Site, base_url: str) -> str:
        with self.app.app_context():
            return snippet(site, base_url)

    def events(self, site: Site, kind: str | None = None) -> list[Event]:
        with db.new_session(self.app) as session:
            query = select(Event).where(Event.site_id == site.id).order_by(Event.id)
            if kind is not None:
                query = query.where(Event.kind == kind)
            return list(session.scalars(query))

    def wait_for_events(
        self, site: Site, count: int, kind: str | None = None, timeout: float = 15, page: Page | None = None
    ) -> list[Event]:
        """Wait until at least `count` events (of `kind`) are stored; return all of them."""
        events: list[Event] = wait_until(
            lambda: found if len(found := self.events(site, kind)) >= count else None, timeout, page
        )
        return events

    def leave_only_carts_of(self, site: Site) -> None:
        """Close other tests' carts and end their workflow runs, so that a worker with a moved clock mails this
        test's carts and runs only."""
        with db.new_session(self.app) as session:
            session.execute(update(Cart).where(Cart.site_id != site.id).values(state="closed", due_at=None))
            session.execute(
                update(Run).where(Run.site_id != site.id, Run.state == "waiting").values(state="exited", due_at=None)
            )
            session.commit()

    def receive_carts_at(self, site: Site, moment: datetime, cart_key: str | None = None) -> None:
        """Arrange the site's carts (or one) as if the receiver, whose clock tests cannot move, had received their
        last update at `moment`: their deadlines and their runs' timers, which count from receipt, move with it."""
        with db.new_session(self.app) as session:
            receive_carts_at(session, site.id, moment, cart_key)
            session.commit()

    def received(self, site: Site) -> list[datetime]:
        """When the receiver got each of the site's events, in order: deadlines count from there."""
        return [event.received_at for event in self.events(site)]

    def set_cart_delay(self, site: Site, seconds: float) -> None:
        """The site's abandoned-cart delay, as `workflows set --delay` sets it (but any number of seconds)."""
        with db.new_session(self.app) as session:
            workflow = workflow_of(session, site.id)
            old_delay, workflow.delay_seconds = workflow.delay_seconds, seconds
            cart_settings_changed(session, session.get_one(Site, site.id), workflow, old_delay, utcnow())
            session.commit()

    def visitor(self, visitor_id: int | None) -> Visitor | None:
        with db.new_session(self.app) as session:
            return session.get(Visitor, visitor_id) if visitor_id is not None else None

    def contact(self, site: Site, email: str) -> Contact | None:
        with db.new_session(self.app) as session:
            return session.scalar(select(Contact).where(Contact.site_id == site.id, Contact.email == email))


def receive_carts_at(session: Session, site_id: int, moment: datetime, cart_key: str | None = None) -> None:
    """Move the site's carts (or one) and their runs back to as if received at `moment`."""
    query = select(Cart).where(Cart.site_id == site_id)
    for cart in session.scalars(query if cart_key is None else query.where(Cart.cart_key == cart_key)):
        shift = moment - cart.received_at
        cart.received_at = moment
        cart.deadline_at = cart.deadline_at + shift if cart.deadline_at else None
        cart.due_at = cart.due_at + shift if cart.due_at else None
        for run in session.scalars(select(Run).where(Run.site_id == site_id, Run.key == cart.cart_key)):
            run.started_at, run.updated_at = run.started_at + shift, run.updated_at + shift
            run.due_at = run.due_at + shift if run.due_at else None
