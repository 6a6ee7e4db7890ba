"""Each site's abandoned-cart workflow becomes a workflow of the engine: the abandoned-cart preset with the site's
delay, on/off and re-entry; every open cart keeps waiting, as a run at the preset's wait with the cart's deadline.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 00:00:00.000000
"""
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')
settings = sa.table(
    'workflows',
    sa.column('site_id', sa.Integer), sa.column('enabled', sa.Boolean), sa.column('delay_seconds', sa.Float),
    sa.column('reentry', sa.Boolean), sa.column('definition_id', sa.Integer),
)
definitions = sa.table(
    'workflow_definitions',
    sa.column('id', sa.Integer), sa.column('site_id', sa.Integer), sa.column('name', sa.String),
    sa.column('enabled', sa.Boolean), sa.column('document', JSONType), sa.column('version', sa.Integer),
    sa.column('created_at', sa.DateTime), sa.column('updated_at', sa.DateTime),
)
carts = sa.table(
    'carts',
    sa.column('site_id', sa.Integer), sa.column('owner', sa.String), sa.column('cart_key', sa.String),
    sa.column('contact_id', sa.Integer), sa.column('visitor_id', sa.Integer), sa.column('state', sa.String),
    sa.column('cycle', sa.Integer), sa.column('snapshot', JSONType), sa.column('received_at', sa.DateTime),
    sa.column('deadline_at', sa.DateTime),
)
runs = sa.table(
    'runs',
    sa.column('site_id', sa.Integer), sa.column('workflow_id', sa.Integer), sa.column('owner', sa.String),
    sa.column('key', sa.String), sa.column('contact_id', sa.Integer), sa.column('visitor_id', sa.Integer),
    sa.column('state', sa.String), sa.column('holdout', sa.Boolean), sa.column('step', sa.String),
    sa.column('cursor', sa.String), sa.column('due_at', sa.DateTime), sa.column('version', sa.Integer),
    sa.column('cycle', sa.Integer), sa.column('data', JSONType), sa.column('properties', JSONType),
    sa.column('history', JSONType), sa.column('started_at', sa.DateTime), sa.column('updated_at', sa.DateTime),
)
step_counts = sa.table(
    'step_counts',
    sa.column('workflow_id', sa.Integer), sa.column('path', sa.String), sa.column('holdout', sa.Boolean),
    sa.column('entered', sa.Integer), sa.column('emailed', sa.Integer), sa.column('withheld', sa.Integer),
    sa.column('converted', sa.Integer), sa.column('revenue', sa.Float),
)


def duration_text(seconds: float) -> str:
    """A delay as a workflow document writes it (`2h`, `90m`, `3d`), at least a second."""
    whole = max(1, round(seconds))
    if whole % 86400 == 0 and whole >= 3 * 86400:
        return f"{whole // 86400}d"
    for unit, size in (("h", 3600), ("m", 60)):
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def cart_document(enabled: bool, delay_seconds: float, reentry: bool) -> dict[str, object]:
    return {
        "name": "Abandoned cart",
        "enabled": enabled,
        "trigger": {"event": "cart_updated", "per": "cart"},
        "restart": True,
        "exit_on": ["order_completed", "cart_deleted"],
        "reentry": reentry,
        "goal": {"event": "order_completed", "within": "7d"},
        "steps": [{"wait": duration_text(delay_seconds)}, {"email": {}}],
    }


def upgrade() -> None:
    with op.batch_alter_table('workflows') as batch:
        batch.add_column(sa.Column('definition_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(
            'fk_workflows_definition_id', 'workflow_definitions', ['definition_id'], ['id'], ondelete='SET NULL'
        )
    with op.batch_alter_table('carts') as batch:
        batch.drop_index('ix_carts_due')
    bind = op.get_bind()
    now = datetime.now(UTC).replace(tzinfo=None)
    for site in bind.execute(sa.select(settings)).all():
        taken = bind.execute(
            sa.select(definitions.c.id).where(
                definitions.c.site_id == site.site_id, definitions.c.name == "Abandoned cart"
            )
        ).scalar()
        name = "Abandoned cart" if taken is None else f"Abandoned cart ({site.site_id})"
        document = {**cart_document(site.enabled, site.delay_seconds, site.reentry), "name": name}
        definition_id = bind.execute(
            definitions.insert()
            .values(
                site_id=site.site_id, name=name, enabled=site.enabled, document=document, version=1,
                created_at=now, updated_at=now,
            )
            .returning(definitions.c.id)
        ).scalar_one()
        bind.execute(
            settings.update().where(settings.c.site_id == site.site_id).values(definition_id=definition_id)
        )
        waiting = [
            {
                "site_id": site.site_id, "workflow_id": definition_id, "owner": cart.owner, "key": cart.cart_key,
                "contact_id": cart.contact_id, "visitor_id": cart.visitor_id, "state": "waiting", "holdout": False,
                "step": "steps[0]", "cursor": "steps[1]",
                "due_at": cart.deadline_at or cart.received_at + timedelta(seconds=site.delay_seconds),
                "version": 1, "cycle": cart.cycle, "data": cart.snapshot, "properties": {}, "history": ["steps[0]"],
                "started_at": cart.received_at, "updated_at": cart.received_at,
            }
            for cart in bind.execute(
                sa.select(carts).where(carts.c.site_id == site.site_id, carts.c.state == "open")
            )
        ]
        if waiting:
            bind.execute(runs.insert(), waiting)
            bind.execute(
                step_counts.insert(),
                [
                    {
                        "workflow_id": definition_id, "path": path, "holdout": False, "entered": len(waiting),
                        "emailed": 0, "withheld": 0, "converted": 0, "revenue": 0.0,
                    }
                    for path in ("", "steps[0]")
                ],
            )


def downgrade() -> None:
    bind = op.get_bind()
    moved = sa.select(settings.c.definition_id).where(settings.c.definition_id.is_not(None))
    bind.execute(runs.delete().where(runs.c.workflow_id.in_(moved)))
    bind.execute(step_counts.delete().where(step_counts.c.workflow_id.in_(moved)))
    ids = [row.definition_id for row in bind.execute(moved)]
    with op.batch_alter_table('workflows') as batch:
        batch.drop_constraint('fk_workflows_definition_id', type_='foreignkey')
        batch.drop_column('definition_id')
    if ids:
        bind.execute(definitions.delete().where(definitions.c.id.in_(ids)))
    with op.batch_alter_table('carts') as batch:
        batch.create_index('ix_carts_due', ['due_at'])
