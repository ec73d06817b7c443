"""What the bot says in chat (SPEC §4), as neutral messages. Public messages take a PublicEssay, which holds no
account, so a pen-named essay cannot leak its author through an announcement or the index."""

from dataclasses import dataclass
from datetime import date, datetime

from bot import buttons
from bot.db.models import Essay, Intent, Submission, Symposium
from bot.messages import ChannelRef, Link, Mention, Message, MessageBuilder, Part, Strong, Time
from bot.values import local_day, shown_link

STATUS_WORDS = {
    "pending": "waiting for review",
    "approved": "approved",
    "declined": "declined",
    "changes_requested": "changes requested",
    "withdrawn": "withdrawn",
}
ROUTE_WORDS = {"direct": "published by the host", "crosspost": "published by the author, cross-posted by the host"}


@dataclass(frozen=True)
class PublicEssay:
    """Everything about an essay that may appear in public: no user id, and the pen name when there is one."""

    number: int
    title: str
    public_name: str
    bio: str | None
    link: str | None
    route: str
    prompt_no: int
    commentary: str | None
    scheduled_for: datetime | None
    published_at: datetime | None


def count(n: int, noun: str) -> str:
    """ "1 published essay", "2 published essays"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def public_view(essay: Essay, intent: Intent) -> PublicEssay:
    announced_as = essay.public_name if essay.published_at is not None else None
    return PublicEssay(
        number=essay.number,
        title=intent.title,
        public_name=announced_as or intent.pen_name or intent.user_name,
        bio=intent.bio,
        link=essay.live_url,
        route=intent.route,
        prompt_no=intent.prompt_no,
        commentary=essay.commentary,
        scheduled_for=essay.scheduled_for,
        published_at=essay.published_at,
    )


def page_link(base_url: str | None, sym: Symposium) -> Link | None:
    return Link(f"{base_url.rstrip('/')}/s/{sym.slug}", "the symposium's page") if base_url else None


def prompt_text(sym: Symposium, number: int) -> str:
    if number == 0:
        return f"main prompt: {sym.prompt}"
    return f"alternative {number}: {sym.alt_prompts[number - 1]}"


def call_announcement(sym: Symposium, base_url: str | None) -> Message:
    b = MessageBuilder(f"Call for essays: {sym.title}", tag="announcement")
    b.line(Strong("Prompt: "), sym.prompt)
    for n, alt in enumerate(sym.alt_prompts, 1):
        b.item(f"Alternative {n}: ", alt)
    if sym.call_text:
        for paragraph in sym.call_text.splitlines():
            if paragraph.strip():
                b.line(paragraph)
    b.line(Strong("Intent to Submit by "), Time(sym.intent_deadline, sym.timezone))
    b.line(Strong("Essays due "), Time(sym.due_at, sym.timezone))
    b.line(
        Strong("Publication "),
        Time(sym.publish_from, sym.timezone, relative=False),
        " to ",
        Time(sym.publish_to, sym.timezone, relative=False),
    )
    b.line("Take part: /intent title:<working title> [route:direct|crosspost] [pen_name:…], then /submit url:<link>.")
    if link := page_link(base_url, sym):
        b.line("Follow along on ", link)
    return b.build()


def review_card(sym: Symposium, essay: Essay, intent: Intent, sub: Submission, *, superseded: bool = False) -> Message:
    b = MessageBuilder(f"Essay {essay.number}: {intent.title}", tag="card")
    b.line(
        Strong("Author: "),
        Mention(intent.user_id, intent.user_name),
        *((" writing as ", Strong(intent.pen_name)) if intent.pen_name else ()),
    )
    b.line(Strong("Prompt: "), prompt_text(sym, intent.prompt_no))
    b.line(Strong("Route: "), intent.route)
    b.line(Strong("Link: "), Link(sub.url, shown_link(sub.url)))
    if intent.affiliation:
        b.line(Strong("Affiliation: "), intent.affiliation)
    if sub.note:
        b.line(Strong("Note: "), sub.note)
    b.line(Strong("Revision: "), str(sub.revision), *(" (late)",) if sub.late else ())
    if sub.author_is_editor:
        b.line(Strong("The author is an editor: "), "another editor decides on this essay.")
    if superseded:
        b.line(Strong("Superseded"), " by a newer revision: react on its card instead.")
    elif essay.status == "pending":
        b.line(Strong("Status: "), "waiting for review. React ✅ approve, ❌ decline, ✏️ request changes.")
    else:
        b.line(
            Strong("Status: "),
            STATUS_WORDS.get(essay.status, essay.status),
            *((" by ", sub.decided_by_name) if sub.decided_by_name else ()),
        )
        if sub.reason:
            b.line(Strong("Reason: "), sub.reason)
        if sub.decision_note:
            b.line(Strong("Note: "), sub.decision_note)
        if essay.status == "approved":
            b.line(Strong("Publication: "), *date_state(sym, essay))
    return b.build()


def date_state(sym: Symposium, essay: Essay) -> list[str | Part]:
    """Where an essay's date stands, for the editors: arranged or not, and what its author said of it."""
    if essay.published_at is not None:
        return ["announced ", Time(essay.published_at, sym.timezone, relative=False), "."]
    if essay.scheduled_for is None:
        return ["no date arranged yet."]
    return [Time(essay.scheduled_for, sym.timezone), "; ", *confirmation(sym, essay)]


