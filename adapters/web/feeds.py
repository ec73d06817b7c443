"""A symposium as an Atom feed, an iCalendar file and JSON: the same public views the page shows.

Ids are stable: feed entries are the page's URL with the essay's number or the commentary's id as fragment,
calendar UIDs name the symposium's id and the essay's number, so an edited date updates an event in place.
"""

import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from icalendar import Calendar, Event
from jinja2 import Environment

from adapters.web.data import SymposiumView
from adapters.web.render import iso_utc, message_html, safe_href, zone_text
from bot import compose

# Characters XML 1.0 forbids; chat text can carry them, a feed must not.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def page_url(base_url: str, slug: str) -> str:
    return f"{base_url.rstrip('/')}/s/{slug}"


def atom(env: Environment, view: SymposiumView, base_url: str) -> str:
    """One entry per published essay and per piece of running commentary, newest first."""
    sym, page = view.sym, page_url(base_url, view.sym.slug)
    by_number = {e.number: e for e in view.published}
    entries: list[dict[str, Any]] = []
    for essay in view.published:
        assert essay.published_at is not None
        entries.append(
            {
                "id": f"{page}#essay-{essay.number}",
                "title": essay.title,
                "author": essay.public_name,
                "link": safe_href(essay.link) or f"{page}#essay-{essay.number}",
                "at": essay.published_at,
                "html": str(message_html(compose.announcement(sym, essay, base_url))),
            }
        )
    for comment in view.comments:
        message = compose.running_commentary(by_number[comment.essay_number], comment.text)
        entries.append(
            {
                "id": f"{page}#comment-{comment.id}",
                "title": message.title,
                "author": None,
                "link": f"{page}#comment-{comment.id}",
                "at": comment.created_at,
                "html": str(message_html(message)),
            }
        )
    entries.sort(key=lambda e: e["at"], reverse=True)
    for entry in entries:
        entry["published"] = entry["updated"] = iso_utc(entry.pop("at"))
    updated = entries[0]["updated"] if entries else iso_utc(sym.opened_at)
    text = env.get_template("feed.atom").render(
        sym=sym, page_url=page, feed_url=f"{page}/feed.atom", updated=updated, entries=entries
    )
    return _NOT_XML.sub("", text)


def _event(uid: str, at: datetime, summary: str, description: str, url: str, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", at)
    event.add("summary", summary)
    event.add("description", description)
    event.add("url", url)
    return event


def calendar(view: SymposiumView, base_url: str) -> bytes:
    """The intent deadline, the due date and each arranged publication; times in UTC, the zone named."""
    sym, page = view.sym, page_url(base_url, view.sym.slug)
    host = urlsplit(base_url).hostname or "localhost"
    zone = f"In {sym.timezone}, the symposium's time zone: "

    def when(at: datetime) -> str:
        return zone + zone_text(at, sym.timezone) + "."

    cal = Calendar()
    cal.add("prodid", "-//Symposium Bot//Symposium calendar//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", sym.title)
    stamp = sym.opened_at
    cal.add_component(
        _event(
            f"intent-deadline-{sym.id}@{host}",
            sym.intent_deadline,
            f"Intent to Submit by: {sym.title}",
            f"{when(sym.intent_deadline)}\nDeclare yours with /intent.",
            page,
            stamp,
        )
    )
    cal.add_component(
        _event(f"due-{sym.id}@{host}", sym.due_at, f"Essays due: {sym.title}", when(sym.due_at), page, stamp)
    )
    for essay in view.published:
        assert essay.published_at is not None
        description = f"{when(essay.published_at)}\nby {essay.public_name}" + (
            f"\n{essay.link}" if safe_href(essay.link) else ""
        )
        cal.add_component(
            _event(
                f"essay-{sym.id}-{essay.number}@{host}",
                essay.published_at,
                f"New essay: {essay.title}",
                description,
                f"{page}#essay-{essay.number}",
                stamp,
            )
        )
    for essay in view.coming:
        assert essay.scheduled_for is not None
        cal.add_component(
            _event(
                f"essay-{sym.id}-{essay.number}@{host}",
                essay.scheduled_for,
                f"Publication: {sym.title}",
                f"{when(essay.scheduled_for)}\nAn essay goes live; its title is announced then.",
                page,
                stamp,
            )
        )
    return cal.to_ical()


def as_data(view: SymposiumView, base_url: str) -> str:
    """The Essay Index as JSON: the symposium, its published essays in order, and the dates coming up."""
    sym, page = view.sym, page_url(base_url, view.sym.slug)
    data = {
        "symposium": {
            "slug": sym.slug,
            "title": sym.title,
            "prompt": sym.prompt,
            "alternative_prompts": list(sym.alt_prompts),
            "call": sym.call_text,
            "status": sym.status,
            "timezone": sym.timezone,
            "intent_deadline": iso_utc(sym.intent_deadline),
            "due": iso_utc(sym.due_at),
            "publish_from": iso_utc(sym.publish_from),
            "publish_to": iso_utc(sym.publish_to),
            "url": page,
            "feed": f"{page}/feed.atom",
            "calendar": f"{page}/calendar.ics",
        },
        "essays": [
            {
                "number": e.number,
                "title": e.title,
                "author": e.public_name,
                "bio": e.bio,
                "link": safe_href(e.link),
                "route": e.route,
                "prompt": e.prompt_no,
                "published_at": iso_utc(e.published_at) if e.published_at else None,
                "commentary": e.commentary,
                "running_commentary": [
                    {"id": c.id, "text": c.text, "at": iso_utc(c.created_at)}
                    for c in reversed(view.comments_on(e.number))
                ],
            }
            for e in view.published
        ],
        "coming_up": [{"date": iso_utc(e.scheduled_for)} for e in view.coming if e.scheduled_for],
    }
    return json.dumps(data, ensure_ascii=False, indent=2)
