"""Hosts a site's emails may link to, and which sites each dashboard user may see.

Users that exist already keep seeing every site.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 17:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sites') as batch:
        batch.add_column(sa.Column('email_hosts', sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), 'postgresql'),
                                   nullable=False, server_default='[]'))
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('all_sites', sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table('user_sites',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'site_id')
    )
    op.create_index('ix_user_sites_site', 'user_sites', ['site_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_user_sites_site', table_name='user_sites')
    op.drop_table('user_sites')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('all_sites')
    with op.batch_alter_table('sites') as batch:
        batch.drop_column('email_hosts')
