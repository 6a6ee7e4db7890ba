"""Email engagement: a site's choice of the open pixel (off by default), and each outbox email's first open and
first click by a person, which the workflow counts per step read.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 16:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sites') as batch:
        batch.add_column(sa.Column('open_pixel', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('opened_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('clicked_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('clicked_at')
        batch.drop_column('opened_at')
    with op.batch_alter_table('sites') as batch:
        batch.drop_column('open_pixel')
