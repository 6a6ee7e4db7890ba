"""A cart's `emailed_at` is set only when its recovery email was written.

The worker used to set it on every cart it took at the deadline, then close those whose email it withheld
(their closed_reason says why); those carts were never emailed, so their `emailed_at` is cleared.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 19:00:00.000000
"""
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE carts SET emailed_at = NULL "
        "WHERE closed_reason IN ('unsubscribed', 'no_email', 'unconfirmed', 'recently_emailed')"
    )


def downgrade() -> None:
    """Nothing to undo: the times cleared were of emails never written, and the code before this revision
    reads a withheld cart as not emailed whether or not it has one."""
