"""A shop's email templates and their versions, the version each email was written from, and the shop's brand
(sender, logo, accent colour, intro, postal address, locale) that the default templates use.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 04:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

BRAND = (
    ('sender_name', sa.String(100)),
    ('sender_email', sa.String(255)),
    ('logo_url', sa.Text()),
    ('accent_color', sa.String(7)),
    ('intro_text', sa.Text()),
    ('postal_address', sa.Text()),
    ('locale', sa.String(20)),
)


def upgrade() -> None:
    op.create_table(
        'email_templates',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('site_id', sa.Integer(), sa.ForeignKey('sites.id', ondelete='CASCADE'), nullable=False),
        sa.Column('name', sa.String(100), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.UniqueConstraint('site_id', 'name', name='uq_email_templates_site_name'),
    )
    op.create_table(
        'template_versions',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column(
            'template_id', sa.Integer(), sa.ForeignKey('email_templates.id', ondelete='CASCADE'), nullable=False
        ),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('subject', sa.Text(), nullable=False),
        sa.Column('preheader', sa.Text(), nullable=False, server_default=''),
        sa.Column('html', sa.Text(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False, server_default=''),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.UniqueConstraint('template_id', 'version', name='uq_template_versions_template_version'),
    )
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('template', sa.String(100), nullable=True))
        batch.add_column(sa.Column('template_version', sa.Integer(), nullable=True))
    op.create_index('ix_outbox_run_created', 'outbox', ['run_id', 'created_at'])
    op.drop_index('ix_outbox_run', table_name='outbox')
    with op.batch_alter_table('sites') as batch:
        for name, kind in BRAND:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sites') as batch:
        for name, _ in reversed(BRAND):
            batch.drop_column(name)
    op.create_index('ix_outbox_run', 'outbox', ['run_id'])
    op.drop_index('ix_outbox_run_created', table_name='outbox')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('template_version')
        batch.drop_column('template')
    op.drop_table('template_versions')
    op.drop_table('email_templates')
