"""Is an essay live, and which feed entry is it: what the core knows about fetching, and pure matching.

No I/O here. The adapter in `adapters/fetch` does the fetching (through the guard against SSRF) and answers with
the plain results below; the core decides from them, with `titles_match`, `same_link` and `matching_entry`.
"""

import contextlib
import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

FeedStatus = Literal["new", "unchanged", "gone", "failed"]


@dataclass(frozen=True)
class PageCheck:
    """Whether an essay's URL is live. `reason` says why not, for the author and editors
    ("answered 404", "is not an HTML page (application/pdf)", "points to a private address (10.0.0.5)")."""

    ok: bool
    final_url: str
    status: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class FeedEntry:
    title: str
    link: str
    published: datetime | None = None  # aware, UTC


@dataclass(frozen=True)
class FeedCheck:
    """One poll of a feed. "new": it answered with entries (all of them, not only unseen ones); "unchanged":
    304; "gone": 404 or 410; "failed": anything else (malformed, refused, timed out), with `reason`.
    `etag` and `modified` are what to send next time: the answer's, or the ones given when it had none."""

    status: FeedStatus
    entries: tuple[FeedEntry, ...] = ()
    etag: str | None = None
    modified: str | None = None
    reason: str = ""
    final_url: str = ""


@runtime_checkable
class EssayFetcher(Protocol):
    """What the core asks of the fetcher (adapters.fetch.Fetcher). None of these raise for a bad URL."""

    async def page(self, url: str) -> PageCheck: ...

    async def feed(self, url: str, *, etag: str | None = None, modified: str | None = None) -> FeedCheck: ...

    async def discover(self, url: str) -> str | None: ...


# ---- titles ----------------------------------------------------------------------------------------------------

# Apostrophes join ("don't" = "dont"); every other punctuation mark or symbol separates words.
_APOSTROPHES = frozenset("'\u2018\u2019\u02bc\u02b9\u0060\u00b4\u2032")
# Instalments of a series differ in a number: "Part 1" is not "Part 2", "Vol. II" not "Vol. III".
_SERIES_WORDS = frozenset({"part", "pt", "vol", "volume", "chapter", "ch", "book", "episode", "ep", "issue"})
_NUMBER_WORDS = frozenset(
    {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"}
    | {"first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "last", "final"}
)
_ROMAN = re.compile(r"(?:i{1,3}|iv|vi{0,3}|ix|xi{0,3}|x{2,3})")
_FUZZY_MIN_LENGTH = 12
_FUZZY_RATIO = 0.85


def normalise_title(text: str) -> str:
    """Casefolded, NFKC, accents on Latin letters folded, punctuation, quotes, dashes and symbols removed, spaces collapsed."""
    text = unicodedata.normalize("NFKD", text)
    out: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Mn" and out and out[-1] < "\u0250":  # accents on Latin letters: "café" is "cafe"
            continue
        if char in _APOSTROPHES:
            continue
        if category[0] in "PSZC":
            out.append(" ")
        else:
            out.append(char)
    folded = unicodedata.normalize("NFKC", "".join(out)).casefold()
    return " ".join(folded.split())


def _markers(words: list[str]) -> list[str]:
    """The words that number an instalment: any word with a digit, a numeral after "part", "vol", "chapter"...,
    and a small Roman numeral ending the title ("... II")."""
    found = []
    for i, word in enumerate(words):
        numeral = word in _NUMBER_WORDS or _ROMAN.fullmatch(word) is not None
        after_series = i > 0 and words[i - 1] in _SERIES_WORDS
        last_roman = i == len(words) - 1 and word != "i" and _ROMAN.fullmatch(word) is not None
        if any(ch.isdigit() for ch in word) or (after_series and numeral) or last_roman:
            found.append(word)
    return found


def titles_match(a: str, b: str) -> bool:
    """Whether two titles name the same essay, allowing for case, punctuation and small edits (a typo fixed,
    a word changed). Not when they number different instalments ("Part 1" / "Part 2", "Vol. I" / "Vol. II"),
    nor when one is the other with words added at the end ("Orchestrators are forever (a redux)"): that is a
    sequel more often than an edit, and a wrong live link is worse than a late one."""
    na, nb = normalise_title(a), normalise_title(b)
    if not na or not nb:
        return False
    if na == nb:
        return True
    wa, wb = na.split(), nb.split()
    if _markers(wa) != _markers(wb):
        return False
    shorter, longer = sorted((wa, wb), key=len)
    if longer[: len(shorter)] == shorter:
        return False
    if min(len(na), len(nb)) < _FUZZY_MIN_LENGTH:
        return False
    return difflib.SequenceMatcher(None, na, nb, autojunk=False).ratio() >= _FUZZY_RATIO


# ---- links -----------------------------------------------------------------------------------------------------

_TRACKING = frozenset({"fbclid", "gclid", "mc_cid", "mc_eid"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _link_key(url: str) -> tuple[str, str, str] | None:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    with contextlib.suppress(UnicodeError):
        host = host.encode("idna").decode("ascii")
    host = host.lower().removeprefix("www.")
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    path = unquote(parts.path).rstrip("/") or "/"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in _TRACKING
    )
    return host, path, urlencode(query)


def same_link(a: str, b: str) -> bool:
    """Whether two web addresses name the same page: http and https alike, host case and a leading "www."
    ignored, default ports, a trailing slash, the fragment, utm_* and click-tracking parameters dropped."""
    key_a, key_b = _link_key(a), _link_key(b)
    return key_a is not None and key_a == key_b


def matching_entry(entries: Iterable[FeedEntry], *, title: str, link: str | None = None) -> FeedEntry | None:
    """The feed entry that is this essay: one whose link is the given link, else one whose title matches.
    Entries without a usable web link are skipped (there would be nothing to announce)."""
    candidates = [entry for entry in entries if _link_key(entry.link) is not None]
    if link:
        for entry in candidates:
            if same_link(entry.link, link):
                return entry
    for entry in candidates:
        if titles_match(entry.title, title):
            return entry
    return None
