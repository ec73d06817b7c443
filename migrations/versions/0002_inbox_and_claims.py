"""the inbox of arrivals; outbox rows with a community, a destination, a claim token and a fan-out flag

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("community", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("reply", sa.JSON(), nullable=True),
        sa.Column("reply_until", bot.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_at", bot.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("retry_at", bot.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("handled_at", bot.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("key", name=op.f("uq_inbox_key")),
    )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index("ix_inbox_status", ["status", "received_at"], unique=False)

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("community", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("destination", sa.String(length=160), nullable=True))
        batch_op.add_column(sa.Column("bulk", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("claim", sa.String(length=32), nullable=True))
        batch_op.drop_index("ix_outbox_retrying")
    outbox = sa.table(
        "outbox",
        sa.column("op", sa.String),
        sa.column("channel", sa.String),
        sa.column("user_id", sa.String),
        sa.column("key", sa.String),
        sa.column("symposium_id", sa.Integer),
        sa.column("destination", sa.String),
        sa.column("community", sa.String),
    )
    symposia = sa.table("symposia", sa.column("id", sa.Integer), sa.column("community", sa.String))
    op.execute(
        outbox.update().values(
            destination=sa.case(
                (outbox.c.op == "index", "index:" + sa.cast(outbox.c.symposium_id, sa.String)),
                (outbox.c.op.in_(["edit", "thread"]), "key:" + outbox.c.key),
                (outbox.c.channel.is_not(None), "channel:" + outbox.c.channel),
                else_="user:" + sa.func.coalesce(outbox.c.user_id, ""),
            ),
            community=sa.select(symposia.c.community).where(symposia.c.id == outbox.c.symposium_id).scalar_subquery(),
        )
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("destination", existing_type=sa.String(length=160), nullable=False)
        batch_op.create_index("ix_outbox_destination", ["destination", "status", "id"], unique=False)
        batch_op.create_index(
            "ix_outbox_queue",
            ["bulk", "due_at", "id"],
            unique=False,
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )

    op.drop_table("handled_events")


def downgrade() -> None:
    op.create_table(
        "handled_events",
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("at", bot.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_handled_events")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_queue")
        batch_op.drop_index("ix_outbox_destination")
        batch_op.create_index("ix_outbox_retrying", ["status", "attempts"], unique=False)
        batch_op.drop_column("claim")
        batch_op.drop_column("bulk")
        batch_op.drop_column("destination")
        batch_op.drop_column("community")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_status")
    op.drop_table("inbox")
