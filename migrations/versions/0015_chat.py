"""Chat in: every chat message that entered the record (source, channel, chat message id,
author handle, person; edits and deletions as messages pointing at the one they correct), and
the timeline entries each one made

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 01:09:33.256350
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=200), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("author_handle", sa.String(length=200), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("command", sa.String(length=32), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("corrects_id", sa.Integer(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alert.id"], name=op.f("fk_chat_message_alert_id_alert")
        ),
        sa.ForeignKeyConstraint(
            ["corrects_id"],
            ["chat_message.id"],
            name=op.f("fk_chat_message_corrects_id_chat_message"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_chat_message_incident_id_incident")
        ),
        sa.ForeignKeyConstraint(
            ["principal_id"], ["principal.id"], name=op.f("fk_chat_message_principal_id_principal")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_message")),
        sa.UniqueConstraint("source", "channel", "message_id", name="uq_chat_message_message"),
        sa.UniqueConstraint("source", "event_id", name="uq_chat_message_event"),
    )
    with op.batch_alter_table("chat_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chat_message_corrects_id"), ["corrects_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_chat_message_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_chat_message_principal_id"), ["principal_id"], unique=False
        )

    op.create_table(
        "chat_timeline_entry",
        sa.Column("timeline_entry_id", sa.Integer(), nullable=False),
        sa.Column("chat_message_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_message_id"],
            ["chat_message.id"],
            name=op.f("fk_chat_timeline_entry_chat_message_id_chat_message"),
        ),
        sa.ForeignKeyConstraint(
            ["timeline_entry_id"],
            ["timeline_entry.id"],
            name=op.f("fk_chat_timeline_entry_timeline_entry_id_timeline_entry"),
        ),
        sa.PrimaryKeyConstraint("timeline_entry_id", name=op.f("pk_chat_timeline_entry")),
    )
    with op.batch_alter_table("chat_timeline_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chat_timeline_entry_chat_message_id"), ["chat_message_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("chat_timeline_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_timeline_entry_chat_message_id"))

    op.drop_table("chat_timeline_entry")
    with op.batch_alter_table("chat_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_message_principal_id"))
        batch_op.drop_index(batch_op.f("ix_chat_message_incident_id"))
        batch_op.drop_index(batch_op.f("ix_chat_message_corrects_id"))

    op.drop_table("chat_message")
