"""The Essay Index and the closing roundup: built from public views only, split into pages that fit a message."""

from collections import Counter
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot import queries
from bot.compose import PublicEssay, count, page_link, public_view
from bot.db.models import Symposium
from bot.messages import Line, Link, Message, MessageBuilder, Strong, Text, Time

COMMENT_LINE = 160


async def public_essays(session: AsyncSession, sym: Symposium) -> list[PublicEssay]:
    return [public_view(e, i) for e, i in await queries.published(session, sym.id)]


async def upcoming_essays(session: AsyncSession, sym: Symposium, now: datetime) -> list[PublicEssay]:
    """What the public sees coming: dates still ahead (one that passed unannounced is not shown)."""
    return [public_view(e, i) for e, i in await queries.coming_up(session, sym.id, after=now)]


def one_line(text: str | None, limit: int = COMMENT_LINE) -> str:
    first = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def index_entry(sym: Symposium, essay: PublicEssay) -> Line:
    assert essay.published_at is not None
    parts: list[Text | Strong | Time | Link] = [
        Time(essay.published_at, sym.timezone, relative=False),
        Text(" "),
        Strong(essay.title),
        Text(" by " + essay.public_name),
    ]
    if essay.link:
        parts += [Text(" "), Link(essay.link, "read")]
    if comment := one_line(essay.commentary):
        parts.append(Text(" — " + comment))
    return Line(tuple(parts), bullet=True)


def index_pages(
    sym: Symposium, published: list[PublicEssay], coming: list[PublicEssay], base_url: str | None, page_chars: int
) -> list[Message]:
    """The index as one or more messages; every page fits `page_chars` characters of plain text."""
    lines: list[Line] = [Line((Strong("Published"),))]
    lines += [index_entry(sym, e) for e in published] or [
        Line((Text("Nothing yet: the first essays are on their way."),))
    ]
    if coming:
        lines.append(Line((Strong("Coming up"),)))
        lines += [
            Line((Time(e.scheduled_for, sym.timezone, relative=False),), bullet=True) for e in coming if e.scheduled_for
        ]
    if link := page_link(base_url, sym):
        lines.append(Line((Text("Also on "), link)))
    pages: list[list[Line]] = [[]]
    size = 0
    for line in lines:
        length = len(Message(None, (line,)).plain()) + 40  # rendered forms are longer than plain text
        if pages[-1] and size + length > page_chars:
            pages.append([])
            size = 0
        pages[-1].append(line)
        size += length
    titles = [f"Essay Index: {sym.title}"] + [
        f"Essay Index: {sym.title} (continued, {n})" for n in range(2, len(pages) + 1)
    ]
    return [Message(title, tuple(page), tag="index") for title, page in zip(titles, pages, strict=True)]


def roundup(sym: Symposium, published: list[PublicEssay], base_url: str | None) -> Message:
    b = MessageBuilder(f"{sym.title} is closed: thank you!", tag="announcement")
    b.line(f"{count(len(published), 'essay')} published.")
    routes = Counter(e.route for e in published)
    if published:
        b.line(f"By route: {routes['direct']} published by the host, {routes['crosspost']} cross-posted.")
        prompts = Counter(e.prompt_no for e in published)
        b.line(
            "By prompt: "
            + ", ".join(f"{'main' if n == 0 else f'alternative {n}'}: {k}" for n, k in sorted(prompts.items()))
        )
    for essay in published:
        b.item(
            Strong(essay.title), " by " + essay.public_name, *((" ", Link(essay.link, "read")) if essay.link else ())
        )
    if link := page_link(base_url, sym):
        b.line("The Essay Index stays on ", link)
    return b.build()
