"""audit packs are built as background jobs, with the units they cover recorded

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('audit_pack', schema=None) as batch_op:
        # Packs made before jobs existed were built at once: they are ready.
        batch_op.add_column(sa.Column('state', sa.String(length=16), nullable=False,
                                      server_default='ready'))
        batch_op.add_column(sa.Column('progress', sa.Float(), nullable=False,
                                      server_default='1'))
        batch_op.add_column(sa.Column('error', sa.Text(), nullable=True))
        # NULL (packs made before): nobody but readers of everything everywhere may read it.
        batch_op.add_column(sa.Column('covers', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('requested_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('claim_token', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column('sha256', existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column('size', existing_type=sa.BigInteger(), nullable=True)
        batch_op.alter_column('storage_key', existing_type=sa.String(length=300), nullable=True)
        batch_op.alter_column('storage_version', existing_type=sa.String(length=200),
                              nullable=True)
        batch_op.create_index(batch_op.f('ix_audit_pack_state'), ['state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('audit_pack', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_pack_state'))
        batch_op.alter_column('storage_version', existing_type=sa.String(length=200),
                              nullable=False)
        batch_op.alter_column('storage_key', existing_type=sa.String(length=300), nullable=False)
        batch_op.alter_column('size', existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column('sha256', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column('finished_at')
        batch_op.drop_column('claimed_at')
        batch_op.drop_column('claim_token')
        batch_op.drop_column('requested_by_id')
        batch_op.drop_column('covers')
        batch_op.drop_column('error')
        batch_op.drop_column('progress')
        batch_op.drop_column('state')
