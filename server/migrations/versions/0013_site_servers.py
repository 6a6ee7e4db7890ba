"""The addresses and ranges of a site's own servers, whose tracker REST calls are trusted like the secret key;
and the currency the shop shows its amounts in (Brevo's e-commerce `displayCurrency`; NULL for the default).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 19:50:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sites') as batch:
        batch.add_column(sa.Column('servers', sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), 'postgresql'),
                                   nullable=False, server_default='[]'))
        batch.add_column(sa.Column('display_currency', sa.String(length=3), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sites') as batch:
        batch.drop_column('display_currency')
        batch.drop_column('servers')