def confirmation(sym: Symposium, essay: Essay) -> list[str | Part]:
    """What the author said of their date: confirmed, not yet, or another day proposed."""
    if essay.proposed_for is not None:
        return [
            "its author proposes ",
            Time(essay.proposed_for, sym.timezone, relative=False),
            f" instead (/symposium accept essay:{essay.number}).",
        ]
    if essay.date_confirmed_at is not None:
        return ["confirmed by its author."]
    return ["not yet confirmed by its author."]


def next_step(sym: Symposium, essay: Essay, intent: Intent) -> list[str | Time | Strong]:
    if intent.route == "crosspost":
        when: list[str | Time | Strong] = (
            ["on ", Time(essay.scheduled_for, sym.timezone)]
            if essay.scheduled_for
            else ["on the day the editors arrange"]
        )
        watch = (
            f"I watch your site ({shown_link(intent.feed_url)}) for it and announce it"
            if intent.feed_url
            else "I look for it in your site's feed and announce it (say where once: /intent feed:<your site>)"
        )
        return [
            Strong("Action needed: "),
            "publish the essay on your own site ",
            *when,
            f". {watch}; or give the live link yourself with /submit live:<link>.",
        ]
    if essay.scheduled_for:
        return [
            Strong("Action needed: "),
            "none; the editors publish it on ",
            Time(essay.scheduled_for, sym.timezone),
            ".",
        ]
    return [Strong("Action needed: "), "none for now; the editors will arrange a publication date and tell you."]


def decision_dm(sym: Symposium, essay: Essay, intent: Intent, reason: str | None) -> Message:
    title = f"“{intent.title}”: {STATUS_WORDS[essay.status]}"
    b = MessageBuilder(title, tag="decision")
    if essay.status == "approved":
        b.line(f"Your essay {essay.number} for {sym.title} was approved. Thank you!")
        b.line(*next_step(sym, essay, intent))
    elif essay.status == "changes_requested":
        b.line(f"The editors of {sym.title} ask for changes to essay {essay.number} before it can be approved.")
        b.line(Strong("What to do: "), "revise the essay, then resubmit with /submit url:<link> (a new revision).")
    elif essay.status == "declined":
        b.line(f"Thank you for writing for “{sym.title}”. The editors decided not to include essay {essay.number}.")
        b.line(
            Strong("A revision is welcome: "),
            "if you rework it, submit the new link with /submit url:<link> and the editors will read it again.",
        )
    else:
        b.line(f"Essay {essay.number} is back to waiting for review; the editors will decide again.")
    if reason:
        b.line(Strong("Reason: "), reason)
    return b.build()


def reason_added_dm(sym: Symposium, essay: Essay, intent: Intent, reason: str) -> Message:
    b = MessageBuilder(f"“{intent.title}”: a reason from the editors", tag="decision")
    b.line(f"The editors added a reason to their decision on essay {essay.number} ({STATUS_WORDS[essay.status]}):")
    b.line(reason)
    return b.build()


