"""The rest of the commands of SPEC §3, each through the console: what the person sees and what changes."""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.models import Editor, OutboxRow
from bot.messages import load_message
from tests.conftest import OPEN, Harness, blocks

APPROVED = f"""
{OPEN}
alice: /intent title:Good data engineers are lazy
alice: /submit https://example.com/lazy
erin: react ✅ last
erin: /symposium schedule essay:1 date:2023-03-14
"""


async def test_withdraw_cancels_the_date_and_tells_the_editors(harness: Harness) -> None:
    await harness.start_from(APPROVED)
    out = await harness.run("alice: /withdraw")
    assert "[private to alice] Intent withdrawn" in out
    assert "[#review] Essay 1 withdrawn" in out
    assert "and its arranged date." in out
    assert "#3 (edited) [#review] Essay 1: Good data engineers are lazy" in out
    assert "Status: withdrawn" in out
    out = await harness.run("clock: +2m\nalice: /submit https://example.com/again")
    assert "You have no active Intent to Submit" in out


async def test_status_shows_a_participant_their_essay_and_editors_the_dashboard(harness: Harness) -> None:
    await harness.run(APPROVED + "bob: /intent title:Busy")
    out = await harness.run("alice: /symposium status")
    assert "Your intent: Good data engineers are lazy" in out
    assert "Essay 1: revision 1, approved" in out
    assert "Arranged date: Tue 2023-03-14 09:00 UTC" in out
    assert "Editors' dashboard" not in out
    out = await harness.run("erin: /symposium status")
    assert "Intents: 2 active, 0 withdrawn" in out
    assert "Essay 1 “Good data engineers are lazy” scheduled Tue 2023-03-14 09:00 UTC" in out


async def test_extend_moves_one_writers_due_date_and_reminders(harness: Harness, engine: AsyncEngine) -> None:
    await harness.run(OPEN + "\nbob: /intent title:Busy")
    out = await harness.run("erin: /symposium extend user:@bob due:2023-03-20")
    assert "[DM bob] More time for “Busy”" in out
    assert "Mon 2023-03-20 23:59 UTC" in out
    async with engine.connect() as conn:
        keys = (
            (await conn.execute(select(OutboxRow.dedupe_key).where(OutboxRow.dedupe_key.like("rem:%:dues:%"))))
            .scalars()
            .all()
        )
    assert any(":202303202359:" in k for k in keys)  # bob's deadline has its reminders planned
    assert "[DM bob] Reminder" not in await harness.run("clock: 2023-03-04T00:00+00:00")  # 7 days before the 10th
    out = await harness.run("clock: 2023-03-14T00:00+00:00")  # 7 days before his
    assert "[DM bob] Reminder: your essay" in out
    assert "Mon 2023-03-20 23:59 UTC" in out


async def test_notify_reaches_every_active_intent_privately(harness: Harness) -> None:
    await harness.run(OPEN + "\nalice: /intent title:A\nbob: /intent title:B\ncarol: /intent title:C\ncarol: /withdraw")
    out = await harness.run("erin: /symposium notify text:Drafts welcome early!")
    assert "On its way to 2 participants" in out
    assert sorted(b.split("]")[0] for b in blocks(out) if "From the editors" in b) == ["[DM alice", "[DM bob"]


async def test_export_sends_a_csv_privately_with_formulas_defused(harness: Harness, engine: AsyncEngine) -> None:
    await harness.run(
        OPEN + '\nalice: /intent title:=HYPERLINK("http://evil") affiliation:Acme\nalice: /submit https://x.example/a'
    )
    out = await harness.run("erin: /symposium export")
    assert "[DM erin] Export of Is the orchestrator dead or alive?" in out
    assert "[file is-the-orchestrator-dead-or-alive-2023-export.csv" in out
    async with engine.connect() as conn:
        payloads = (
            (await conn.execute(select(OutboxRow.payload).where(OutboxRow.user_id == "erin", OutboxRow.op == "dm")))
            .scalars()
            .all()
        )
    files = {
        m.attachment.filename: m.attachment.content
        for m in map(load_message, (p["message"] for p in payloads))
        if m.attachment
    }
    csv_text = files["is-the-orchestrator-dead-or-alive-2023-export.csv"]
    assert "Acme" in csv_text
    assert "'=HYPERLINK" in csv_text
    history = files["is-the-orchestrator-dead-or-alive-2023-history.csv"]
    assert "erin,open,opened the symposium" in history
    assert 'alice,submit,"submitted (essay 1, revision 1)"' in history


