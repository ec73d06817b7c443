"""publication day: the author confirms or proposes a date, a cross-poster's feed, and the bot looking for essays live

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db.types import UtcDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("essays", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("date_confirmed_at", UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("proposed_for", UtcDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("intents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("feed_url", sa.String(length=2000), nullable=True))
    essays = sa.table(
        "essays",
        sa.column("id", sa.Integer),
        sa.column("intent_id", sa.Integer),
        sa.column("public_name", sa.String),
        sa.column("published_at", UtcDateTime(timezone=True)),
    )
    intents = sa.table(
        "intents", sa.column("id", sa.Integer), sa.column("pen_name", sa.String), sa.column("user_name", sa.String)
    )
    announced_as = (
        sa.select(sa.func.coalesce(intents.c.pen_name, intents.c.user_name))
        .where(intents.c.id == essays.c.intent_id)
        .scalar_subquery()
    )
    op.execute(essays.update().where(essays.c.published_at.is_not(None)).values(public_name=announced_as))
    op.create_table(
        "live_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("essay_id", sa.Integer(), nullable=False),
        sa.Column("feed_url", sa.String(length=2000), nullable=True),
        sa.Column("feed_from", sa.String(length=2000), nullable=True),
        sa.Column("etag", sa.String(length=500), nullable=True),
        sa.Column("modified", sa.String(length=100), nullable=True),
        sa.Column("next_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", UtcDateTime(timezone=True), nullable=True),
        sa.Column("claim", sa.String(length=32), nullable=True),
        sa.Column("fetches", sa.Integer(), nullable=False),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("verified_url", sa.String(length=2000), nullable=True),
        sa.Column("missed_for", UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["essay_id"], ["essays.id"], name=op.f("fk_live_checks_essay_id_essays")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_checks")),
        sa.UniqueConstraint("essay_id", name=op.f("uq_live_checks_essay_id")),
    )


def downgrade() -> None:
    op.drop_table("live_checks")
    with op.batch_alter_table("intents", schema=None) as batch_op:
        batch_op.drop_column("feed_url")
    with op.batch_alter_table("essays", schema=None) as batch_op:
        batch_op.drop_column("proposed_for")
        batch_op.drop_column("date_confirmed_at")
        batch_op.drop_column("public_name")
