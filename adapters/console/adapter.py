"""The local chat: `<user>: <text>` lines in, numbered bot messages out, on a real or simulated clock."""

import itertools
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from adapters.console.render import render
from bot.clock import Clock, SimulatedClock
from bot.commands import Actor
from bot.core import SymposiumBot
from bot.grammar import OptionSpec
from bot.inbox import Arrival, Kind
from bot.messages import Message
from bot.ports import Attempt, ChannelCheck

COMMUNITY = "console"
DEFAULT_CHANNEL = "general"
_LINE = re.compile(r"^(?P<user>[\w.-]+)(?: in #(?P<channel>[\w-]+))?:\s*(?P<text>.*)$")
_REACT = re.compile(r"^(?P<verb>react|unreact)\s+(?P<emoji>\S+)\s+(?P<target>#\d+|last)$")
_DELTA = re.compile(r"^\+(\d+)([dhm])$")


class ConsolePlatform:
    """Prints what the bot sends. Channel messages are numbered so people can react to them."""

    name = "console"
    index_page_chars = 3500

    def __init__(self, clock: Clock, write: Callable[[str], None], editors: set[str] | None = None) -> None:
        self.clock, self.write = clock, write
        self.editors = editors if editors is not None else set()
        self.posted: dict[int, tuple[str, Message]] = {}

    def show(self, head: str, message: Message) -> None:
        first, *rest = render(message, self.clock.now()) or [""]
        self.write(f"{head} {first}")
        for line in rest:
            self.write(f"    {line}")

    async def post(self, community: str, channel: str, message: Message, attempt: Attempt) -> str:
        number = len(self.posted) + 1
        self.posted[number] = (channel, message)
        self.show(f"#{number} [#{channel}]", message)
        return str(number)

    async def edit(self, community: str, channel: str, ref: str, message: Message) -> None:
        self.posted[int(ref)] = (channel, message)
        self.show(f"#{ref} (edited) [#{channel}]", message)

    async def pin(self, community: str, channel: str, ref: str) -> None:
        self.write(f"#{ref} pinned in #{channel}")

    async def unpin(self, community: str, channel: str, ref: str) -> None:
        self.write(f"#{ref} unpinned in #{channel}")

    async def add_reactions(self, community: str, channel: str, ref: str, emojis: tuple[str, ...]) -> None:
        self.write(f"#{ref} reactions added: {' '.join(emojis)}")

    async def reply_in_thread(self, community: str, channel: str, ref: str, message: Message, attempt: Attempt) -> str:
        number = len(self.posted) + 1
        self.posted[number] = (channel, message)
        self.show(f"#{number} [#{channel}, thread of #{ref}]", message)
        return str(number)

    async def direct_message(self, community: str, user_id: str, message: Message, attempt: Attempt) -> None:
        self.show(f"[DM {user_id}]", message)

    async def reply(self, community: str, handle: dict[str, Any], message: Message) -> None:
        self.show(f"[private to {handle['user']}]", message)

    async def check_channel(self, community: str, channel: str) -> ChannelCheck:
        return ChannelCheck(channel, works=("post", "edit", "pin", "react", "thread"))

    async def check_direct_message(self, community: str, user_id: str) -> str | None:
        return None

    async def actor(self, community: str, user_id: str, facts: dict[str, Any]) -> Actor | None:
        return self.person(user_id, community)

    def person(self, user_id: str, community: str = COMMUNITY) -> Actor:
        """Console editors (`--editors`) are editors and admins; everyone else takes part."""
        editor = user_id in self.editors
        return Actor(community=community, user_id=user_id, name=user_id, is_admin=editor, holds_editor_role=editor)

    def normalize(self, option: OptionSpec, value: str) -> str:
        """Console users are written @name and channels #name; the core wants bare ids."""
        if option.kind == "user":
            return value.removeprefix("@")
        if option.kind == "channel":
            return value.removeprefix("#")
        return value

    def newest_card(self) -> int | None:
        cards = [n for n, (_, message) in self.posted.items() if message.tag == "card"]
        return max(cards, default=None)


class ConsoleSession:
    """Runs console lines against the core; see SPEC §5 for the line forms. Each line goes through the inbox as
    a platform's request would, then what it made due is delivered, in order."""

    def __init__(self, bot: SymposiumBot, platform: ConsolePlatform, clock: Clock) -> None:
        self.bot, self.platform, self.clock = bot, platform, clock
        self._ids = itertools.count(1)

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
            await self.command(user, text, channel)
        if isinstance(self.clock, SimulatedClock):
            await self.bot.deliver()  # the simulated clock moves only with `clock:` lines, which tick
        else:
            await self.bot.tick()  # on the real clock, each line is also when the console looks at the time

    async def command(self, user: str, text: str, channel: str = DEFAULT_CHANNEL) -> None:
        """One command line, handled (its private answer printed); what else it causes waits in the outbox."""
        await self._arrive(user, Kind.COMMAND, {"text": text, "channel": channel})

    async def _arrive(self, user: str, kind: Kind, body: dict[str, Any]) -> None:
        key = f"console:{self.bot.started_at.timestamp():.0f}:{next(self._ids)}"
        arrival = Arrival(key, COMMUNITY, user, kind, body, reply={"user": user})
        await self.bot.handle(await self.bot.receive(arrival))

    async def _react(self, user: str, added: bool, emoji: str, target: str) -> None:
        number = self.platform.newest_card() if target == "last" else int(target.lstrip("#"))
        if number is None or number not in self.platform.posted:
            self.platform.write(f"(console) there is no message {target} to react to")
            return
        channel, _ = self.platform.posted[number]
        await self._arrive(
            user, Kind.REACTION, {"channel": channel, "ref": str(number), "emoji": emoji, "added": added}
        )

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
