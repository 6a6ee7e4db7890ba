"""Contact attributes get a type (text, float, date, boolean, or category with its enumeration).

Every attribute so far held text.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 16:40:00.000000
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('attributes') as batch:
        batch.add_column(sa.Column('type', sa.String(length=16), nullable=False, server_default='text'))
        batch.add_column(sa.Column(
            'enumeration', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True
        ))


def downgrade() -> None:
    with op.batch_alter_table('attributes') as batch:
        batch.drop_column('enumeration')
        batch.drop_column('type')
