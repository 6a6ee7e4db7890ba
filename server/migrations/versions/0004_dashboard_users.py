"""Dashboard users, and indexes for the dashboard's reads of events, carts and emails.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 10:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_login_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('email')
    )
    op.create_index('ix_events_site_id', 'events', ['site_id', 'id'], unique=False)
    op.create_index('ix_events_site_kind_occurred_name', 'events', ['site_id', 'kind', 'occurred_at', 'name'], unique=False)
    op.create_index('ix_carts_site_updated', 'carts', ['site_id', 'updated_at'], unique=False)
    op.create_index('ix_outbox_cart', 'outbox', ['cart_id'], unique=False)
    op.create_index('ix_outbox_site_created', 'outbox', ['site_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_outbox_site_created', table_name='outbox')
    op.drop_index('ix_outbox_cart', table_name='outbox')
    op.drop_index('ix_carts_site_updated', table_name='carts')
    op.drop_index('ix_events_site_kind_occurred_name', table_name='events')
    op.drop_index('ix_events_site_id', table_name='events')
    op.drop_table('users')
