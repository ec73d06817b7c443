"""The command catalogue of SPEC §3 and the `name:value` text grammar used by Slack and the console.

A value runs until the next ` name:` where `name` is an option of this command not yet given; a value in
double quotes is taken literally. Text before the first option fills the command's first option.
"""

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass

from bot import commands as c
from bot.errors import BadOption, UnknownCommand


@dataclass(frozen=True)
class OptionSpec:
    name: str
    help: str
    kind: str
    required: bool

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(self.kind.removeprefix("choice:").split("|")) if self.kind.startswith("choice:") else ()


@dataclass(frozen=True)
class CommandSpec:
    path: str
    command: type[c.Command]
    help: str
    editor: bool = False
    required: tuple[str, ...] = ()
    positional: str | None = None
    platforms: tuple[str, ...] | None = None
    """Where the command exists, when not everywhere (editors are a Discord role, so no `editors` there)."""

    @property
    def options(self) -> tuple[OptionSpec, ...]:
        specs = [
            OptionSpec(f.name, f.metadata["help"], f.metadata["kind"], f.name in self.required)
            for f in dataclasses.fields(self.command)
            if "help" in f.metadata and f.name != "symposium"
        ]
        symposium = next(f for f in dataclasses.fields(self.command) if f.name == "symposium")
        return (*specs, OptionSpec("symposium", symposium.metadata["help"], "text", False))

    @property
    def usage(self) -> str:
        shown = [o.name + ":…" if o.required else f"[{o.name}:…]" for o in self.options if o.name != "symposium"]
        return " ".join(["/" + self.path, *shown])


_OPEN_REQUIRED = ("title", "prompt", "intent_deadline", "due", "publish_from", "publish_to", "review_channel")

CATALOGUE: tuple[CommandSpec, ...] = (
    CommandSpec("intent", c.DeclareIntent, "declare or update your Intent to Submit", positional="title"),
    CommandSpec("submit", c.Submit, "submit your essay's link (or give the live link with live:)", positional="url"),
    CommandSpec("withdraw", c.Withdraw, "withdraw your intent and any pending submission"),
    CommandSpec("essays", c.ShowEssays, "the Essay Index as it stands"),
    CommandSpec("symposium status", c.ShowStatus, "your intent, submission, decision and next deadline"),
    CommandSpec(
        "symposium reminders",
        c.SetReminders,
        "turn your private reminders on or off",
        required=("state",),
        positional="state",
    ),
    CommandSpec("symposium help", c.ShowHelp, "the commands you can use here"),
    CommandSpec(
        "symposium open",
        c.OpenSymposium,
        "open a new call for essays",
        editor=True,
        required=_OPEN_REQUIRED,
        positional="title",
    ),
    CommandSpec("symposium edit", c.EditSymposium, "change a symposium's details or dates", editor=True),
    CommandSpec("symposium check", c.CheckChannels, "check the bot can work in the symposium's channels", editor=True),
    CommandSpec(
        "symposium decide",
        c.Decide,
        "approve, decline or ask for changes, with a reason",
        editor=True,
        required=("essay", "decision"),
        positional="essay",
    ),
    CommandSpec(
        "symposium schedule",
        c.ScheduleEssay,
        "arrange an essay's publication (essay:auto spreads them)",
        editor=True,
        required=("essay",),
        positional="essay",
    ),
    CommandSpec(
        "symposium publish",
        c.PublishEssay,
        "announce an essay now",
        editor=True,
        required=("essay",),
        positional="essay",
    ),
    CommandSpec(
        "symposium comment",
        c.CommentEssay,
        "set or add running commentary on an essay",
        editor=True,
        required=("essay", "text"),
        positional="essay",
    ),
    CommandSpec(
        "symposium extend",
        c.Extend,
        "give one writer a later due date",
        editor=True,
        required=("user", "due"),
        positional="user",
    ),
    CommandSpec(
        "symposium notify",
        c.Notify,
        "message every participant with an active intent",
        editor=True,
        required=("text",),
        positional="text",
    ),
    CommandSpec("symposium export", c.Export, "a CSV of intents and submissions, sent to you privately", editor=True),
    CommandSpec(
        "symposium editors",
        c.ManageEditors,
        "add or remove an editor (admins)",
        editor=True,
        platforms=("slack", "console"),
    ),
    CommandSpec("symposium close", c.CloseSymposium, "close the symposium with a roundup", editor=True),
)
BY_PATH = {spec.path: spec for spec in CATALOGUE}

