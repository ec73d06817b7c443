"""The HTML pages: the list of symposia, one symposium, and the 404 page, in the chat's own words."""

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from adapters.web.data import PublicComment, Snapshot, SymposiumView
from adapters.web.render import line_html, message_html, safe_href, time_html
from bot import compose, grammar
from bot.index import index_entry

COMMANDS = ("intent", "submit", "withdraw", "essays", "symposium status")


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("adapters.web", "templates"),
        autoescape=select_autoescape(["html", "atom"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["time"] = time_html
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


def symposium_page(env: Environment, view: SymposiumView) -> str:
    sym = view.sym
    return env.get_template("symposium.html").render(
        sym=sym,
        call=message_html(compose.call_announcement(sym, None)),  # no page link: the reader is on the page
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
