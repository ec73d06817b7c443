"""Every user action as a small frozen value. Options are raw text; services validate them in context.

Fields made with `option(...)` are the command's options, in the order users see them; the grammar
(bot/grammar.py) and the Discord command tree are built from these definitions.
"""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Actor:
    """Who acts, with the facts the platform reports; bot/permissions.py decides what they may do."""

    community: str
    user_id: str
    name: str
    is_admin: bool = False
    holds_editor_role: bool = False


def system_actor(community: str) -> Actor:
    """The bot itself, for the audit rows of what its clock does (an essay going live by itself)."""
    return Actor(community=community, user_id="symposium-bot", name="Symposium Bot")


@dataclass(frozen=True, kw_only=True)
class Origin:
    """Where a command came from: the channel it was typed in."""

    channel: str


def option(help: str, kind: str = "text") -> Any:
    """An option field. `kind` is text, clearable (text that `none` removes), int, date, datetime, channel, user,
    link, choice:a|b, zone, time."""
    return field(default=None, metadata={"help": help, "kind": kind})


@dataclass(frozen=True, kw_only=True)
class Command:
    actor: Actor
    origin: Origin
    symposium: str | None = option("the symposium's slug (default: the latest open one)")


# Participants


@dataclass(frozen=True, kw_only=True)
class DeclareIntent(Command):
    title: str | None = option("your essay's working title")
    prompt: str | None = option("0 for the main prompt, or an alternative's number", "int")
    route: str | None = option("direct (the host publishes) or crosspost (you publish)", "choice:direct|crosspost")
    pen_name: str | None = option("the name to publish under, if not your own (none: your own)", "clearable")
    bio: str | None = option("a short public bio for the byline (up to 500 characters; none: no bio)", "clearable")
    affiliation: str | None = option(
        "your employer or vendor, for the editors only (none: no affiliation)", "clearable"
    )
    feed: str | None = option(
        "cross-posters: your site or its feed, so your essay is found when it goes live (none: no feed)", "clearable"
    )


@dataclass(frozen=True, kw_only=True)
class Submit(Command):
    url: str | None = option("the link to your essay", "link")
    note: str | None = option("a note for the editors (up to 1,000 characters)")
    live: str | None = option("the live link of your published essay (cross-posters)", "link")


@dataclass(frozen=True, kw_only=True)
class Withdraw(Command):
    reason: str | None = option("why, for the editors (optional)")


@dataclass(frozen=True, kw_only=True)
class ConfirmDate(Command):
    essay: str | None = option("your essay's number", "int")


@dataclass(frozen=True, kw_only=True)
class ProposeDate(Command):
    essay: str | None = option("your essay's number", "int")
    date: str | None = option("the day you propose instead (YYYY-MM-DD)", "date")


