"""A link nonce per contact, and contact ids never handed out again on SQLite.

Signed links (unsubscribe, confirm) carry the contact's nonce, so that a link of a deleted contact cannot act
on a new contact given the same id. Contacts from before have no nonce and keep accepting the links already
sent to them. On SQLite the contacts table is rebuilt with AUTOINCREMENT (ids of deleted rows are not reused);
server/migrations/env.py keeps foreign keys off meanwhile, so the rebuild's DROP cascades into nothing.
PostgreSQL's sequences never reuse an id.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 16:40:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        with op.batch_alter_table('contacts', recreate='always', table_kwargs={'sqlite_autoincrement': True}) as batch:
            batch.add_column(sa.Column('link_nonce', sa.String(length=32), nullable=True))
    else:
        op.add_column('contacts', sa.Column('link_nonce', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('contacts') as batch:
        batch.drop_column('link_nonce')
