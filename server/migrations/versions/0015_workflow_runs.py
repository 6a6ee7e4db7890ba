"""Workflows as documents, their runs and per-step counts; outbox rows name the run and step that wrote them.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 23:30:00.000000
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade() -> None:
    with op.batch_alter_table('sites') as batch:
        batch.add_column(sa.Column('workflows_stamp', sa.Integer(), nullable=False, server_default='0'))
    op.create_table(
        'workflow_definitions',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('site_id', sa.Integer(), sa.ForeignKey('sites.id', ondelete='CASCADE'), nullable=False),
        sa.Column('name', sa.String(100), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('document', JSONType, nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.UniqueConstraint('site_id', 'name'),
    )
    op.create_table(
        'runs',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('site_id', sa.Integer(), sa.ForeignKey('sites.id', ondelete='CASCADE'), nullable=False),
        sa.Column(
            'workflow_id', sa.Integer(), sa.ForeignKey('workflow_definitions.id', ondelete='CASCADE'), nullable=False
        ),
        sa.Column('owner', sa.String(40), nullable=False),
        sa.Column('key', sa.String(255), nullable=False),
        sa.Column('contact_id', sa.Integer(), sa.ForeignKey('contacts.id', ondelete='CASCADE'), nullable=True),
        sa.Column('visitor_id', sa.Integer(), sa.ForeignKey('visitors.id', ondelete='SET NULL'), nullable=True),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('holdout', sa.Boolean(), nullable=False),
        sa.Column('step', sa.String(255), nullable=True),
        sa.Column('cursor', sa.String(255), nullable=True),
        sa.Column('waiting_for', sa.String(255), nullable=True),
        sa.Column('due_at', sa.DateTime(), nullable=True),
        sa.Column('lease_until', sa.DateTime(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('cycle', sa.Integer(), nullable=False),
        sa.Column('data', JSONType, nullable=True),
        sa.Column('properties', JSONType, nullable=False),
        sa.Column('history', JSONType, nullable=False),
        sa.Column('exit_reason', sa.String(40), nullable=True),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('ended_at', sa.DateTime(), nullable=True),
        sa.Column('converted_at', sa.DateTime(), nullable=True),
        sa.Column('revenue', sa.Float(), nullable=True),
    )
    op.create_index('ix_runs_due', 'runs', ['due_at'])
    op.create_index('ix_runs_owner', 'runs', ['site_id', 'owner'])
    op.create_index('ix_runs_contact_started', 'runs', ['contact_id', 'started_at'])
    op.create_index('ix_runs_workflow_started', 'runs', ['workflow_id', 'started_at'])
    op.create_index('ix_runs_workflow_state_step', 'runs', ['workflow_id', 'state', 'step', 'holdout'])
    op.create_index(
        'uq_runs_open',
        'runs',
        ['workflow_id', 'owner', 'key'],
        unique=True,
        sqlite_where=sa.text("state = 'waiting'"),
        postgresql_where=sa.text("state = 'waiting'"),
    )
    op.create_table(
        'step_counts',
        sa.Column(
            'workflow_id', sa.Integer(), sa.ForeignKey('workflow_definitions.id', ondelete='CASCADE'),
            primary_key=True,
        ),
        sa.Column('path', sa.String(255), primary_key=True),
        sa.Column('holdout', sa.Boolean(), primary_key=True),
        sa.Column('entered', sa.Integer(), nullable=False),
        sa.Column('emailed', sa.Integer(), nullable=False),
        sa.Column('withheld', sa.Integer(), nullable=False),
        sa.Column('converted', sa.Integer(), nullable=False),
        sa.Column('revenue', sa.Float(), nullable=False),
    )
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('run_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('step', sa.String(255), nullable=True))
        batch.add_column(sa.Column('transactional', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_foreign_key('fk_outbox_run_id_runs', 'runs', ['run_id'], ['id'], ondelete='SET NULL')
    op.create_index('ix_outbox_run', 'outbox', ['run_id'])


def downgrade() -> None:
    op.drop_index('ix_outbox_run', 'outbox')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_constraint('fk_outbox_run_id_runs', type_='foreignkey')
        batch.drop_column('transactional')
        batch.drop_column('step')
        batch.drop_column('run_id')
    op.drop_table('step_counts')
    op.drop_table('runs')
    op.drop_table('workflow_definitions')
    with op.batch_alter_table('sites') as batch:
        batch.drop_column('workflows_stamp')
