"""reminder plans: an index for the deadlines writers were given (bot/services/reminders.py plans one reminder
row per deadline and offset, written out to its writers when it falls due)

Per-writer reminders planned before this revision stay as they are and go out as before: a plan written out
later skips a writer whose reminder for that deadline and offset exists (the same dedupe key).

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_intents_due_override", "intents", ["symposium_id", "due_override"])


def downgrade() -> None:
    op.drop_index("ix_intents_due_override", table_name="intents")
