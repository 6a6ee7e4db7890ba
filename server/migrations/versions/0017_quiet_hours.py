"""Quiet hours: a contact's time zone (the browser's, sent with identify), and a site's quiet hours and zone; the
site's converted runs by time, for the overview's conversions; due runs by workflow, so a worker reads those of
enabled workflows only.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 03:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contacts') as batch:
        batch.add_column(sa.Column('time_zone', sa.String(64), nullable=True))
    with op.batch_alter_table('workflows') as batch:
        batch.add_column(sa.Column('quiet_start', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('quiet_end', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('time_zone', sa.String(64), nullable=False, server_default='UTC'))
    op.create_index('ix_runs_site_converted', 'runs', ['site_id', 'converted_at'])
    op.create_index('ix_runs_workflow_due', 'runs', ['workflow_id', 'due_at'])
    op.drop_index('ix_runs_due', table_name='runs')


def downgrade() -> None:
    op.create_index('ix_runs_due', 'runs', ['due_at'])
    op.drop_index('ix_runs_workflow_due', table_name='runs')
    op.drop_index('ix_runs_site_converted', table_name='runs')
    with op.batch_alter_table('workflows') as batch:
        batch.drop_column('time_zone')
        batch.drop_column('quiet_end')
        batch.drop_column('quiet_start')
    with op.batch_alter_table('contacts') as batch:
        batch.drop_column('time_zone')