@dataclass(frozen=True, kw_only=True)
class ShowEssays(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class ShowStatus(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class SetReminders(Command):
    state: str | None = option("all, due-only (only before your due date) or off", "choice:all|due-only|off|on")


@dataclass(frozen=True, kw_only=True)
class ShowHelp(Command):
    pass


# Editors


@dataclass(frozen=True, kw_only=True)
class OpenSymposium(Command):
    title: str | None = option("the symposium's title")
    prompt: str | None = option("the main prompt")
    intent_deadline: str | None = option("last day to declare an intent (YYYY-MM-DD)", "date")
    due: str | None = option("essays due (YYYY-MM-DD)", "date")
    publish_from: str | None = option("first publication day (YYYY-MM-DD)", "date")
    publish_to: str | None = option("last publication day (YYYY-MM-DD)", "date")
    review_channel: str | None = option("the staff-only channel for review cards", "channel")
    announce_channel: str | None = option("where announcements and the Essay Index go (default: here)", "channel")
    alt_prompts: str | None = option("alternative prompts, separated by |")
    call: str | None = option("the invitation's text (up to 4,000 characters)")
    timezone: str | None = option("IANA time zone for dates (default UTC; AoE allowed)", "zone")
    publish_time: str | None = option("time of day essays go live (default 09:00)", "time")
    slug: str | None = option("short name for the public page (default: from the title)")
    allow_late_intents: str | None = option("accept new intents after the deadline (yes/no)", "choice:yes|no")
    remind_intent: str | None = option("days before the intent deadline the channel is reminded (default 7,1)")
    remind_due: str | None = option("days before their due date writers are reminded (default 7,2,1)")
    remind_at: str | None = option("time of day of publication-day reminders and the digest (default 08:00)", "time")


@dataclass(frozen=True, kw_only=True)
class EditSymposium(OpenSymposium):
    pass


@dataclass(frozen=True, kw_only=True)
class CheckChannels(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class Decide(Command):
    essay: str | None = option("the essay's number", "int")
    decision: str | None = option("approve, decline or changes", "choice:approve|decline|changes")
    reason: str | None = option("a reason that reaches the author")


@dataclass(frozen=True, kw_only=True)
class ScheduleEssay(Command):
    essay: str | None = option("the essay's number, or auto to spread approved essays over the window")
    date: str | None = option("publication date (YYYY-MM-DD or YYYY-MM-DD HH:MM)", "datetime")
    url: str | None = option("the live link; with it the essay goes live by itself", "link")


@dataclass(frozen=True, kw_only=True)
class PublishEssay(Command):
    essay: str | None = option("the essay's number", "int")
    url: str | None = option("the live link", "link")
    commentary: str | None = option("your introduction to the essay")


@dataclass(frozen=True, kw_only=True)
class AcceptDate(Command):
    essay: str | None = option("the essay's number", "int")
    date: str | None = option("the proposed day being accepted (default: the one proposed)", "date")


@dataclass(frozen=True, kw_only=True)
class HoldEssay(Command):
    essay: str | None = option("the essay's number", "int")
    reason: str | None = option("why, for the author (optional)")


@dataclass(frozen=True, kw_only=True)
class PreviewEssay(Command):
    essay: str | None = option("the essay's number", "int")


@dataclass(frozen=True, kw_only=True)
class RenameEssay(Command):
    essay: str | None = option("the published essay's number", "int")
    title: str | None = option("its new public title")
    pen_name: str | None = option("the name it is published under (none: the author's own)", "clearable")
    bio: str | None = option("its byline's bio (none: no bio)", "clearable")


@dataclass(frozen=True, kw_only=True)
class CommentEssay(Command):
    essay: str | None = option("the essay's number", "int")
    text: str | None = option("the commentary")


@dataclass(frozen=True, kw_only=True)
class Extend(Command):
    user: str | None = option("the writer", "user")
    due: str | None = option("their new due date (YYYY-MM-DD)", "date")


@dataclass(frozen=True, kw_only=True)
class Notify(Command):
    text: str | None = option("the message to every participant with an active intent")


@dataclass(frozen=True, kw_only=True)
class Export(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class ManageEditors(Command):
    add: str | None = option("a person to make an editor", "user")
    remove: str | None = option("an editor to remove", "user")


@dataclass(frozen=True, kw_only=True)
class CloseSymposium(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class ReopenSymposium(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class ShowHistory(Command):
    essay: str | None = option("only this essay's history (its number)", "int")


# Buttons and reactions


@dataclass(frozen=True, kw_only=True)
class Press:
    """A button pressed (bot/messages.py `Action`): its value, turned into the command it stands for."""

    actor: Actor
    origin: Origin
    value: str


@dataclass(frozen=True, kw_only=True)
class ReactOnCard:
    actor: Actor
    channel: str
    message_ref: str
    emoji: str
    added: bool


@dataclass(frozen=True, kw_only=True)
class ReconcileCard:
    """The reactions a platform lists on a review card (no times), read on start and after a reconnect."""

    channel: str
    message_ref: str
    reactions: tuple[tuple[Actor, str], ...]
