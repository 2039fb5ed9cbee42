"""audit_pack.state and .progress lose the server defaults that backfilled them

0006 gave the columns server defaults ('ready', 1) so that packs made before jobs existed read
as built; left in place, they would make any row inserted without them a finished pack with no
bytes. The model never had them (new packs start queued, at 0, from Python): the schema now
agrees with it, and `alembic check` / the migration test find no drift.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('audit_pack', schema=None) as batch_op:
        batch_op.alter_column('state', existing_type=sa.String(length=16),
                              server_default=None, existing_nullable=False)
        batch_op.alter_column('progress', existing_type=sa.Float(),
                              server_default=None, existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('audit_pack', schema=None) as batch_op:
        batch_op.alter_column('progress', existing_type=sa.Float(),
                              server_default='1', existing_nullable=False)
        batch_op.alter_column('state', existing_type=sa.String(length=16),
                              server_default='ready', existing_nullable=False)
