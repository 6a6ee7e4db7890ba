"""The revenue of the order that closed a cart, for the dashboard's recovered revenue.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 20:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('carts') as batch:
        batch.add_column(sa.Column('order_total', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('carts') as batch:
        batch.drop_column('order_total')
