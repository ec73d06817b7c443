"""Neutral messages as Block Kit and escaped fallback text; Slack's escaped command text read back."""

from datetime import UTC, datetime

import pytest

from adapters.slack.forms import field_errors, intent_modal, submitted
from adapters.slack.markup import normalize
from adapters.slack.render import render
from bot.grammar import BY_PATH, OptionSpec
from bot.messages import ChannelRef, Line, Link, Mention, Message, MessageBuilder, Strong, Text, Time

NOW = datetime(2023, 3, 1, 9, 0, tzinfo=UTC)


def option(kind: str) -> OptionSpec:
    return OptionSpec("x", "help", kind, False)


def test_parts_become_rich_text_elements_and_bullets_a_list() -> None:
    message = (
        MessageBuilder("Essay 1: A & B", tag="card")
        .line(Strong("Author: "), Mention("U1", "Ann"), " in ", ChannelRef("C1"))
        .line("Link: ", Link("https://x.example/a", "https://x.example/a"), " or ", Link("https://y.example", "y"))
        .item("Due ", Time(datetime(2023, 3, 3, 22, 59, 59, tzinfo=UTC), "Europe/Berlin"))
        .item(Time(datetime(2023, 3, 13, 0, 0, tzinfo=UTC), "UTC", relative=False))
        .line("")
        .build()
    )

    blocks, text = render(message, NOW)

    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "Essay 1: A & B", "emoji": False}}
    section, bullets, last = blocks[1]["elements"]
    assert section == {
        "type": "rich_text_section",
        "elements": [
            {"type": "text", "text": "Author: ", "style": {"bold": True}},
            {"type": "user", "user_id": "U1"},
            {"type": "text", "text": " in "},
            {"type": "channel", "channel_id": "C1"},
            {"type": "text", "text": "\n"},
            {"type": "text", "text": "Link: "},
            {"type": "link", "url": "https://x.example/a"},
            {"type": "text", "text": " or "},
            {"type": "link", "url": "https://y.example", "text": "y"},
        ],
    }
    due, day = bullets["elements"]
    assert bullets["style"] == "bullet"
    assert due["elements"][1] == {
        "type": "date",
        "timestamp": 1677884399,
        "format": "{date_long_pretty} at {time}",
        "fallback": "Fri 2023-03-03 23:59 Europe/Berlin",
    }
    assert due["elements"][2] == {
        "type": "text",
        "text": " (Fri 2023-03-03 23:59 Europe/Berlin, in 2 days and 13 hours)",
    }
    assert day["elements"][0]["format"] == "{date_long_pretty}"
    assert day["elements"][1] == {"type": "text", "text": " (Mon 2023-03-13 UTC)"}
    assert last == {"type": "rich_text_section", "elements": [{"type": "text", "text": " "}]}
    assert text.splitlines() == [
        "Essay 1: A &amp; B",
        "Author: @Ann in #C1",
        "Link: https://x.example/a or y (https://y.example)",
        "• Due Fri 2023-03-03 23:59 Europe/Berlin (in 2 days and 13 hours)",
        "• Mon 2023-03-13 UTC",
    ]


def test_user_text_in_the_fallback_is_escaped_and_never_a_mention() -> None:
    message = Message("<!channel> & <@U1>", (Line((Text("<!here> <#C1|x> <https://evil.example|safe>"),)),))

    blocks, text = render(message, NOW)

    assert text == "&lt;!channel&gt; &amp; &lt;@U1&gt;\n&lt;!here&gt; &lt;#C1|x&gt; &lt;https://evil.example|safe&gt;"
    assert blocks[1]["elements"][0]["elements"] == [
        {"type": "text", "text": "<!here> <#C1|x> <https://evil.example|safe>"}
    ]


def test_a_title_too_long_for_a_header_becomes_the_first_bold_line() -> None:
    title = "Essay 1: " + "t" * 200

    blocks, text = render(Message(title, (Line((Text("body"),)),)), NOW)

    assert [b["type"] for b in blocks] == ["rich_text"]
    assert blocks[0]["elements"][0]["elements"][0] == {"type": "text", "text": title, "style": {"bold": True}}
    assert text.startswith(title)


def test_a_long_message_stays_two_blocks_and_its_fallback_is_cut() -> None:
    message = Message("Essay Index", tuple(Line((Text(f"entry {n} " + "x" * 100),), bullet=True) for n in range(80)))

    blocks, text = render(message, NOW)

    assert len(blocks) == 2
    assert len(blocks[1]["elements"][0]["elements"]) == 80
    assert len(text) == 3000
    assert text.endswith("…")


@pytest.mark.parametrize(
    ("kind", "sent", "meant"),
    [
        ("user", "<@U123ABC|ann>", "U123ABC"),
        ("user", "<@W42>", "W42"),
        ("channel", "<#C0REVIEW|review>", "C0REVIEW"),
        ("channel", "<#G0PRIV|>", "G0PRIV"),
        ("link", "<https://x.example/p?a=1&amp;b=2|x.example/p>", "https://x.example/p?a=1&b=2"),
        ("link", "<https://x.example/p>", "https://x.example/p"),
        ("text", "Why &lt;!channel&gt; &amp; <!here> matter", "Why <!channel> & @here matter"),
        (
            "text",
            "Ask <@U1|ann> in <#C1|general> or <https://x.example|x.example>",
            "Ask @ann in #general or https://x.example",
        ),
        ("text", "<!subteam^S1|@editors> and <!everyone>", "@editors and @everyone"),
        ("text", "plain *bold* text", "plain *bold* text"),
    ],
)
def test_slack_escaped_text_is_read_back_as_meant(kind: str, sent: str, meant: str) -> None:
    assert normalize(option(kind), sent) == meant


def test_the_intent_form_mirrors_the_intent_options_and_reads_back_what_was_filled_in() -> None:
    view = intent_modal("C1", "https://hooks.example/r")
    state = {
        "title": {"title": {"type": "plain_text_input", "value": "T"}},
        "route": {"route": {"type": "static_select", "selected_option": {"value": "direct"}}},
        "pen_name": {"pen_name": {"type": "plain_text_input", "value": ""}},
        "prompt": {"prompt": {"type": "number_input", "value": "0"}},
    }

    values, metadata = submitted(view | {"state": {"values": state}})

    assert [b["block_id"] for b in view["blocks"]] == [o.name for o in BY_PATH["intent"].options]
    route = next(b for b in view["blocks"] if b["block_id"] == "route")
    assert [o["value"] for o in route["element"]["options"]] == ["direct", "crosspost"]
    assert values == {"title": "T", "route": "direct", "prompt": "0"}
    assert metadata == {"channel": "C1", "response_url": "https://hooks.example/r"}
    assert field_errors("The pen name is 300 characters long; at most 100 are allowed.") == {
        "pen_name": "The pen name is 300 characters long; at most 100 are allowed."
    }
    assert list(field_errors("Intents closed on 2023-03-03.")) == ["title"]
