"""Events kept once by a table of message ids; on PostgreSQL, the events table partitioned by month.

A partitioned table's unique keys must include its partition key, so `(site_id, message_id)` can no longer be
kept unique by the events table: `event_ids` keeps it, filled from the events stored so far. On PostgreSQL the
table is rebuilt as one partitioned by the month of `occurred_at`: a partition for each month its events fall in
(the last three years; older ones and any month not made yet go to a default partition) and the next three
months; the rows are copied over, then the old table is dropped. On SQLite the table is rebuilt without the key.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 15:00:00.000000
"""
import warnings

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

# The index the overview reads by day: an expression index, which SQLite's table rebuild does not carry over.
DAY_INDEX = (
    "CREATE INDEX ix_events_site_day_kind_name ON events (site_id, date(occurred_at), kind, name, occurred_at)"
)
UNIQUE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    op.create_table(
        'event_ids',
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.String(length=64), nullable=False),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('site_id', 'message_id'),
    )
    op.execute("INSERT INTO event_ids (site_id, message_id, received_at) SELECT site_id, message_id, received_at FROM events")
    op.create_index('ix_event_ids_received', 'event_ids', ['received_at'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        _partition_events()
    else:
        with warnings.catch_warnings():  # the rebuild skips the expression index, made again below
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
            with op.batch_alter_table('events', naming_convention=UNIQUE_NAMES) as batch:
                batch.drop_constraint('uq_events_site_id', type_='unique')
        op.execute("DROP INDEX IF EXISTS ix_events_site_day_kind_name")
        op.execute(DAY_INDEX)


def _partition_events() -> None:
    bind = op.get_bind()
    indexes = _take_indexes()
    op.execute("ALTER TABLE events RENAME TO events_unpartitioned")
    op.execute(
        "CREATE TABLE events (LIKE events_unpartitioned INCLUDING DEFAULTS) PARTITION BY RANGE (occurred_at)"
    )
    op.execute("CREATE TABLE events_default PARTITION OF events DEFAULT")
    months = bind.exec_driver_sql(
        "SELECT DISTINCT date_trunc('month', occurred_at) FROM events_unpartitioned "
        "WHERE occurred_at >= date_trunc('month', now() AT TIME ZONE 'UTC') - interval '36 months' "
        "UNION SELECT date_trunc('month', now() AT TIME ZONE 'UTC') + n * interval '1 month' "
        "FROM generate_series(0, 3) AS n ORDER BY 1"
    ).scalars()
    for start in months:
        end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
        op.execute(
            f"CREATE TABLE events_{start:%Y_%m} PARTITION OF events "
            f"FOR VALUES FROM ('{start:%Y-%m-%d}') TO ('{end:%Y-%m-%d}')"
        )
    op.execute("INSERT INTO events SELECT * FROM events_unpartitioned")
    op.execute("ALTER SEQUENCE events_id_seq OWNED BY events.id")
    op.execute("DROP TABLE events_unpartitioned")
    op.execute("ALTER TABLE events ADD PRIMARY KEY (id, occurred_at)")
    _restore(indexes)


def _take_indexes() -> list[str]:
    """The definitions of the events table's plain indexes, which are dropped (their names are needed again)."""
    indexes = op.get_bind().exec_driver_sql(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = 'events'::regclass AND NOT i.indisprimary AND NOT i.indisunique"
    ).all()
    for name, _ in indexes:
        op.execute(f'DROP INDEX "{name}"')
    return [definition for _, definition in indexes]


def _restore(indexes: list[str]) -> None:
    """The new events table's foreign keys and indexes, as the old one had them."""
    op.execute("ALTER TABLE events ADD FOREIGN KEY (site_id) REFERENCES sites (id) ON DELETE CASCADE")
    op.execute("ALTER TABLE events ADD FOREIGN KEY (contact_id) REFERENCES contacts (id) ON DELETE CASCADE")
    op.execute("ALTER TABLE events ADD FOREIGN KEY (visitor_id) REFERENCES visitors (id) ON DELETE SET NULL")
    for definition in indexes:
        op.execute(definition)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        _unpartition_events()
    else:
        with op.batch_alter_table('events') as batch:
            batch.create_unique_constraint('uq_events_site_id', ['site_id', 'message_id'])
        op.execute("DROP INDEX IF EXISTS ix_events_site_day_kind_name")
        op.execute(DAY_INDEX)
    op.drop_index('ix_event_ids_received', table_name='event_ids')
    op.drop_table('event_ids')


def _unpartition_events() -> None:
    indexes = _take_indexes()
    op.execute("ALTER TABLE events RENAME TO events_partitioned")
    op.execute("CREATE TABLE events (LIKE events_partitioned INCLUDING DEFAULTS)")
    op.execute("INSERT INTO events SELECT * FROM events_partitioned")
    op.execute("ALTER SEQUENCE events_id_seq OWNED BY events.id")
    op.execute("DROP TABLE events_partitioned")
    op.execute("ALTER TABLE events ADD PRIMARY KEY (id)")
    op.execute("ALTER TABLE events ADD UNIQUE (site_id, message_id)")
    _restore(indexes)
