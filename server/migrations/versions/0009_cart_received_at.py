"""When each cart's last update was received (its deadline counts from there, never from a client's clock),
and the time its client gave it (to tell an older update arriving late from the same client's clock).

Existing carts take the time their last update claimed, which is what their deadlines counted from so far.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 17:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('carts') as batch:
        batch.add_column(sa.Column('received_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('sent_at', sa.DateTime(), nullable=True))
    op.execute('UPDATE carts SET received_at = updated_at, sent_at = updated_at')
    with op.batch_alter_table('carts') as batch:
        batch.alter_column('received_at', existing_type=sa.DateTime(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('carts') as batch:
        batch.drop_column('sent_at')
        batch.drop_column('received_at')