async def test_editors_are_added_and_removed_by_admins_only(harness: Harness, engine: AsyncEngine) -> None:
    await harness.start_from(OPEN)
    assert "Only workspace admins" in await harness.run("alice: /symposium editors add:@bob")
    assert "bob is now an editor" in await harness.run("erin: /symposium editors add:@bob")
    await harness.run("carol: /intent title:C\ncarol: /submit https://x.example/c")
    assert "approved by bob" in await harness.run("bob: react ✅ last")
    assert "no longer an editor" in await harness.run("erin: /symposium editors remove:@bob")
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(Editor))).scalar_one() == 0


async def test_reminders_off_stops_private_reminders(harness: Harness) -> None:
    await harness.run(OPEN + "\nalice: /intent title:A\nbob: /intent title:B")
    assert "Reminders: off" in await harness.run("alice: /symposium reminders off")
    out = await harness.run("clock: 2023-03-10T12:00+00:00")
    assert "[DM bob] Reminder" in out
    assert "[DM alice] Reminder" not in out


async def test_edit_tells_each_active_participant_once_and_check_reports(harness: Harness) -> None:
    await harness.run(OPEN + "\nalice: /intent title:A")
    out = await harness.run("erin: /symposium edit due:2023-03-12 publish_from:2023-03-14")
    dms = [b for b in blocks(out) if b.startswith("[DM alice] Dates changed")]
    assert len(dms) == 1
    assert "Essays due Sun 2023-03-12 23:59 UTC" in dms[0]
    out = await harness.run("erin: /symposium check")
    assert "✓ post" in out
    assert "Direct messages: ✓ works" in out


async def test_close_cancels_reminders_posts_a_roundup_and_keeps_the_index(
    harness: Harness, engine: AsyncEngine
) -> None:
    await harness.run(APPROVED + "erin: /symposium publish essay:1 url:https://host.example/lazy")
    out = await harness.run("clock: +2m\nerin: /symposium close")
    assert "[#general] Is the orchestrator dead or alive? is closed: thank you!" in out
    assert "By route: 1 published by the host, 0 cross-posted." in out
    async with engine.connect() as conn:
        pending = (
            await conn.execute(
                select(func.count())
                .select_from(OutboxRow)
                .where(OutboxRow.status == "pending", OutboxRow.dedupe_key.like("rem:%"))
            )
        ).scalar_one()
    assert pending == 0
    assert "Good data engineers are lazy" in await harness.run("bob: /essays")
    late = await harness.run("bob: /intent title:Late")
    assert "No call is open here: “Is the orchestrator dead or alive?”" in late
    assert "/symposium reopen" in late


async def test_suggestions_for_autocomplete(harness: Harness) -> None:
    await harness.run(OPEN + "\nalice: /intent title:Lazy\nalice: /submit https://x.example/a")
    erin, alice = harness.platform.person("erin"), harness.platform.person("alice")
    assert await harness.bot.suggest(alice, "prompt", "sched") == [("3: Is it a scheduler?", "3")]
    assert await harness.bot.suggest(erin, "essay", "") == [("1: Lazy (waiting for review)", "1")]
    assert await harness.bot.suggest(alice, "essay", "") == []
    assert await harness.bot.suggest(alice, "symposium", "orch") == [
        (
            "Is the orchestrator dead or alive? (is-the-orchestrator-dead-or-alive-2023)",
            "is-the-orchestrator-dead-or-alive-2023",
        )
    ]
