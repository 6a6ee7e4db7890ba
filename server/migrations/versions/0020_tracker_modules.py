"""The optional tracker modules a site chose (outbound links, downloads, forms, tagged elements): `/sa.js?key=`
serves the build with them.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 09:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sites') as batch:
        batch.add_column(sa.Column('tracker_modules', sa.String(100), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('sites') as batch:
        batch.drop_column('tracker_modules')
