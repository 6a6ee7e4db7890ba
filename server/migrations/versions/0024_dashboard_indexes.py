"""Indexes for the dashboard at millions of rows: the outbox by site, status and time (the counts and lists of a
site's held and failed emails read those few, not the whole outbox), and contacts by site, last change and id (a
page deep in the list is an offset through the index alone).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01 15:00:00.000000
"""
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_outbox_site_status_created', 'outbox', ['site_id', 'status', 'created_at'], unique=False)
    with op.batch_alter_table('contacts') as batch:
        batch.drop_index('ix_contacts_site_modified')
        batch.create_index('ix_contacts_site_modified_id', ['site_id', 'modified_at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('contacts') as batch:
        batch.drop_index('ix_contacts_site_modified_id')
        batch.create_index('ix_contacts_site_modified', ['site_id', 'modified_at'], unique=False)
    op.drop_index('ix_outbox_site_status_created', table_name='outbox')