def scheduled_dm(sym: Symposium, essay: Essay, intent: Intent, other_days: list[date]) -> Message:
    """The date the editors arranged, with a request to confirm it or propose another day (`other_days`: free
    days of the window to offer as buttons)."""
    assert essay.scheduled_for is not None
    b = MessageBuilder(f"“{intent.title}” has a publication date", tag="schedule")
    b.line("Essay ", str(essay.number), " will be published on ", Time(essay.scheduled_for, sym.timezone), ".")
    b.line(*next_step(sym, essay, intent))
    _ask_to_confirm(b, sym, essay, other_days)
    return b.build()


def _ask_to_confirm(b: MessageBuilder, sym: Symposium, essay: Essay, other_days: list[date]) -> None:
    assert essay.scheduled_for is not None
    day = local_day(essay.scheduled_for, sym.timezone)
    b.line(
        Strong("Does it suit you? "),
        f"Confirm it, or propose another day between {local_day(sym.publish_from, sym.timezone):%a %d %b} and "
        f"{local_day(sym.publish_to, sym.timezone):%a %d %b}: /symposium propose essay:{essay.number} "
        "date:YYYY-MM-DD.",
    )
    b.action(buttons.confirm(sym, essay, day))
    for other in other_days:
        b.action(buttons.propose(sym, essay, other))


def confirm_reminder(sym: Symposium, essay: Essay, intent: Intent, other_days: list[date]) -> Message:
    assert essay.scheduled_for is not None
    b = MessageBuilder(f"Please confirm: “{intent.title}” is published soon", tag="reminder")
    b.line("Essay ", str(essay.number), " goes live ", Time(essay.scheduled_for, sym.timezone), ".")
    b.line(*next_step(sym, essay, intent))
    _ask_to_confirm(b, sym, essay, other_days)
    return b.build()


def proposal(sym: Symposium, essay: Essay, intent: Intent) -> Message:
    """For the editors: an author proposes another day, with one button to accept it."""
    assert essay.proposed_for is not None
    assert essay.scheduled_for is not None
    b = MessageBuilder(f"Essay {essay.number}: its author proposes another day", tag="schedule")
    b.line(
        "“",
        intent.title,
        "” by ",
        Mention(intent.user_id, intent.user_name),
        " is arranged for ",
        Time(essay.scheduled_for, sym.timezone),
        "; its author proposes ",
        Time(essay.proposed_for, sym.timezone, relative=False),
        ".",
    )
    day = local_day(essay.proposed_for, sym.timezone)
    b.line(f"To accept: /symposium accept essay:{essay.number}. To keep the date, do nothing.")
    b.action(buttons.accept(sym, essay, day))
    return b.build()


def date_moved(sym: Symposium, essay: Essay, intent: Intent, was: datetime, why: str | None) -> Message:
    """For the author: the editors hold their essay; it is not published on the day arranged."""
    b = MessageBuilder(f"“{intent.title}”: the publication date moved", tag="schedule")
    b.line(
        f"The editors are holding essay {essay.number}: it will not be published on ",
        Time(was, sym.timezone, relative=False),
        ". They will arrange a new date and ask you to confirm it.",
    )
    if why:
        b.line(Strong("Reason: "), why)
    return b.build()


def date_cancelled(sym: Symposium, essay: Essay, intent: Intent, why: str) -> Message:
    b = MessageBuilder(f"Publication date cancelled: essay {essay.number}", tag="schedule")
    b.line(f"The arranged date of essay {essay.number} (“", intent.title, f"”) was cancelled: {why}.")
    return b.build()


def announcement(sym: Symposium, essay: PublicEssay, base_url: str | None) -> Message:
    b = MessageBuilder(f"New essay: {essay.title}", tag="announcement")
    b.line("by ", Strong(essay.public_name))
    if essay.bio:
        b.line(essay.bio)
    if essay.link:
        b.line(Link(essay.link, essay.link))
    if essay.commentary:
        b.line(essay.commentary)
    if link := page_link(base_url, sym):
        b.line(f"Part of {sym.title}: ", link)
    return b.build()


def running_commentary(essay: PublicEssay, text: str) -> Message:
    return MessageBuilder(f"Commentary on “{essay.title}”", tag="commentary").line(text).build()


def notice(what: str, where: "Mention | ChannelRef", reason: str, hint: str) -> Message:
    b = MessageBuilder("I could not deliver a message", tag="notice")
    b.line(f"{what} to ", where, f": {reason}.")
    if hint:
        b.line(Strong("To fix: "), hint)
    b.line("It stays listed in /symposium status until it is delivered.")
    return b.build()