Normalizer = Callable[[OptionSpec, str], str]


def _keep(_: OptionSpec, value: str) -> str:
    return value


def parse(line: str, actor: c.Actor, origin: c.Origin, normalize: Normalizer = _keep) -> c.Command:
    """Parse `/command [sub] text` into a command; `normalize` turns platform forms (`<#C1|x>`) into ids."""
    words = line.strip().split(maxsplit=2)
    if not words or not words[0].startswith("/"):
        raise UnknownCommand("Commands start with /, for example /symposium help.")
    name = words[0][1:].lower()
    if name == "symposium":
        sub = words[1].lower() if len(words) > 1 else "help"
        path, text = f"symposium {sub}", words[2] if len(words) > 2 else ""
    else:
        path, text = name, line.strip()[len(words[0]) :]
    spec = BY_PATH.get(path)
    if spec is None:
        known = ", ".join("/" + s.path for s in CATALOGUE)
        raise UnknownCommand(f"I don't know /{path}. Commands: {known}.")
    return build(spec, parse_options(spec, text), actor, origin, normalize)


def build(
    spec: CommandSpec, values: dict[str, str], actor: c.Actor, origin: c.Origin, normalize: Normalizer = _keep
) -> c.Command:
    """Check presence and choices, then make the command. Adapters with typed options call this directly."""
    options = {o.name: o for o in spec.options}
    for name in values:
        if name not in options:
            raise BadOption(f"/{spec.path} has no option {name}. {_options_hint(spec)}")
    cleaned = {name: normalize(options[name], value.strip()) for name, value in values.items()}
    for option in spec.options:
        value = cleaned.get(option.name)
        if option.required and not value:
            raise BadOption(f"/{spec.path} needs {option.name}: ({option.help}). Usage: {spec.usage}")
        if value and option.choices and value.lower() not in option.choices:
            raise BadOption(f"{option.name} must be one of: {', '.join(option.choices)}.")
    given = {name: value for name, value in cleaned.items() if value != ""}
    return spec.command(actor=actor, origin=origin, **given)


def _options_hint(spec: CommandSpec) -> str:
    return f"Usage: {spec.usage}"


_WORD_OPTION = re.compile(r"^([a-z][a-z_]*):(?!//)")


def parse_options(spec: CommandSpec, text: str) -> dict[str, str]:
    names = [o.name for o in spec.options]
    values: dict[str, str] = {}
    rest = text.strip()
    current = spec.positional
    leading = _WORD_OPTION.match(rest)
    if leading and leading[1] in names:
        current = None
    elif leading and not (current and _kind(spec, current) == "link"):
        raise BadOption(f"/{spec.path} has no option {leading[1]}. {_options_hint(spec)}")
    while rest:
        pending = [n for n in names if n not in values and n != current]
        starts = re.compile(r"(?:^|(?<=\s))(" + "|".join(map(re.escape, pending)) + "):") if pending else None
        found = starts.search(rest) if starts else None
        if current is None:
            if not found or found.start() != 0:
                raise BadOption(f"I couldn't read “{rest[:60]}”: write options as name:value. {_options_hint(spec)}")
            current, rest = found[1], rest[found.end() :]
            continue
        if rest.startswith('"'):
            end = rest.find('"', 1)
            if end == -1:
                raise BadOption(f"The quote in {current}: is never closed.")
            values[current], rest = rest[1:end], rest[end + 1 :].strip()
            current = None
            continue
        value, rest = (rest[: found.start()], rest[found.start() :]) if found else (rest, "")
        values[current] = value.strip()
        current = None
    return values


def _kind(spec: CommandSpec, name: str) -> str:
    return next(o.kind for o in spec.options if o.name == name)


def help_lines(is_editor: bool, platform: str) -> list[tuple[str, str]]:
    return [
        (s.usage, s.help)
        for s in CATALOGUE
        if (is_editor or not s.editor) and (s.platforms is None or platform in s.platforms)
    ]
