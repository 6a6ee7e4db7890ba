"""Trigram indexes for the dashboard's contact search on PostgreSQL: the email and the attributes' JSON text, the
two expressions its ILIKE '%…%' tries first, so a search reads the contacts that may match rather than every
contact of the site. pg_trgm is a trusted extension (PostgreSQL 13 and later): the database's owner may create it.
Indexes of these names built beforehand (CREATE INDEX CONCURRENTLY, not to hold writes to the contacts while they
build) are kept. SQLite has no such index; its search stays a scan.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01 15:20:00.000000
"""
from alembic import op

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    op.execute('CREATE INDEX IF NOT EXISTS ix_contacts_email_trgm ON contacts USING gin (email gin_trgm_ops)')
    op.execute(
        'CREATE INDEX IF NOT EXISTS ix_contacts_attributes_trgm ON contacts USING gin (CAST(attributes AS TEXT) gin_trgm_ops)'
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.drop_index('ix_contacts_attributes_trgm', table_name='contacts')
    op.drop_index('ix_contacts_email_trgm', table_name='contacts')
