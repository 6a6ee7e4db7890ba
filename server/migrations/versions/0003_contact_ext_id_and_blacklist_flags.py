"""Contacts: an external id, blacklist flags, and an index for listing by modification time.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 21:32:19.801098
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ext_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('email_blacklisted', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('sms_blacklisted', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.alter_column('email',
               existing_type=sa.VARCHAR(length=255),
               nullable=True)
        batch_op.create_index('ix_contacts_site_modified', ['site_id', 'modified_at'], unique=False)
        batch_op.create_unique_constraint('uq_contacts_site_ext_id', ['site_id', 'ext_id'])


def downgrade() -> None:
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_constraint('uq_contacts_site_ext_id', type_='unique')
        batch_op.drop_index('ix_contacts_site_modified')
        batch_op.alter_column('email',
               existing_type=sa.VARCHAR(length=255),
               nullable=False)
        batch_op.drop_column('sms_blacklisted')
        batch_op.drop_column('email_blacklisted')
        batch_op.drop_column('ext_id')

