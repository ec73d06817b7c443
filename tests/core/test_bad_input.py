"""Each bad input gets a specific private error and changes nothing in the database."""

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import OPEN, BuiltStates, Harness, snapshot

SETUP = f"""
{OPEN}
alice: /intent title:Good data engineers are lazy pen_name:Harry Flow
"""

CASES = [
    ("alice: /frobnicate", "I don't know /frobnicate"),
    ("alice: /intent colour:blue title:x", "/intent has no option colour"),
    ("erin: /symposium decide essay:1", "needs decision:"),
    ("bob: /submit https://example.com/essay", "You have no active Intent to Submit"),
    ("alice: /submit javascript:alert(1)", "must be a web address starting with http:// or https://"),
    ("alice: /submit ftp://files.example.com/essay.pdf", "must be a web address starting with http:// or https://"),
    ("alice: /submit not a url", "must be a web address starting with http:// or https://"),
    ("alice: /intent title:" + "t" * 201, "The title is 201 characters long; at most 200"),
    ("alice: /submit https://example.com/e note:" + "n" * 10_000, "The note is 10,000 characters long; at most 1,000"),
    ("alice: /intent prompt:9", "There is no prompt 9: choose 0 (the main prompt) or 1 to 3"),
    ("erin: /symposium edit due:2023-02-30", "is not a date I can read"),
    ("erin: /symposium edit due:2023-05-01", "The dates must be in order"),
    ("erin: /symposium edit timezone:Mars/Olympus_Mons", "is not a time zone I know"),
    ("alice: /intent title:x symposium:no-such-thing", "There is no symposium “no-such-thing” here"),
    ("alice: /symposium close", "Only the symposium's editors can do /symposium close"),
    ("alice: /symposium schedule essay:1 date:2023-03-14", "Only the symposium's editors"),
    ("alice: /intent bio:" + "b" * 501, "The bio is 501 characters long; at most 500"),
    (
        "erin: /symposium open title:Second prompt:P intent_deadline:2023-03-03 due:2023-03-01 publish_from:2023-03-13 "
        "publish_to:2023-04-28 review_channel:#review",
        "The dates must be in order",
    ),
    (
        "erin: /symposium open title:Second prompt:P intent_deadline:2023-03-03 due:2023-03-10 publish_from:2023-03-13 "
        "publish_to:2023-04-28 review_channel:#general",
        "must differ from the announcement channel",
    ),
    # A misspelt option is refused, never swallowed into the value before it (issue 10, 1).
    ("bob: /intent title:My secret essay pen_nme:Anonymous Owl", "no option pen_nme; did you mean pen_name?"),
    ("bob: /intent title:Essay bio:I write note:hi", "/intent has no option note"),
    ("bob: /intent titel:x", "/intent has no option titel; did you mean title?"),
    ("alice: /intent title:One title:Two", "title: is given twice"),
    ("alice: /intent pen_name:", "pen_name: has no value. To remove yours, write pen_name:none."),
    # Dates already past, or beyond reason (2, 6).
    ("erin: /symposium edit due:2023-01-20", "The due date 2023-01-20 23:59 UTC has already passed"),
    (
        "erin: /symposium open title:Late prompt:P intent_deadline:2022-03-03 due:2022-03-10 publish_from:2022-03-13 "
        "publish_to:2022-04-28 review_channel:#review announce_channel:#essays",
        "has already passed",
    ),
    ("erin: /symposium edit publish_to:9999-12-31 23:59", "the year 9999"),
    ("erin: /symposium edit timezone:AoE publish_to:9999-12-31 23:59", "the year 9999"),
    (
        "erin: /symposium edit timezone:Europe/Berlin publish_from:2023-03-26 02:30",
        "does not exist in Europe/Berlin: the clocks skip it. The nearest times are 01:59 and 03:00.",
    ),
    (
        "erin: /symposium edit timezone:Europe/Berlin publish_to:2023-10-29 02:30",
        "happens twice in Europe/Berlin (the clocks go back). Say which: 2023-10-29 02:30+02:00 or",
    ),
    # Invisible and control characters (5).
    ("bob: /intent title:Null\x00byte", "invisible or control character (U+0000)"),
    ("bob: /intent title:abc\u202edcba", "invisible or control character (U+202E)"),
    ("bob: /intent title:zero\u200bwidth", "invisible or control character (U+200B)"),
    ("alice: /submit https://example.com/\u2066x", "invisible or control character (U+2066)"),
    # Links that are not web addresses (3, 6).
    ("alice: /submit https://[::1/x", "is not a web address I can read (Invalid IPv6 URL)"),
    ("alice: /submit http://a:b/", "is not a web address I can read"),
    ("alice: /submit http://essays.example:99999/x", "Port out of range"),
    ("alice: /submit https://example.com/lazy>", "holds a character a web address cannot (>)"),
    ("alice: /submit https://localhost/x", "is not a host name or address"),
    # A pen name is one writer's (10); a live link is for cross-posts (3).
    ("bob: /intent title:Mine pen_name:harry  FLOW", "Another writer in Is the orchestrator dead or alive? already"),
    ("alice: /submit live:https://example.com/live", "A live link is for an essay you publish yourself"),
    # Editors' commands refused in the state they find (17, 14).
    ("erin: /symposium reopen", "is open already"),
    ("alice: /symposium history", "Only the symposium's editors can do /symposium history"),
]


async def build(harness: Harness) -> None:
    await harness.run(SETUP)


@pytest.mark.parametrize(("line", "expected"), CASES, ids=[c[0][:40] for c in CASES])
async def test_bad_input_is_refused_privately_and_changes_nothing(
    harness: Harness, engine: AsyncEngine, built_states: BuiltStates, line: str, expected: str
) -> None:
    await built_states.enter(harness, "bad_input", build)
    before = await snapshot(engine)
    out = await harness.run(line)
    user = line.split(":", 1)[0]
    assert out.startswith(f"[private to {user}] That didn't work"), out
    assert expected in out
    assert "[#" not in out
    assert "[DM" not in out
    assert await snapshot(engine) == before


async def test_new_intent_after_the_deadline_is_refused_but_an_update_is_not(
    harness: Harness, engine: AsyncEngine
) -> None:
    await harness.run(SETUP + "clock: 2023-03-04T05:00+00:00")
    before = await snapshot(engine)
    out = await harness.run("bob: /intent title:Too late")
    assert "Intents for Is the orchestrator dead or alive? closed" in out
    assert await snapshot(engine) == before
    out = await harness.run("alice: /intent title:Good data engineers are very lazy")
    assert "Intent to Submit updated" in out


async def test_extend_only_moves_a_due_date_later(harness: Harness, engine: AsyncEngine) -> None:
    await harness.run(SETUP)
    before = await snapshot(engine)
    out = await harness.run("erin: /symposium extend user:@alice due:2023-03-05")
    assert "alice is already due 2023-03-10 23:59 UTC; give a later date." in out
    assert await snapshot(engine) == before
