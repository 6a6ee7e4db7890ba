"""The store: sites, visitors, contacts, events, carts and emails, the shop's catalogue and orders."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    or_,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.schema import Table
from sqlalchemy.types import TypeDecorator

from .sqlfunctions import day_of

JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as naive UTC and read back as aware UTC, on every database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


class Base(DeclarativeBase):
    # Every model is mapped to a table of its own, so its __table__ is a Table (not any FromClause), as Core's
    # insert(), update() and delete() want it.
    __table__: ClassVar[Table]


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    client_key: Mapped[str] = mapped_column(String(64), unique=True)
    api_key: Mapped[str] = mapped_column(String(128), unique=True)
    origins: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_traffic_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    require_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    respect_dnt: Mapped[bool] = mapped_column(Boolean, default=False)
    email_hosts: Mapped[list[str]] = mapped_column(JSONType, default=list)  # beside its origins' hosts
    servers: Mapped[list[str]] = mapped_column(JSONType, default=list)  # the shop's servers: addresses and ranges
    display_currency: Mapped[str | None] = mapped_column(String(3))  # ISO 4217; None: the default, EUR
    # Bumped whenever one of the site's workflow definitions changes: ingest keeps the parsed definitions per stamp.
    workflows_stamp: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The shop's brand, which the default email templates show (None: not set).
    sender_name: Mapped[str | None] = mapped_column(String(100))
    sender_email: Mapped[str | None] = mapped_column(String(255))
    logo_url: Mapped[str | None] = mapped_column(Text)
    accent_color: Mapped[str | None] = mapped_column(String(7))  # #rrggbb
    intro_text: Mapped[str | None] = mapped_column(Text)
    postal_address: Mapped[str | None] = mapped_column(Text)
    locale: Mapped[str | None] = mapped_column(String(20))  # money and dates in emails and on the dashboard
    # The optional tracker modules `/sa.js?key=` serves with the core: names joined by commas, sorted ('' none).
    tracker_modules: Mapped[str] = mapped_column(String(100), default="", server_default="")
    # Emails carry a 1x1 image counting opens (off by default: it tells the shop who reads, and is unreliable).
    open_pixel: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Attribute(Base):
    """A contact attribute a site knows, created by the shop: its name, type and, for a category, its values."""

    __tablename__ = "attributes"
    __table_args__ = (UniqueConstraint("site_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16), default="text", server_default="text")
    enumeration: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)


def new_link_nonce() -> str:
    return secrets.token_urlsafe(16)


class Contact(Base):
    """A person a site knows. Its id is never handed out again once deleted (AUTOINCREMENT on SQLite, a sequence on
    PostgreSQL), and its signed links carry `link_nonce` too: a link names this contact and no later one.
    Contacts from before link nonces have none and keep accepting the links already sent to them."""

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("site_id", "email"),
        UniqueConstraint("site_id", "ext_id", name="uq_contacts_site_ext_id"),
        Index("ix_contacts_site_modified_id", "site_id", "modified_at", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    email: Mapped[str | None] = mapped_column(String(255))
    ext_id: Mapped[str | None] = mapped_column(String(255))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    email_blacklisted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why its email is blacklisted (unsubscribed, hard_bounce, soft_bounces, complaint); None for a contact
    # blacklisted before reasons were kept, or not blacklisted.
    email_blacklist_reason: Mapped[str | None] = mapped_column(String(16))
    sms_blacklisted: Mapped[bool] = mapped_column(Boolean, default=False)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    link_nonce: Mapped[str | None] = mapped_column(String(32), default=new_link_nonce)
    time_zone: Mapped[str | None] = mapped_column(String(64))  # IANA name, as its browser last said on identify


class Visitor(Base):
    """A browser, known by its `sib_cuid` cookie; linked to a contact once identified."""

    __tablename__ = "visitors"
    __table_args__ = (UniqueConstraint("site_id", "cuid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    cuid: Mapped[str] = mapped_column(String(64))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Event(Base):
    """One page view, custom event, identification or link click, stored once per message id (see `EventId`).

    On PostgreSQL the table is partitioned by the month of `occurred_at` (see `server/ingest/partitions.py`), so its
    primary key there is (id, occurred_at); ids still come from one sequence and never repeat."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_site_occurred", "site_id", "occurred_at"),
        Index("ix_events_contact_occurred", "contact_id", "occurred_at"),
        Index("ix_events_visitor", "visitor_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(Text)
    visitor_id: Mapped[int | None] = mapped_column(ForeignKey("visitors.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    eventdata: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    ip: Mapped[str | None] = mapped_column(String(45))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EventId(Base):
    """A message id the site's events were stored under: the key that keeps each event once, in one table whatever
    month the event fell in (a partitioned table's unique keys can only hold within a month)."""

    __tablename__ = "event_ids"
    __table_args__ = (Index("ix_event_ids_received", "received_at"),)

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Workflow(Base):
    """A site's cart and email settings: its abandoned-cart workflow's on/off, delay and re-entry, the cap on a
    cart's timer resets, the recovery email's subject, confirmed contacts only, the email period and quiet hours."""

    __tablename__ = "workflows"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    delay_seconds: Mapped[float] = mapped_column(Float)
    reentry: Mapped[bool] = mapped_column(Boolean, default=True)
    max_resets: Mapped[int] = mapped_column(Integer, default=100)
    subject: Mapped[str] = mapped_column(String(255), default="You left something in your cart")
    confirmed_only: Mapped[bool] = mapped_column(Boolean, default=False)
    contact_period_seconds: Mapped[float] = mapped_column(Float, default=86400.0)  # across all of its workflows
    # Quiet hours, minutes after midnight in the contact's time zone (the site's when unknown); none: no quiet hours.
    quiet_start: Mapped[int | None] = mapped_column(Integer)
    quiet_end: Mapped[int | None] = mapped_column(Integer)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # The site's abandoned-cart workflow, which these settings write (the engine runs it like any other).
    definition_id: Mapped[int | None] = mapped_column(ForeignKey("workflow_definitions.id", ondelete="SET NULL"))


class Cart(Base):
    """One cart of one owner (a contact, or a visitor until identified) and its one timer.

    `deadline_at` is the last `cart_updated` plus the delay; `due_at` is the same time once the
    cart may be emailed (open, owner identified, workflow on) and NULL otherwise, as the dashboard
    shows it. The timer that fires is its run's in the site's abandoned-cart workflow.
    """

    __tablename__ = "carts"
    __table_args__ = (
        UniqueConstraint("site_id", "owner", "cart_key"),
        Index("ix_carts_contact", "contact_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    owner: Mapped[str] = mapped_column(String(40))
    cart_key: Mapped[str] = mapped_column(String(255))
    visitor_id: Mapped[int | None] = mapped_column(ForeignKey("visitors.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))
    snapshot: Mapped[Any] = mapped_column(JSONType)
    version: Mapped[int] = mapped_column(Integer, default=1)
    cycle: Mapped[int] = mapped_column(Integer, default=1)
    resets: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the last update's event time (the client's)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the server received it: deadlines count from here
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # its client's own time, to spot a late older one
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_reason: Mapped[str | None] = mapped_column(String(40))
    order_total: Mapped[float | None] = mapped_column(Float)  # the revenue of the order that closed it, if it said


class WorkflowDefinition(Base):
    """One of a site's workflows: its JSON document (the definition language), on or off, and its version."""

    __tablename__ = "workflow_definitions"
    __table_args__ = (UniqueConstraint("site_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Run(Base):
    """One owner (a contact, or a visitor until identified) going through one workflow, under one key.

    `step` is the path of its current or last step (`steps[2].then[0]`), `cursor` the step it executes next when
    due, `waiting_for` the event a `wait_for` step awaits. `due_at` is set only while the worker has something to
    do for it, so the worker reads due rows only, through their index.
    """

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_workflow_due", "workflow_id", "due_at"),
        Index("ix_runs_owner", "site_id", "owner"),
        Index("ix_runs_contact_started", "contact_id", "started_at"),
        Index("ix_runs_workflow_started", "workflow_id", "started_at"),
        Index("ix_runs_workflow_state_step", "workflow_id", "state", "step", "holdout"),
        Index("ix_runs_site_converted", "site_id", "converted_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflow_definitions.id", ondelete="CASCADE"))
    owner: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(255))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    visitor_id: Mapped[int | None] = mapped_column(ForeignKey("visitors.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(16))
    holdout: Mapped[bool] = mapped_column(Boolean, default=False)
    step: Mapped[str | None] = mapped_column(String(255))
    cursor: Mapped[str | None] = mapped_column(String(255))
    waiting_for: Mapped[str | None] = mapped_column(String(255))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    cycle: Mapped[int] = mapped_column(Integer, default=1)
    data: Mapped[Any] = mapped_column(JSONType)  # the triggering event's eventdata.data
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # and its properties
    history: Mapped[list[str]] = mapped_column(JSONType, default=list)  # the steps it entered (each once)
    exit_reason: Mapped[str | None] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    converted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revenue: Mapped[float | None] = mapped_column(Float)


class StepCount(Base):
    """How many runs of a workflow's group (sent or held out) entered a step, were emailed or withheld there, and
    converted after passing it, with the revenue; kept by the worker and ingest as they go: stats never scan runs."""

    __tablename__ = "step_counts"

    workflow_id: Mapped[int] = mapped_column(
        ForeignKey("workflow_definitions.id", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(String(255), primary_key=True)
    holdout: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    entered: Mapped[int] = mapped_column(Integer, default=0)
    emailed: Mapped[int] = mapped_column(Integer, default=0)
    withheld: Mapped[int] = mapped_column(Integer, default=0)  # email steps that sent nothing (held out included)
    converted: Mapped[int] = mapped_column(Integer, default=0)
    revenue: Mapped[float] = mapped_column(Float, default=0.0)


class OutboxEmail(Base):
    """Every automation email, sent or not; one per cart cycle, or per run, step and cycle (`dedupe_key`)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_next_attempt", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    cart_id: Mapped[int | None] = mapped_column(ForeignKey("carts.id", ondelete="SET NULL"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    step: Mapped[str | None] = mapped_column(String(255))  # the run's step that wrote it
    transactional: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    dedupe_key: Mapped[str] = mapped_column(String(100), unique=True)
    message_id: Mapped[str] = mapped_column(String(255))
    sender: Mapped[str] = mapped_column(String(255))
    recipient: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    unsubscribe_url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The first open (the pixel) and the first click of a person (not a scanner's), for the counts per step.
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    template: Mapped[str | None] = mapped_column(String(100))  # the template it was written from, if any
    template_version: Mapped[int | None] = mapped_column(Integer)  # 0: the shipped default of that name
    # What came back after it was sent (mail.outbox.Feedback: soft_bounce, hard_bounce, complaint; the strongest
    # so far), when, and how many soft bounces were reported for it.
    feedback: Mapped[str | None] = mapped_column(String(16))
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    soft_bounces: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When its contact unsubscribed, on the newest email sent to the contact before then: the one it came from.
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FeedbackReport(Base):
    """A bounce or complaint report about one of a site's emails or addresses, kept once per site and report
    (`report_key`: the report's own id, or a digest of it): a report read or posted twice is applied once."""

    __tablename__ = "feedback_reports"
    __table_args__ = (
        UniqueConstraint("site_id", "report_key", name="uq_feedback_reports_site_key"),
        Index("ix_feedback_reports_contact_kind", "contact_id", "kind", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_key: Mapped[str] = mapped_column(String(100))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # mail.outbox.Feedback
    source: Mapped[str] = mapped_column(String(16))  # where it came from: dsn, arf, postmark, mailgun, sendgrid, ses
    status: Mapped[str | None] = mapped_column(String(16))  # the enhanced status code, e.g. 5.1.1
    detail: Mapped[str | None] = mapped_column(Text)  # the diagnostic or the relay's description
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EmailTemplate(Base):
    """One of a shop's email templates, by name; `version` is its latest, the one new emails are written from."""

    __tablename__ = "email_templates"
    __table_args__ = (UniqueConstraint("site_id", "name", name="uq_email_templates_site_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TemplateVersion(Base):
    """A template as saved once: every version is kept, so an email written from one never changes."""

    __tablename__ = "template_versions"
    __table_args__ = (UniqueConstraint("template_id", "version", name="uq_template_versions_template_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("email_templates.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(Text)
    preheader: Mapped[str] = mapped_column(Text, default="", server_default="")
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text, default="", server_default="")  # empty: made from the HTML
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SiteCounter(Base):
    """Traffic refused rather than stored, counted per site and day: `bot`, `origin`."""

    __tablename__ = "site_counters"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class User(Base):
    """A dashboard user: an email and a password hash (werkzeug.security's scrypt)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    all_sites: Mapped[bool] = mapped_column(Boolean, default=True)  # else only the sites of its UserSite rows
    time_zone: Mapped[str | None] = mapped_column(String(64))  # IANA name the dashboard shows times in; None: UTC


class WorkerHeartbeat(Base):
    """An automation worker, seen at the start of each pass: whether one is alive and whether it can send mail."""

    __tablename__ = "worker_heartbeats"
    __table_args__ = (Index("ix_worker_heartbeats_seen", "seen_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # host:pid:random, one per worker process
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    delivers: Mapped[bool] = mapped_column(Boolean)  # it has a mail server (SIBYL_SMTP_URL) to send through
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UserSite(Base):
    """A site a dashboard user without `all_sites` may see and change."""

    __tablename__ = "user_sites"
    __table_args__ = (Index("ix_user_sites_site", "site_id"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)


class Category(Base):
    """A category of a site's catalogue, by the shop's own id; `document` keeps every field as the shop sent it."""

    __tablename__ = "categories"
    __table_args__ = (Index("ix_categories_site_created", "site_id", "created_at"),)

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(Text)
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    document: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Product(Base):
    """A product of a site's catalogue, by the shop's own id; `document` keeps every field as the shop sent it."""

    __tablename__ = "products"
    __table_args__ = (Index("ix_products_site_created", "site_id", "created_at"),)

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    price: Mapped[float | None] = mapped_column(Float)
    url: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(Text)
    sku: Mapped[str | None] = mapped_column(String(255))
    categories: Mapped[list[str]] = mapped_column(JSONType, default=list)
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    document: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Order(Base):
    """A shop's order by its own id, with its latest status and amount and the contact it names, when known.

    `ordered_at` and `status_at` are the shop's `createdAt` and `updatedAt`; `created_at` and `modified_at` when
    Sibyl first and last received it. `document` keeps every field as the shop sent it.
    """

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_site_created", "site_id", "created_at"),
        Index("ix_orders_contact", "contact_id"),
    )

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    status: Mapped[str] = mapped_column(String(255))
    amount: Mapped[float] = mapped_column(Float)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    email: Mapped[str | None] = mapped_column(String(255))
    ext_id: Mapped[str | None] = mapped_column(String(255))
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_at: Mapped[datetime] = mapped_column(UTCDateTime)
    document: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# The reads of the dashboard and the API: newest events, events of a kind by time (GET /v3/events), the month's
# events by day, kind and name (covering: the overview's one pass), carts newest first, a cart's emails.
Index("ix_events_site_id", Event.site_id, Event.id)
Index("ix_events_site_kind_occurred_name", Event.site_id, Event.kind, Event.occurred_at, Event.name)
Index(
    "ix_events_site_day_kind_name", Event.site_id, day_of(Event.occurred_at), Event.kind, Event.name, Event.occurred_at
)
Index("ix_carts_site_updated", Cart.site_id, Cart.updated_at)
Index("ix_outbox_cart", OutboxEmail.cart_id)
Index("ix_outbox_run_created", OutboxEmail.run_id, OutboxEmail.created_at)
# One open run per workflow, owner and key: a second one cannot be written, whatever two ingests do at once.
Index(
    "uq_runs_open",
    Run.workflow_id,
    Run.owner,
    Run.key,
    unique=True,
    sqlite_where=Run.state == "waiting",
    postgresql_where=Run.state == "waiting",
)
Index("ix_outbox_site_created", OutboxEmail.site_id, OutboxEmail.created_at)
# The dashboard's counts and lists of a site's emails of one status (held, failed): the few, not the whole outbox.
Index("ix_outbox_site_status_created", OutboxEmail.site_id, OutboxEmail.status, OutboxEmail.created_at)
Index("ix_outbox_contact_created", OutboxEmail.contact_id, OutboxEmail.created_at)
Index("ix_outbox_message_id", OutboxEmail.message_id)  # a bounce or a relay's report names the email by it
# The emails a workflow's figures single out, few among all (most are sent and no more): those not sent (held,
# failed, pending, cancelled) and those opened, clicked or unsubscribed from. The per-step figures read these only.
NOTABLE_EMAIL = or_(
    OutboxEmail.status != "sent",
    OutboxEmail.opened_at.is_not(None),
    OutboxEmail.clicked_at.is_not(None),
    OutboxEmail.unsubscribed_at.is_not(None),
)
Index("ix_outbox_notable_run", OutboxEmail.run_id, sqlite_where=NOTABLE_EMAIL, postgresql_where=NOTABLE_EMAIL)
# The emails something came back for, few among all: a workflow's bounced and complained figures read these only.
Index(
    "ix_outbox_feedback_run",
    OutboxEmail.feedback,
    OutboxEmail.run_id,
    sqlite_where=OutboxEmail.feedback.is_not(None),
    postgresql_where=OutboxEmail.feedback.is_not(None),
)
