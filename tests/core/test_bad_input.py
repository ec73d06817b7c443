"""Each bad input gets a specific private error and changes nothing in the database."""

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import OPEN, Harness, snapshot

SETUP = f"""
{OPEN}
alice: /intent title:Good data engineers are lazy
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
]


@pytest.mark.parametrize(("line", "expected"), CASES, ids=[c[0][:40] for c in CASES])
async def test_bad_input_is_refused_privately_and_changes_nothing(
    harness: Harness, engine: AsyncEngine, line: str, expected: str
) -> None:
    await harness.run(SETUP)
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
