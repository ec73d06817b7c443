"""The local chat: `<user>: <text>` lines in, numbered bot messages out, on a real or simulated clock."""

import re
from collections.abc import Callable
from datetime import datetime, timedelta

from adapters.console.render import render
from bot.clock import Clock, SimulatedClock
from bot.commands import Actor, Origin, ReactOnCard
from bot.core import SymposiumBot, error_reply
from bot.errors import UserError
from bot.grammar import OptionSpec, parse
from bot.messages import Message
from bot.ports import ChannelCheck

COMMUNITY = "console"
DEFAULT_CHANNEL = "general"
_LINE = re.compile(r"^(?P<user>[\w.-]+)(?: in #(?P<channel>[\w-]+))?:\s*(?P<text>.*)$")
_REACT = re.compile(r"^(?P<verb>react|unreact)\s+(?P<emoji>\S+)\s+(?P<target>#\d+|last)$")
_DELTA = re.compile(r"^\+(\d+)([dhm])$")


class ConsolePlatform:
    """Prints what the bot sends. Channel messages are numbered so people can react to them."""

    name = "console"
    index_page_chars = 3500

    def __init__(self, clock: Clock, write: Callable[[str], None]) -> None:
        self.clock, self.write = clock, write
        self.posted: dict[int, tuple[str, Message]] = {}

    def show(self, head: str, message: Message) -> None:
        first, *rest = render(message, self.clock.now()) or [""]
        self.write(f"{head} {first}")
        for line in rest:
            self.write(f"    {line}")

    async def post(self, channel: str, message: Message) -> str:
        number = len(self.posted) + 1
        self.posted[number] = (channel, message)
        self.show(f"#{number} [#{channel}]", message)
        return str(number)

    async def edit(self, channel: str, ref: str, message: Message) -> None:
        self.posted[int(ref)] = (channel, message)
        self.show(f"#{ref} (edited) [#{channel}]", message)

    async def pin(self, channel: str, ref: str) -> None:
        self.write(f"#{ref} pinned in #{channel}")

    async def unpin(self, channel: str, ref: str) -> None:
        self.write(f"#{ref} unpinned in #{channel}")

    async def add_reactions(self, channel: str, ref: str, emojis: tuple[str, ...]) -> None:
        self.write(f"#{ref} reactions added: {' '.join(emojis)}")

    async def reply_in_thread(self, channel: str, ref: str, message: Message) -> str:
        number = len(self.posted) + 1
        self.posted[number] = (channel, message)
        self.show(f"#{number} [#{channel}, thread of #{ref}]", message)
        return str(number)

    async def direct_message(self, user_id: str, message: Message) -> None:
        self.show(f"[DM {user_id}]", message)

    async def check_channel(self, channel: str) -> ChannelCheck:
        return ChannelCheck(channel, works=("post", "edit", "pin", "react", "thread"))

    async def check_direct_message(self, user_id: str) -> str | None:
        return None

    def newest_card(self) -> int | None:
        cards = [n for n, (_, message) in self.posted.items() if message.tag == "card"]
        return max(cards, default=None)


class ConsoleSession:
    """Runs console lines against the core; see SPEC §5 for the line forms."""

    def __init__(self, bot: SymposiumBot, platform: ConsolePlatform, clock: Clock, editors: set[str]) -> None:
        self.bot, self.platform, self.clock, self.editors = bot, platform, clock, editors

    def actor(self, user: str) -> Actor:
        editor = user in self.editors
        return Actor(community=COMMUNITY, user_id=user, name=user, is_admin=editor, holds_editor_role=editor)

    async def run_line(self, raw: str) -> None:
        line = raw.strip()
        if not line or line.startswith("#"):
            return
        if line.startswith("clock:"):
            await self.move_clock(line.removeprefix("clock:").strip())
            return
        match = _LINE.match(line)
        if match is None:
            self.platform.write(f"(console) I can't read “{line}”: write <user>: <text>, or clock: +2d")
            return
        user, text = match["user"], match["text"].strip()
        channel = match["channel"] or DEFAULT_CHANNEL
        if react := _REACT.match(text):
            await self._react(user, react["verb"] == "react", react["emoji"], react["target"])
        elif text.startswith("/"):
            await self._command(user, channel, text)
        await self.bot.tick()

    async def _command(self, user: str, channel: str, text: str) -> None:
        actor = self.actor(user)
        try:
            command = parse(text, actor, Origin(channel=channel), normalize=_normalize)
        except UserError as exc:
            self.platform.show(f"[private to {user}]", error_reply(*exc.parts))
            return
        self.platform.show(f"[private to {user}]", await self.bot.handle(command))

    async def _react(self, user: str, added: bool, emoji: str, target: str) -> None:
        number = self.platform.newest_card() if target == "last" else int(target.lstrip("#"))
        if number is None or number not in self.platform.posted:
            self.platform.write(f"(console) there is no message {target} to react to")
            return
        channel, _ = self.platform.posted[number]
        reply = await self.bot.react(
            ReactOnCard(actor=self.actor(user), channel=channel, message_ref=str(number), emoji=emoji, added=added)
        )
        if reply is not None:
            self.platform.show(f"[private to {user}]", reply)

    async def move_clock(self, spec: str) -> None:
        """Move the simulated clock, stepping through everything that falls due on the way, in order."""
        if not isinstance(self.clock, SimulatedClock):
            self.platform.write("(console) the clock only moves with --clock simulated")
            return
        if match := _DELTA.match(spec):
            amount, unit = int(match[1]), match[2]
            target = self.clock.now() + timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: amount})
        else:
            try:
                target = datetime.fromisoformat(spec)
            except ValueError:
                self.platform.write(f"(console) I can't read the time “{spec}”: use +2d, +3h, +30m or an ISO time")
                return
            if target.tzinfo is None:
                self.platform.write("(console) give the time with its offset, like 2023-03-01T09:00+00:00")
                return
        while self.clock.now() < target:
            due = await self.bot.next_due()
            step = min(due, target) if due else target
            self.clock.set(step)
            await self.bot.tick()
        self.platform.write(f"(clock) {self.clock.now():%a %Y-%m-%d %H:%M} UTC")


def _normalize(option: OptionSpec, value: str) -> str:
    """Console users are written @name and channels #name; the core wants bare ids."""
    if option.kind == "user":
        return value.removeprefix("@")
    if option.kind == "channel":
        return value.removeprefix("#")
    return value
