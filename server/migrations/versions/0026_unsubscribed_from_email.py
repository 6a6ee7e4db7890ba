"""The email a contact unsubscribed from: the newest one sent to it before it unsubscribed.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-01 16:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('unsubscribed_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('unsubscribed_at')
