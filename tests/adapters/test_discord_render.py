"""Neutral messages as Discord embeds: user text stays literal, parts become Discord's own forms, limits hold."""

from datetime import UTC, datetime

import pytest

from adapters.discord.render import CUT, DESCRIPTION_MAX, TOTAL_MAX, escape, pages, render
from adapters.discord.sender import DiscordPlatform
from bot.compose import PublicEssay
from bot.db.models import Symposium
from bot.index import index_pages
from bot.messages import ChannelRef, Link, Mention, Message, MessageBuilder, Strong, Time

AT = datetime(2023, 3, 13, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("@everyone and @here", "@\u200beveryone and @\u200bhere"),
        (
            "<@1300000000000000031> <@&1300000000000000021>",
            "\\<@\u200b1300000000000000031> \\<@\u200b&1300000000000000021>",
        ),
        ("<#1300000000000000011> at <t:1678698000:R>", "\\<#1300000000000000011> at \\<t:1678698000:R>"),
        ("</symposium:1> <:party:123>", "\\</symposium:1> \\<:party:123>"),
        (
            "**bold** _it_ ~~no~~ ||spoiler|| `code`",
            "\\*\\*bold\\*\\* \\_it\\_ \\~\\~no\\~\\~ \\|\\|spoiler\\|\\| \\`code\\`",
        ),
        ("# Heading\n> quote\n- item\n1. first", "\\# Heading\n\\> quote\n\\- item\n1\\. first"),
        ("[click](https://evil.example)", "\\[click](https://evil.example)"),
        ("a \\<#1> backslash", "a \\\\\\<#1> backslash"),
    ],
)
def test_user_text_is_literal(typed: str, shown: str) -> None:
    assert escape(typed) == shown


def test_parts_become_discord_forms_and_times_name_the_zone() -> None:
    message = (
        MessageBuilder("Essay 1: *Orchestras* @everyone")
        .line(Strong("Author: "), Mention("1300000000000000033", "alice"), " in ", ChannelRef("1300000000000000012"))
        .line(
            Link("https://x.example/a_b (draft)", "the [draft]"),
            " ",
            Link("https://x.example/p", "https://x.example/p"),
        )
        .line("Due ", Time(AT, "Europe/Berlin"), "; from ", Time(AT, "AoE", relative=False))
        .item("Published ", Time(datetime(2023, 3, 13, 12, tzinfo=UTC), "AoE", relative=False))
        .build()
    )
    out = render(message)
    assert out.content == "Essay 1: \\*Orchestras\\* @\u200beveryone"
    [embed] = out.embeds
    assert embed.title == out.content
    assert embed.description == "\n".join(
        [
            "**Author:** <@1300000000000000033> in <#1300000000000000012>",
            "[the \\[draft\\]](https://x.example/a_b%20%28draft%29) https://x.example/p",
            "Due <t:1678698000:F> (Mon 2023-03-13 10:00 Europe/Berlin, <t:1678698000:R>); "
            "from <t:1678698000:F> (Sun 2023-03-12 21:00 AoE)",
            "• Published <t:1678708800:D> (Mon 2023-03-13 AoE)",
        ]
    )


def test_a_long_message_fits_discord_s_limits() -> None:
    builder = MessageBuilder("Status")
    for n in range(400):
        builder.item(f"essay {n}: " + "x" * 60)
    message = builder.build()
    out = pages(message)
    assert len(out) > 1
    for page in out:
        assert all(len(e.description or "") <= DESCRIPTION_MAX for e in page.embeds)
        assert sum(len(e) for e in page.embeds) <= TOTAL_MAX
        assert len(page.embeds) <= 10
    shown = "\n".join(e.description or "" for page in out for e in page.embeds)
    assert shown.count("• essay") == 400  # nothing lost across pages
    single = render(message)
    assert (single.embeds[-1].description or "").endswith(CUT)
    assert sum(len(e) for e in single.embeds) <= TOTAL_MAX


def test_an_empty_message_is_still_a_valid_embed() -> None:
    assert render(Message(None)).embeds[0].description == "\u200b"


@pytest.mark.parametrize("title", ["Plain words about orchestration " * 6, "under_scored*starred~tilde|" * 7])
def test_every_page_of_a_long_essay_index_fits_one_embed(title: str) -> None:
    """The core splits the index by plain length (DiscordPlatform.index_page_chars); rendered forms are longer."""
    sym = Symposium(
        title="Is the orchestrator dead or alive?", slug="orchestrators", timezone="America/Argentina/Buenos_Aires"
    )
    link = "https://x.example/" + "a" * 150
    essays = [PublicEssay(n, title[:200], "P" * 100, None, link, "direct", 0, "c" * 300, AT, AT) for n in range(1, 121)]
    pages = index_pages(sym, essays, essays, "https://symposium.example.com", DiscordPlatform.index_page_chars)
    assert len(pages) > 5
    for page in pages:
        out = render(page)
        assert not (out.embeds[-1].description or "").endswith(CUT)
        assert len(out.embeds) == 1
