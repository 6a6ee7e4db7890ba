"""Consent and DNT per site, confirmed-only mode and a per-contact email period per workflow,
confirmed contacts, event IP addresses, unsubscribe links, and daily counters of refused traffic.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 23:40:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sites') as batch:
        batch.add_column(sa.Column('require_consent', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('respect_dnt', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('workflows') as batch:
        batch.add_column(sa.Column('confirmed_only', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('contact_period_seconds', sa.Float(), nullable=False, server_default='86400'))
    with op.batch_alter_table('contacts') as batch:
        batch.add_column(sa.Column('confirmed_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('events') as batch:
        batch.add_column(sa.Column('ip', sa.String(length=45), nullable=True))
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('unsubscribe_url', sa.Text(), nullable=True))
    op.create_index('ix_outbox_contact_created', 'outbox', ['contact_id', 'created_at'], unique=False)
    op.create_table('site_counters',
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('site_id', 'day', 'name')
    )


def downgrade() -> None:
    op.drop_table('site_counters')
    op.drop_index('ix_outbox_contact_created', table_name='outbox')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('unsubscribe_url')
    with op.batch_alter_table('events') as batch:
        batch.drop_column('ip')
    with op.batch_alter_table('contacts') as batch:
        batch.drop_column('confirmed_at')
    with op.batch_alter_table('workflows') as batch:
        batch.drop_column('contact_period_seconds')
        batch.drop_column('confirmed_only')
    with op.batch_alter_table('sites') as batch:
        batch.drop_column('respect_dnt')
        batch.drop_column('require_consent')
