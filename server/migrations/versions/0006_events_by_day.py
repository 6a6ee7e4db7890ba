"""An index of events by day, kind and name: the overview counts a month of events from it in one pass.

Its day is the expression the dashboard groups by (server/sqlfunctions.py's day_of), spelled per database;
occurred_at comes last so that reading the day needs no table row.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 00:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

DAY = {'sqlite': 'date(occurred_at)', 'postgresql': 'CAST(occurred_at AS DATE)'}


def upgrade() -> None:
    day = sa.text(DAY[op.get_bind().dialect.name])
    op.create_index('ix_events_site_day_kind_name', 'events', ['site_id', day, 'kind', 'name', 'occurred_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_events_site_day_kind_name', table_name='events')
