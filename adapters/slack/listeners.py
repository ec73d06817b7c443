"""Slack requests into core commands: slash commands, the /intent form and reactions on review cards.

Every listener acknowledges and returns before any database work, handing that work to AfterAck, so Slack has
its answer within 3 seconds whatever the database is doing; the reply then goes privately to the request's
response_url. Redelivered events are not dropped by their X-Slack-Retry-Num header: the core records each
event_id with the change it causes. Only a form submission waits for the core (FORM_WAIT_SECONDS at most), so
that a refusal can be shown under the field it concerns.
"""

import asyncio
import logging
import re
from typing import Any

from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack import forms
from adapters.slack.after_ack import AfterAck
from adapters.slack.people import People
from adapters.slack.render import render
from bot.commands import Actor, Origin, ReactOnCard
from bot.core import SymposiumBot, error_reply
from bot.errors import UserError
from bot.grammar import OptionSpec, build, parse
from bot.messages import Message, plain_part

log = logging.getLogger(__name__)

COMMANDS = ("/intent", "/submit", "/withdraw", "/essays", "/symposium")
FORM_WAIT_SECONDS = 2.0  # how long a form submission waits for the core, inside Slack's 3 s for the ack
WHO_FAILED = "Slack did not tell me who you are just now, so nothing was changed. Please try again in a moment."

_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#([CGD][A-Z0-9]+)(?:\|([^>]*))?>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]*)(?:\|[^>]*)?>")
_SPECIAL = re.compile(r"<!([a-z]+)(?:\^[^|>]*)?(?:\|([^>]*))?>")


def normalize(option: OptionSpec, value: str) -> str:
    """Slack's escaped text to what the user meant: ids for user, channel and link options, literal text else.

    Slack sends `<@U1|ann>`, `<#C1|essays>`, `<https://x|x>` and `<!here>` for what was typed as `@ann`,
    `#essays`, a link and `@here`, and `&amp;`, `&lt;`, `&gt;` for `&`, `<`, `>`.
    """
    pattern = {"user": _USER, "channel": _CHANNEL, "link": _LINK}.get(option.kind)
    if pattern is not None and (match := pattern.search(value)):
        return _unescape(match[1])
    literal = _USER.sub(lambda m: "@" + (m[2] or m[1]), value)
    literal = _CHANNEL.sub(lambda m: "#" + (m[2] or m[1]), literal)
    literal = _LINK.sub(lambda m: m[1], literal)
    literal = _SPECIAL.sub(lambda m: m[2] if m[2] is not None else "@" + m[1], literal)
    return _unescape(literal)


def _unescape(text: str) -> str:
    """Slack escapes only these three (`&amp;` last, so `&amp;lt;` stays the literal `&lt;`)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def register(app: AsyncApp, bot: SymposiumBot, people: People, after_ack: AfterAck) -> None:
    """Attach the listeners; `people` turns Slack users into the core's Actor facts."""

    async def reply(response_url: str | None, message: Message) -> None:
        if not response_url:
            log.warning("no response_url to answer with: %s", message.plain()[:200])
            return
        blocks, text = render(message, bot.clock.now())
        sent = await AsyncWebhookClient(response_url).send(
            text=text, blocks=blocks, response_type="ephemeral", replace_original=False
        )
        if sent.status_code != 200:
            log.warning("response_url answered %s: %s", sent.status_code, sent.body[:200])

    async def actor(community: str, user_id: str) -> Actor | None:
        try:
            return await people.actor(community, user_id)
        except SlackApiError as exc:
            log.warning("users.info failed for %s: %s", user_id, exc.response.get("error"))
            return None

    async def run_command(command: dict[str, str]) -> Message:
        who = await actor(command["team_id"], command["user_id"])
        if who is None:
            return error_reply(WHO_FAILED)
        line = f"{command['command']} {command.get('text', '')}"
        try:
            parsed = parse(line, who, Origin(channel=command["channel_id"]), normalize)
        except UserError as exc:
            return error_reply(*exc.parts)
        return await bot.handle(parsed)

    async def answer(command: dict[str, str]) -> None:
        await reply(command.get("response_url"), await run_command(command))

    async def on_command(ack: AsyncAck, command: dict[str, str], client: AsyncWebClient) -> None:
        await ack()
        if command["command"] == "/intent" and not command.get("text", "").strip():
            after_ack.start(open_form(client, command), now=True)
        else:
            after_ack.start(answer(command))

    async def open_form(client: AsyncWebClient, command: dict[str, str]) -> None:
        """The empty /intent form; the trigger_id it needs lives 3 seconds, so nothing else comes first."""
        view = forms.intent_modal(command["channel_id"], command.get("response_url", ""))
        try:
            await client.views_open(trigger_id=command["trigger_id"], view=view)
        except SlackApiError as exc:
            log.warning("views.open failed: %s", exc.response.get("error"))
            failed = error_reply("I couldn't open the form: type /intent title:<working title> instead.")
            await reply(command.get("response_url"), failed)

    async def declare_from_form(body: dict[str, Any], values: dict[str, str], channel: str) -> Message:
        who = await actor(body["user"].get("team_id") or body["team"]["id"], body["user"]["id"])
        if who is None:
            return error_reply(WHO_FAILED)
        try:
            command = build(forms.INTENT, values, who, Origin(channel=channel))
        except UserError as exc:
            return error_reply(*exc.parts)
        return await bot.handle(command)

    async def reply_when_done(response_url: str | None, work: "asyncio.Future[Message]") -> None:
        await reply(response_url, await work)

    async def on_intent_form(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Wait briefly for the core, so a refusal can be shown in the form itself; else answer privately."""
        values, metadata = forms.submitted(view)
        work = asyncio.ensure_future(declare_from_form(body, values, metadata.get("channel", "")))
        done, _ = await asyncio.wait({work}, timeout=FORM_WAIT_SECONDS)
        if work in done and (result := work.result()).tag == "error":
            text = " ".join("".join(plain_part(p) for p in line.parts) for line in result.lines)
            await ack(response_action="errors", errors=forms.field_errors(text))
            return
        await ack()
        after_ack.start(reply_when_done(metadata.get("response_url"), work), now=True)

    async def on_reaction(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext) -> None:
        """Bolt acknowledges the event when this returns; the decision is made after."""
        item = event.get("item") or {}
        if item.get("type") == "message" and event.get("user") not in (None, context.bot_user_id):
            after_ack.start(react(event, body.get("team_id") or context.team_id or "", body.get("event_id")))

    async def react(event: dict[str, Any], community: str, event_id: str | None) -> None:
        item, who = event["item"], await actor(community, event["user"])
        if who is None:
            return
        reaction = ReactOnCard(
            actor=who,
            channel=item["channel"],
            message_ref=item["ts"],
            emoji=event["reaction"],
            added=event["type"] == "reaction_added",
            event_id=event_id,
        )
        note = await bot.react(reaction)
        if note is not None:
            blocks, text = render(note, bot.clock.now())
            try:
                await app.client.chat_postEphemeral(
                    channel=item["channel"], user=event["user"], text=text, blocks=blocks
                )
            except SlackApiError as exc:
                log.warning("could not tell %s privately: %s", event["user"], exc.response.get("error"))

    for name in COMMANDS:
        app.command(name)(on_command)
    app.view(forms.CALLBACK_ID)(on_intent_form)
    app.event("reaction_added")(on_reaction)
    app.event("reaction_removed")(on_reaction)
