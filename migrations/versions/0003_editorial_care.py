"""an editor's own essay and shared affiliations on review cards; reminder settings per symposium and per writer

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author_is_editor", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("decision_note", sa.Text(), nullable=True))
    with op.batch_alter_table("symposia", schema=None) as batch_op:
        batch_op.add_column(sa.Column("remind_intent", sa.JSON(), nullable=False, server_default="[7, 1]"))
        batch_op.add_column(sa.Column("remind_due", sa.JSON(), nullable=False, server_default="[7, 2, 1]"))
        batch_op.add_column(sa.Column("remind_at", sa.String(length=5), nullable=False, server_default="08:00"))
    with op.batch_alter_table("participant_prefs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mode", sa.String(length=16), nullable=False, server_default="all"))
    prefs = sa.table("participant_prefs", sa.column("mode", sa.String), sa.column("reminders_on", sa.Boolean))
    op.execute(prefs.update().where(prefs.c.reminders_on.is_(False)).values(mode="off"))
    with op.batch_alter_table("participant_prefs", schema=None) as batch_op:
        batch_op.drop_column("reminders_on")


def downgrade() -> None:
    with op.batch_alter_table("participant_prefs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminders_on", sa.Boolean(), nullable=False, server_default=sa.true()))
    prefs = sa.table("participant_prefs", sa.column("mode", sa.String), sa.column("reminders_on", sa.Boolean))
    op.execute(prefs.update().where(prefs.c.mode == "off").values(reminders_on=False))
    with op.batch_alter_table("participant_prefs", schema=None) as batch_op:
        batch_op.drop_column("mode")
    with op.batch_alter_table("symposia", schema=None) as batch_op:
        batch_op.drop_column("remind_at")
        batch_op.drop_column("remind_due")
        batch_op.drop_column("remind_intent")
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_column("decision_note")
        batch_op.drop_column("author_is_editor")
