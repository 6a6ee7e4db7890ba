"""The email a contact unsubscribed from: the newest one sent to it before it unsubscribed; and an index of the
emails a workflow's per-step figures single out (not sent, opened, clicked, unsubscribed from).

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


NOTABLE = (
    "status != 'sent' OR opened_at IS NOT NULL OR clicked_at IS NOT NULL OR unsubscribed_at IS NOT NULL"
)


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('unsubscribed_at', sa.DateTime(), nullable=True))
    op.create_index(
        'ix_outbox_notable_run', 'outbox', ['run_id'],
        sqlite_where=sa.text(NOTABLE), postgresql_where=sa.text(NOTABLE),
    )


def downgrade() -> None:
    op.drop_index('ix_outbox_notable_run', table_name='outbox')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('unsubscribed_at')
