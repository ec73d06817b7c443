"""Slack requests into the core: slash commands, the /intent form, reactions on review cards and buttons.

Each listener records what arrived in the core's inbox (one short insert, bounded), acknowledges, and hands the
handling to AfterAck, so Slack has its answer within 3 seconds whatever the database is doing and a request
acknowledged is never lost: if the bot stops before handling it, it is handled on the next start. The answer
goes privately to the request's response_url (a reaction's as an ephemeral message). A redelivered event or a
replayed command carries the same `event_id`/`trigger_id` and is recognised by the inbox; nothing is dropped
by its X-Slack-Retry-Num header. A button press (an `actions` block from render.py) goes the same way as a
command, keyed by its `action_ts` and presser, and is answered through its response_url. Only a form submission
waits for the core (FORM_WAIT_SECONDS at most), so that a refusal can be shown under the field it concerns.
"""

import asyncio
import hashlib
import json
import logging
import re
from datetime import timedelta
from typing import Any

from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import forms
from adapters.slack.after_ack import AfterAck
from adapters.slack.render import ACTION_PREFIX
from adapters.slack.sender import SlackPlatform
from bot.core import SymposiumBot, error_reply
from bot.inbox import Arrival, Kind
from bot.messages import Message, plain_part

log = logging.getLogger(__name__)

COMMANDS = ("/intent", "/submit", "/withdraw", "/essays", "/symposium")
FORM_WAIT_SECONDS = 2.0  # how long a form submission waits for the core, inside Slack's 3 s for the ack
RESPONSE_URL_LIVES = timedelta(minutes=30)  # Slack: a response_url works for 30 minutes (up to five answers)


def _digest(values: dict[str, str]) -> str:
    """A form submission's fingerprint: a replayed request repeats it, a corrected resubmission does not."""
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


def register(app: AsyncApp, bot: SymposiumBot, platform: SlackPlatform, after_ack: AfterAck) -> None:
    """Attach the listeners."""

    def answer(url: str | None) -> tuple[dict[str, Any] | None, Any]:
        """A reply handle for a response_url, and until when it works."""
        return ({"response_url": url}, bot.clock.now() + RESPONSE_URL_LIVES) if url else (None, None)

    async def on_command(ack: AsyncAck, command: dict[str, str], client: AsyncWebClient) -> None:
        if command["command"] == "/intent" and not command.get("text", "").strip():
            await ack()
            after_ack.start(open_form(client, command), now=True)
            return
        reply, until = answer(command.get("response_url"))
        ticket = await bot.receive(
            Arrival(
                key=f"slack:{command['team_id']}:{command.get('trigger_id') or command.get('response_url')}",
                community=command["team_id"],
                user_id=command["user_id"],
                kind=Kind.COMMAND,
                body={"text": f"{command['command']} {command.get('text', '')}", "channel": command["channel_id"]},
                reply=reply,
                reply_until=until,
            )
        )
        await ack()
        after_ack.start(bot.handle(ticket))

    async def open_form(client: AsyncWebClient, command: dict[str, str]) -> None:
        """The empty /intent form; the trigger_id it needs lives 3 seconds, so nothing else comes first."""
        view = forms.intent_modal(command["channel_id"], command.get("response_url", ""))
        try:
            await client.views_open(trigger_id=command["trigger_id"], view=view)
        except SlackApiError as exc:
            log.warning("views.open failed: %s", exc.response.get("error"))
            reply, _ = answer(command.get("response_url"))
            if reply is not None:
                failed = error_reply("I couldn't open the form: type /intent title:<working title> instead.")
                await platform.reply(command["team_id"], reply, failed)

    async def on_intent_form(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Wait briefly for the core, so a refusal can be shown in the form itself; else answer privately."""
        values, metadata = forms.submitted(view)
        team = body["user"].get("team_id") or body["team"]["id"]
        reply, until = answer(metadata.get("response_url"))
        ticket = await bot.receive(
            Arrival(
                key=f"slack:{team}:view:{body.get('trigger_id')}:{_digest(values)}",
                community=team,
                user_id=body["user"]["id"],
                kind=Kind.FORM,
                body={"command": forms.INTENT.path, "values": values, "channel": metadata.get("channel", "")},
                reply=reply,
                reply_until=until,
            )
        )
        waiting = True
        shown: list[Message] = []

        def inline(message: Message) -> bool:
            """Errors shown under the form's fields while Slack still waits for the ack; the rest by reply."""
            if waiting and message.tag == "error":
                shown.append(message)
                return True
            return False

        work = asyncio.ensure_future(bot.handle(ticket, inline=inline))
        await asyncio.wait({work}, timeout=FORM_WAIT_SECONDS)
        waiting = False
        if shown:
            text = " ".join("".join(plain_part(p) for p in line.parts) for line in shown[0].lines)
            await ack(response_action="errors", errors=forms.field_errors(text))
            return
        await ack()
        after_ack.keep(work)

    async def on_reaction(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext) -> None:
        """Only ✅ ❌ ✏️ by people on messages can decide anything; bolt acknowledges when this returns."""
        item = event.get("item") or {}
        user = event.get("user")
        if item.get("type") != "message" or user in (None, context.bot_user_id):
            return
        if not bot.heeds(str(event.get("reaction", ""))):
            return
        team = body.get("team_id") or context.team_id or ""
        ticket = await bot.receive(
            Arrival(
                key=f"slack:{team}:{body.get('event_id') or event.get('event_ts')}",
                community=team,
                user_id=str(user),
                kind=Kind.REACTION,
                body={
                    "channel": item["channel"],
                    "ref": item["ts"],
                    "emoji": event["reaction"],
                    "added": event["type"] == "reaction_added",
                },
                reply={"ephemeral": {"channel": item["channel"], "user": user}},
            )
        )
        after_ack.start(bot.handle(ticket))

    async def on_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        """A pressed button: recorded, acknowledged, then run as its command; the answer goes privately to the
        presser through the response_url (or as an ephemeral message in the channel when there is none)."""
        team = body["user"].get("team_id") or (body.get("team") or {}).get("id") or ""
        user = body["user"]["id"]
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or ""
        reply, until = answer(body.get("response_url"))
        if reply is None and channel:
            reply = {"ephemeral": {"channel": channel, "user": user}}
        ticket = await bot.receive(
            Arrival(
                key=f"slack:{team}:action:{action.get('action_ts')}:{user}",
                community=team,
                user_id=user,
                kind=Kind.ACTION,
                body={"action": action.get("action_id", ""), "value": action.get("value", ""), "channel": channel},
                reply=reply,
                reply_until=until,
            )
        )
        await ack()
        after_ack.start(bot.handle(ticket))

    for name in COMMANDS:
        app.command(name)(on_command)
    app.view(forms.CALLBACK_ID)(on_intent_form)
    app.action(re.compile("^" + re.escape(ACTION_PREFIX)))(on_button)
    app.event("reaction_added")(on_reaction)
    app.event("reaction_removed")(on_reaction)
