"""Test doubles shared by tests and benchmarks: a platform that draws nothing, and requests sent through the
core's inbox as an adapter sends them."""

import itertools
from typing import Any

from bot.commands import Actor
from bot.core import SymposiumBot
from bot.grammar import OptionSpec
from bot.inbox import Arrival, Kind
from bot.messages import Message
from bot.ports import Attempt, ChannelCheck

_keys = itertools.count(1)


class SilentPlatform:
    """A platform that draws nothing: every post gets the next ref, every check says everything works, and the
    people it is asked about are who `people` says (editors as admins)."""

    name = "bench"
    index_page_chars = 3500

    def __init__(self, people: dict[str, Actor] | None = None) -> None:
        self.people = people if people is not None else {}
        self._refs = itertools.count(1)

    def _next(self) -> str:
        return str(next(self._refs))

    async def post(self, community: str, channel: str, message: Message, attempt: Attempt) -> str:
        return self._next()

    async def edit(self, community: str, channel: str, ref: str, message: Message) -> None:
        return None

    async def pin(self, community: str, channel: str, ref: str) -> None:
        return None

    async def unpin(self, community: str, channel: str, ref: str) -> None:
        return None

    async def add_reactions(self, community: str, channel: str, ref: str, emojis: tuple[str, ...]) -> None:
        return None

    async def reply_in_thread(self, community: str, channel: str, ref: str, message: Message, attempt: Attempt) -> str:
        return self._next()

    async def direct_message(self, community: str, user_id: str, message: Message, attempt: Attempt) -> None:
        return None

    async def reply(self, community: str, handle: dict[str, Any], message: Message) -> None:
        return None

    async def check_channel(self, community: str, channel: str) -> ChannelCheck:
        return ChannelCheck(channel, works=("post", "edit", "pin", "react", "thread"))

    async def check_direct_message(self, community: str, user_id: str) -> str | None:
        return None

    async def actor(self, community: str, user_id: str, facts: dict[str, Any]) -> Actor | None:
        return self.people.get(user_id) or Actor(community=community, user_id=user_id, name=user_id)

    def normalize(self, option: OptionSpec, value: str) -> str:
        return value.removeprefix("#") if option.kind == "channel" else value.removeprefix("@")


async def ask(bot: SymposiumBot, actor: Actor, line: str, channel: str = "general") -> Message | None:
    """A command line through the inbox, as an adapter sends it; returns the private reply."""
    arrival = Arrival(
        f"bench:{next(_keys)}", actor.community, actor.user_id, Kind.COMMAND, {"text": line, "channel": channel}
    )
    return await bot.handle(await bot.receive(arrival))


async def react(bot: SymposiumBot, actor: Actor, channel: str, ref: str, emoji: str = "✅") -> Message | None:
    body = {"channel": channel, "ref": ref, "emoji": emoji, "added": True}
    arrival = Arrival(f"bench:{next(_keys)}", actor.community, actor.user_id, Kind.REACTION, body)
    return await bot.handle(await bot.receive(arrival))
