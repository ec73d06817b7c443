"""Matching a feed entry to an essay: titles tolerant of small edits, links tolerant of decoration."""

from datetime import UTC, datetime

import pytest

from bot.matching import FeedEntry, matching_entry, normalise_title, same_link, titles_match

# ---- titles ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("Orchestrators Are Forever!", "orchestrators are forever"),
        ("  “Orchestrators” — are   FOREVER…  ", "orchestrators are forever"),
        ("Don’t panic: a guide", "dont panic a guide"),
        ("Café society, revisited", "cafe society revisited"),
        ("ＦＵＬＬ－width ﬁles", "full width files"),
        ("Straße", "strasse"),
        ("Why #1 & why 2?", "why 1 why 2"),
        ("東京の夏", "東京の夏"),
        ("がぎ", "がぎ"),  # marks that change a letter elsewhere are kept
        ("", ""),
        ("?!…", ""),
    ],
)
def test_normalise_title(text: str, normal: str) -> None:
    assert normalise_title(text) == normal


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Orchestrators are forever", "Orchestrators Are Forever!"),
        ("Orchestrators are forever", "“Orchestrators are forever”"),
        ("Orchestrators are forever", "Orchestrators are forver"),  # typo fixed
        ("Orchestrators are forever", "Orchestrators is forever"),  # a word changed
        ("Orchestrators are forever", "The orchestrators are forever"),
        ("The unreasonable effectiveness of queues", "The Unreasonable Effectivness of Queues"),
        ("Don't panic about schedulers", "Don’t Panic About Schedulers"),
        ("Sleep — a defence", "Sleep: A Defence"),
        ("Café society revisited", "Cafe Society Revisited"),
        ("On time, part 1", "On Time (Part 1)"),
        ("Why I write", "Why I Write."),  # short titles match when equal after normalising
    ],
)
def test_titles_that_match(a: str, b: str) -> None:
    assert titles_match(a, b)
    assert titles_match(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Orchestrators are forever", "Orchestrators are forever (a redux)"),  # a sequel, not an edit
        ("Orchestrators are forever", "Orchestrators are forever, part 2"),
        ("Orchestrators", "Orchestrators are forever"),  # a short title is not a long one
        ("On time, part 1", "On time, part 2"),
        ("On time, part one", "On time, part two"),
        ("The long goodbye, volume II", "The long goodbye, volume III"),
        ("Notes on orchestrators II", "Notes on orchestrators III"),
        ("Ten lessons from 2023", "Ten lessons from 2024"),
        ("Orchestrators are forever", "Schedulers are mortal"),
        ("Orchestrators are forever", "Orchestrators"),
        ("Why I write", "Why I wrote"),  # too short to forgive a change
        ("On time", "On tim"),
        ("Orchestrators are forever", ""),
        ("", ""),
        ("?!", "…"),
    ],
)
def test_titles_that_do_not_match(a: str, b: str) -> None:
    assert not titles_match(a, b)
    assert not titles_match(b, a)


# ---- links -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://essays.example/p/orchestrators", "http://essays.example/p/orchestrators"),
        ("https://www.Essays.Example/p/orchestrators/", "https://essays.example/p/orchestrators"),
        ("https://essays.example./p/orchestrators", "https://essays.example/p/orchestrators"),
        ("https://essays.example:443/p/x", "https://essays.example/p/x"),
        ("https://essays.example/p/x#comments", "https://essays.example/p/x"),
        ("https://essays.example/p/x?utm_source=rss&utm_medium=feed", "https://essays.example/p/x"),
        ("https://essays.example/p/x?fbclid=abc", "https://essays.example/p/x"),
        ("https://essays.example/?p=12&utm_campaign=x", "https://essays.example/?p=12"),
        ("https://essays.example/?b=2&a=1", "https://essays.example/?a=1&b=2"),
        ("https://essays.example/p/caf%C3%A9", "https://essays.example/p/café"),
        ("https://bücher.example/x", "https://xn--bcher-kva.example/x"),
        ("https://user:pw@essays.example/x", "https://essays.example/x"),
        ("  https://essays.example/x  ", "https://essays.example/x"),
        ("https://essays.example", "https://essays.example/"),
    ],
)
def test_same_link(a: str, b: str) -> None:
    assert same_link(a, b)
    assert same_link(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://essays.example/p/orchestrators", "https://essays.example/p/orchestrators-2"),
        ("https://essays.example/p/x", "https://other.example/p/x"),
        ("https://blog.essays.example/p/x", "https://essays.example/p/x"),
        ("https://essays.example/?p=12", "https://essays.example/?p=13"),
        ("https://essays.example:8443/x", "https://essays.example/x"),
        ("https://essays.example/P/X", "https://essays.example/p/x"),  # paths are case-sensitive
        ("ftp://essays.example/x", "ftp://essays.example/x"),
        ("javascript:alert(1)", "javascript:alert(1)"),
        ("", ""),
        ("not a link", "not a link"),
        ("https://essays.example:99999/x", "https://essays.example:99999/x"),
    ],
)
def test_not_the_same_link(a: str, b: str) -> None:
    assert not same_link(a, b)


# ---- entries ---------------------------------------------------------------------------------------------------

WHEN = datetime(2023, 2, 1, 9, 30, tzinfo=UTC)
ENTRIES = (
    FeedEntry("Orchestrators are forever (a redux)", "https://essays.example/p/redux", WHEN),
    FeedEntry("Orchestrators Are Forever!", "https://essays.example/p/orchestrators?utm_source=rss", WHEN),
    FeedEntry("A link-less note", "", None),
    FeedEntry("Queues, again", "mailto:writer@essays.example", None),
)


def test_an_entry_by_title() -> None:
    found = matching_entry(ENTRIES, title="Orchestrators are forever")
    assert found is ENTRIES[1]


def test_an_entry_by_link_wins_over_a_title() -> None:
    found = matching_entry(ENTRIES, title="Something else entirely", link="http://www.essays.example/p/redux/")
    assert found is ENTRIES[0]


def test_entries_without_a_web_link_are_never_the_essay() -> None:
    assert matching_entry(ENTRIES, title="A link-less note") is None
    assert matching_entry(ENTRIES, title="Queues, again") is None
    assert matching_entry(ENTRIES, title="Unrelated", link="https://essays.example/p/unknown") is None
    assert matching_entry((), title="Orchestrators are forever") is None
