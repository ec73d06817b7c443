"""The HTML pages: the list of symposia, one symposium, and the 404 page, in the chat's own words."""

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from adapters.web.data import PublicComment, Snapshot, SymposiumView
from adapters.web.render import line_html, markdown_html, message_html, safe_href, time_html
from bot import compose, grammar
from bot.db.models import Symposium
from bot.index import index_entry

COMMANDS = ("intent", "submit", "withdraw", "essays", "symposium status")


def environment(*, feeds: bool = True) -> Environment:
    """The templates; `feeds` says whether the Atom feed, calendar and JSON are served (PUBLIC_BASE_URL is set), so
    the pages link them only then. Every link the pages print is relative: they never name a host."""
    env = Environment(
        loader=PackageLoader("adapters.web", "templates"),
        autoescape=select_autoescape(["html", "atom"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["time"] = time_html
    env.globals["feeds"] = feeds
    return env


def _comment(view: SymposiumView, essay: compose.PublicEssay, comment: PublicComment) -> dict[str, Any]:
    message = compose.running_commentary(essay, comment.text)
    return {
        "id": comment.id,
        "title": message.title,
        "time": time_html(comment.created_at, view.sym.timezone),
        "html": message_html(message),
    }


def _essay(view: SymposiumView, essay: compose.PublicEssay) -> dict[str, Any]:
    """An essay's introduction (its announcement) and its running commentary, newest first."""
    assert essay.published_at is not None
    return {
        "number": essay.number,
        "title": essay.title,
        "href": safe_href(essay.link),
        "published": time_html(essay.published_at, view.sym.timezone),
        "html": message_html(compose.announcement(view.sym, essay, None)),
        "comments": [_comment(view, essay, c) for c in view.comments_on(essay.number)],
    }


def _call(sym: Symposium) -> dict[str, Any]:
    """The call as the host's page shows it: the prompts, the host's own prose (Markdown), then the dates, in the
    words of the chat's call announcement (`compose.call_announcement`), whose "Take part" line the page's own
    section replaces."""
    return {
        "prompt": sym.prompt,
        "alternatives": [f"Alternative {n}: {alt}" for n, alt in enumerate(sym.alt_prompts, 1)],
        "prose": markdown_html(sym.call_text) if sym.call_text else None,
        "intent_deadline": time_html(sym.intent_deadline, sym.timezone),
        "due": time_html(sym.due_at, sym.timezone),
        "publish_from": time_html(sym.publish_from, sym.timezone),
        "publish_to": time_html(sym.publish_to, sym.timezone),
    }


def symposium_page(env: Environment, view: SymposiumView) -> str:
    """Before publication begins: the call, how to take part, then the (empty) index. Once it has begun: the
    Essay Index, the running commentary and what is coming up first, then the call, and how to take part folded."""
    sym = view.sym
    return env.get_template("symposium.html").render(
        sym=sym,
        begun=view.begun,
        call=_call(sym),
        commands=[(grammar.BY_PATH[path].usage, grammar.BY_PATH[path].help) for path in COMMANDS],
        routes=compose.ROUTE_WORDS,
        index=[
            {
                "number": e.number,
                "html": line_html(index_entry(sym, e)),
                "route": compose.ROUTE_WORDS[e.route],
            }
            for e in view.published
        ],
        essays=[_essay(view, e) for e in reversed(view.published)],
        coming=[time_html(e.scheduled_for, sym.timezone) for e in view.coming if e.scheduled_for],
    )


def list_page(env: Environment, snapshot: Snapshot) -> str:
    return env.get_template("list.html").render(symposia=snapshot.symposia)


def not_found_page(env: Environment) -> str:
    return env.get_template("not_found.html").render()
