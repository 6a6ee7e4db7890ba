"""Bounces and complaints: each report kept once, what came back for each email, and why a contact's email is
blacklisted.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01 15:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contacts') as batch:
        batch.add_column(sa.Column('email_blacklist_reason', sa.String(16), nullable=True))
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('feedback', sa.String(16), nullable=True))
        batch.add_column(sa.Column('feedback_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('soft_bounces', sa.Integer(), nullable=False, server_default='0'))
    op.create_index('ix_outbox_message_id', 'outbox', ['message_id'])
    op.create_index(
        'ix_outbox_feedback_run',
        'outbox',
        ['feedback', 'run_id'],
        sqlite_where=sa.text('feedback IS NOT NULL'),
        postgresql_where=sa.text('feedback IS NOT NULL'),
    )
    op.create_table(
        'feedback_reports',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('report_key', sa.String(100), nullable=False),
        sa.Column('site_id', sa.Integer(), sa.ForeignKey('sites.id', ondelete='CASCADE'), nullable=False),
        sa.Column('outbox_id', sa.Integer(), sa.ForeignKey('outbox.id', ondelete='SET NULL'), nullable=True),
        sa.Column('contact_id', sa.Integer(), sa.ForeignKey('contacts.id', ondelete='CASCADE'), nullable=True),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('source', sa.String(16), nullable=False),
        sa.Column('status', sa.String(16), nullable=True),
        sa.Column('detail', sa.Text(), nullable=True),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.UniqueConstraint('site_id', 'report_key', name='uq_feedback_reports_site_key'),
    )
    op.create_index('ix_feedback_reports_contact_kind', 'feedback_reports', ['contact_id', 'kind', 'received_at'])


def downgrade() -> None:
    op.drop_index('ix_feedback_reports_contact_kind', table_name='feedback_reports')
    op.drop_table('feedback_reports')
    op.drop_index('ix_outbox_feedback_run', table_name='outbox')
    op.drop_index('ix_outbox_message_id', table_name='outbox')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('soft_bounces')
        batch.drop_column('feedback_at')
        batch.drop_column('feedback')
    with op.batch_alter_table('contacts') as batch:
        batch.drop_column('email_blacklist_reason')
