"""The shop's catalogue (categories, products) and orders, by the shop's own ids, per site (Brevo's v3 e-commerce).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 19:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), 'postgresql')


def upgrade() -> None:
    op.create_table('categories',
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('is_deleted', sa.Boolean(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.Column('document', JSON, nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('modified_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('site_id', 'id')
    )
    op.create_index('ix_categories_site_created', 'categories', ['site_id', 'created_at'], unique=False)
    op.create_table('products',
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('price', sa.Float(), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('image_url', sa.Text(), nullable=True),
    sa.Column('sku', sa.String(length=255), nullable=True),
    sa.Column('categories', JSON, nullable=False),
    sa.Column('is_deleted', sa.Boolean(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.Column('document', JSON, nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('modified_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('site_id', 'id')
    )
    op.create_index('ix_products_site_created', 'products', ['site_id', 'created_at'], unique=False)
    op.create_table('orders',
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=255), nullable=False),
    sa.Column('amount', sa.Float(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('ext_id', sa.String(length=255), nullable=True),
    sa.Column('ordered_at', sa.DateTime(), nullable=False),
    sa.Column('status_at', sa.DateTime(), nullable=False),
    sa.Column('document', JSON, nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('modified_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('site_id', 'id')
    )
    op.create_index('ix_orders_site_created', 'orders', ['site_id', 'created_at'], unique=False)
    op.create_index('ix_orders_contact', 'orders', ['contact_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_orders_contact', table_name='orders')
    op.drop_index('ix_orders_site_created', table_name='orders')
    op.drop_table('orders')
    op.drop_index('ix_products_site_created', table_name='products')
    op.drop_table('products')
    op.drop_index('ix_categories_site_created', table_name='categories')
    op.drop_table('categories')
