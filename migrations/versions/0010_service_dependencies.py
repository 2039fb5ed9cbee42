"""service dependencies: which service depends on which (a directed graph without cycles)

One row per edge, `service_id` depends on `depends_on_id`; the pair is unique and a service
never depends on itself (cycles longer than one edge are refused by the use case). The unique
constraint's index serves lookups by `service_id`; `depends_on_id` has its own for dependents.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('service_dependency',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('depends_on_id', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=320), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('service_id <> depends_on_id', name=op.f('ck_service_dependency_not_self')),
    sa.ForeignKeyConstraint(['depends_on_id'], ['service.id'], name=op.f('fk_service_dependency_depends_on_id_service')),
    sa.ForeignKeyConstraint(['service_id'], ['service.id'], name=op.f('fk_service_dependency_service_id_service')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_dependency')),
    sa.UniqueConstraint('service_id', 'depends_on_id', name=op.f('uq_service_dependency_service_id'))
    )
    with op.batch_alter_table('service_dependency', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_dependency_depends_on_id'), ['depends_on_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('service_dependency', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_dependency_depends_on_id'))
    op.drop_table('service_dependency')
