"""What the sending setup needs to tell the truth: a heartbeat row per automation worker (so the dashboard and
`doctor` know one is alive and whether it can send), and each dashboard user's time zone for the times shown.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 08:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'worker_heartbeats',
        sa.Column('id', sa.String(64), primary_key=True),
        sa.Column('host', sa.String(255), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('delivers', sa.Boolean(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('seen_at', sa.DateTime(), nullable=False),
    )
    op.create_index('ix_worker_heartbeats_seen', 'worker_heartbeats', ['seen_at'])
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('time_zone', sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_column('time_zone')
    op.drop_index('ix_worker_heartbeats_seen', table_name='worker_heartbeats')
    op.drop_table('worker_heartbeats')
