"""The schema. Changed only through Alembic migrations in migrations/versions."""

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, ForeignKey, Index, MetaData, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.db.types import UtcDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime(), dict[str, Any]: JSON(), list[str]: JSON()}


class Symposium(Base):
    __tablename__ = "symposia"

    id: Mapped[int] = mapped_column(primary_key=True)
    community: Mapped[str] = mapped_column(String(64), index=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    prompt: Mapped[str] = mapped_column(Text)
    alt_prompts: Mapped[list[str]]
    call_text: Mapped[str | None] = mapped_column(Text)
    intent_deadline: Mapped[datetime]
    due_at: Mapped[datetime]
    publish_from: Mapped[datetime]
    publish_to: Mapped[datetime]
    publish_time: Mapped[str] = mapped_column(String(5))
    timezone: Mapped[str] = mapped_column(String(64))
    announce_channel: Mapped[str] = mapped_column(String(64))
    review_channel: Mapped[str] = mapped_column(String(64))
    allow_late_intents: Mapped[bool]
    status: Mapped[str] = mapped_column(String(16))
    opened_by: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    remind_intent: Mapped[list[int]] = mapped_column(JSON, default=lambda: [7, 1])
    """Days before the intent deadline the announcement channel is reminded."""
    remind_due: Mapped[list[int]] = mapped_column(JSON, default=lambda: [7, 2, 1])
    """Days before their due date each writer without a submission is reminded."""
    remind_at: Mapped[str] = mapped_column(String(5), default="08:00")
    """The morning hour of publication-day reminders and the editors' digest."""
    public_version: Mapped[int] = mapped_column(default=0)
    """Bumped with every change the public sees (the Essay Index's refresh), so readers know when to re-read."""


class Editor(Base):
    __tablename__ = "editors"
    __table_args__ = (UniqueConstraint("community", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime]


class ParticipantPref(Base):
    __tablename__ = "participant_prefs"
    __table_args__ = (UniqueConstraint("community", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16), default="all")
    """Which private reminders the person wants: all, due-only (their due date's) or off."""


class Intent(Base):
    __tablename__ = "intents"
    __table_args__ = (
        UniqueConstraint("symposium_id", "user_id"),
        Index("ix_intents_due_override", "symposium_id", "due_override"),  # the deadlines reminders are planned for
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    symposium_id: Mapped[int] = mapped_column(ForeignKey("symposia.id"))
    user_id: Mapped[str] = mapped_column(String(64))
    user_name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200))
    prompt_no: Mapped[int]
    route: Mapped[str] = mapped_column(String(16))
    pen_name: Mapped[str | None] = mapped_column(String(100))
    bio: Mapped[str | None] = mapped_column(String(500))
    affiliation: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    due_override: Mapped[datetime | None]
    feed_url: Mapped[str | None] = mapped_column(String(2000))
    """A cross-poster's site or feed, where the bot looks for the essay on its day (bot/services/live.py)."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Essay(Base):
    """An intent's numbered piece of work, from its first submission on; its arranged and actual publication."""

    __tablename__ = "essays"
    __table_args__ = (UniqueConstraint("symposium_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    symposium_id: Mapped[int] = mapped_column(ForeignKey("symposia.id"))
    intent_id: Mapped[int] = mapped_column(ForeignKey("intents.id"), unique=True)
    number: Mapped[int]
    status: Mapped[str] = mapped_column(String(24))
    approved_at: Mapped[datetime | None]
    scheduled_for: Mapped[datetime | None]
    live_url: Mapped[str | None] = mapped_column(String(2000))
    commentary: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None]
    public_name: Mapped[str | None] = mapped_column(String(200))
    """The name it was announced under, fixed from then on (a renamed account does not rename an essay);
    only `/symposium rename` changes it."""
    date_confirmed_at: Mapped[datetime | None]
    """When the author confirmed `scheduled_for` (cleared whenever the date changes)."""
    proposed_for: Mapped[datetime | None]
    """Another day the author proposed, waiting for an editor to accept it."""


class LiveCheck(Base):
    """The bot looking for an essay to go live on its day (bot/services/live.py): the feed it polls and what that
    feed said last (for conditional requests), when it may look again, who is looking now (a claim), and what it
    found."""

    __tablename__ = "live_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    essay_id: Mapped[int] = mapped_column(ForeignKey("essays.id"), unique=True)
    feed_url: Mapped[str | None] = mapped_column(String(2000))
    feed_from: Mapped[str | None] = mapped_column(String(2000))
    """The address the feed was found from; when the author gives another, the feed is looked for again."""
    etag: Mapped[str | None] = mapped_column(String(500))
    modified: Mapped[str | None] = mapped_column(String(100))
    next_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    claim: Mapped[str | None] = mapped_column(String(32))
    fetches: Mapped[int] = mapped_column(default=0)
    problem: Mapped[str | None] = mapped_column(Text)
    """Why the last look did not find the essay live, for the author and the editors."""
    verified_url: Mapped[str | None] = mapped_column(String(2000))
    """The live link seen live: a page that answered 200 with HTML, or the link of the feed's entry."""
    missed_for: Mapped[datetime | None]
    """The publication date whose miss was reported (once per date)."""


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("essay_id", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    essay_id: Mapped[int] = mapped_column(ForeignKey("essays.id"), index=True)
    revision: Mapped[int]
    url: Mapped[str] = mapped_column(String(2000))
    note: Mapped[str | None] = mapped_column(Text)
    late: Mapped[bool]
    submitted_at: Mapped[datetime]
    superseded: Mapped[bool]
    decided_by_name: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    author_is_editor: Mapped[bool] = mapped_column(default=False)
    """The author is an editor: another editor decides, and the card says so."""
    decision_note: Mapped[str | None] = mapped_column(Text)
    """A caution shown on the card with the decision (the deciding editor shares the author's affiliation)."""


class CardReaction(Base):
    """An editor's deciding reaction on a review card; the latest one still present decides."""

    __tablename__ = "card_reactions"
    __table_args__ = (UniqueConstraint("submission_id", "user_id", "decision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    user_id: Mapped[str] = mapped_column(String(64))
    user_name: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime]


class Commentary(Base):
    """Running commentary added to an essay after its announcement."""

    __tablename__ = "commentary"

    id: Mapped[int] = mapped_column(primary_key=True)
    essay_id: Mapped[int] = mapped_column(ForeignKey("essays.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class PostedMessage(Base):
    """A message the bot posted, by the key the core knows it by (`card:12`, `index:3:0`)."""

    __tablename__ = "posted_messages"
    __table_args__ = (Index("ix_posted_messages_channel_ref", "channel", "ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    channel: Mapped[str] = mapped_column(String(64))
    ref: Mapped[str] = mapped_column(String(120))
    pinned: Mapped[bool]
    posted_at: Mapped[datetime]


class OutboxRow(Base):
    """One message to deliver, written by bot/outbox.py. Reminders are rows with a future `due_at`, a `deadline`
    and a `group`. A row is claimed for delivery with a lease (`claimed_until`) and a token (`claim`)."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "due_at"),
        Index("ix_outbox_symposium_op", "symposium_id", "op", "status"),
        Index("ix_outbox_scope", "scope", "status"),
        Index("ix_outbox_destination", "destination", "status", "id"),
        # The delivery queue: pending rows of each kind in the order they fall due (bot/delivery.py `_claim`).
        Index(
            "ix_outbox_queue",
            "bulk",
            "due_at",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community: Mapped[str | None] = mapped_column(String(64))
    symposium_id: Mapped[int | None] = mapped_column(ForeignKey("symposia.id"))
    op: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(64))
    key: Mapped[str | None] = mapped_column(String(120))
    destination: Mapped[str] = mapped_column(String(160))
    payload: Mapped[dict[str, Any]]
    due_at: Mapped[datetime]
    deadline: Mapped[datetime | None]
    group: Mapped[str | None] = mapped_column(String(160), index=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    scope: Mapped[str | None] = mapped_column(String(160))
    bulk: Mapped[bool] = mapped_column(default=False)
    """Part of a fan-out (a message to every participant, reminders): delivered after the rest, never by every
    delivery worker at once, so a fan-out cannot hold up a review card or a reply."""
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int]
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_until: Mapped[datetime | None]
    claim: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class InboxEntry(Base):
    """What arrived from a platform (a command, a form, a reaction, a button), recorded before it is
    acknowledged and marked handled in the same transaction as its effects; `key` is the platform's id of the
    request, so a redelivery or a replay is recognised."""

    __tablename__ = "inbox"
    __table_args__ = (Index("ix_inbox_status", "status", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    community: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    body: Mapped[dict[str, Any]]
    reply: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """How to answer privately (Slack's response_url, Discord's interaction token), valid until `reply_until`."""
    reply_until: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime]
    retry_at: Mapped[datetime | None]
    """When an arrival that had to wait (bot/errors.py `NotYet`) is handled again."""
    handled_at: Mapped[datetime | None]


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    community: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(120))
    detail: Mapped[dict[str, Any]]


class Heartbeat(Base):
    """A chat process's platform connection as it last said (bot/health.py), read by /healthz."""

    __tablename__ = "heartbeats"

    process: Mapped[str] = mapped_column(String(120), primary_key=True)
    """host:pid"""
    platform: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    """connected, disconnected or delivering (a deliver-only worker, which holds no connection)"""
    detail: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime]
    seen_at: Mapped[datetime]


class PausedCommunity(Base):
    """A community whose deliveries wait (bot/services/communities.py): the app was uninstalled from it, or its
    tokens revoked. Its outbox rows stay pending, neither sent nor given up on, until it is resumed."""

    __tablename__ = "paused_communities"

    community: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(200))
    paused_at: Mapped[datetime]


class SlackInstallation(Base):
    """A Slack workspace's install of the app (OAuth distribution), kept by adapters/slack/oauth.py; the core
    never reads it. One row per workspace, the latest install; every token is Fernet-encrypted
    (TOKEN_ENCRYPTION_KEY), the rest is what Slack shows anyone in the workspace."""

    __tablename__ = "slack_installations"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace: Mapped[str] = mapped_column(String(64), unique=True)
    """The team id (the enterprise id for an org-wide install): the community."""
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    team_id: Mapped[str | None] = mapped_column(String(32))
    team_name: Mapped[str | None] = mapped_column(String(200))
    app_id: Mapped[str | None] = mapped_column(String(32))
    is_enterprise_install: Mapped[bool] = mapped_column(default=False)
    bot_id: Mapped[str | None] = mapped_column(String(32))
    bot_user_id: Mapped[str | None] = mapped_column(String(32))
    bot_scopes: Mapped[str | None] = mapped_column(Text)
    bot_token: Mapped[str | None] = mapped_column(Text)
    bot_refresh_token: Mapped[str | None] = mapped_column(Text)
    bot_token_expires_at: Mapped[datetime | None]
    user_id: Mapped[str | None] = mapped_column(String(32))
    user_scopes: Mapped[str | None] = mapped_column(Text)
    user_token: Mapped[str | None] = mapped_column(Text)
    user_refresh_token: Mapped[str | None] = mapped_column(Text)
    user_token_expires_at: Mapped[datetime | None]
    installed_at: Mapped[datetime]


class OAuthState(Base):
    """The `state` of an install under way (Slack's OAuth flow): used once, before `expires_at`."""

    __tablename__ = "oauth_states"

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]


class DmChannel(Base):
    """The platform's direct-message channel with a person (Slack's conversations.open, Discord's
    POST /users/@me/channels), kept so that a restart or the next fan-out opens nothing again. Written by the
    chat adapters (adapters/dm_channels.py), never by the core."""

    __tablename__ = "dm_channels"

    community: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(64))
