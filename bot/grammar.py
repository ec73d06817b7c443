"""The command catalogue of SPEC §3 and the `name:value` text grammar used by Slack and the console.

A value runs until the next ` name:` where `name` is an option of this command not yet given; a value in
double quotes is taken literally. Text before the first option fills the command's first option. A ` word:`
inside a value that is an option already given, or looks like a misspelt option (`pen_nme:`), is refused rather
than swallowed into the value (a misspelt pen_name would otherwise publish a writer's account name); a colon in
a link or after a capitalised word ("Route: a redux") is part of the value.

Every value is also checked for characters no one types on purpose: control characters (a line break is kept
where a value may have lines), bidirectional overrides and invisible spaces are refused with their code point.
"""

import dataclasses
import difflib
import re
import unicodedata
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
    CommandSpec("withdraw", c.Withdraw, "withdraw your intent and any pending submission", positional="reason"),
    CommandSpec("essays", c.ShowEssays, "the Essay Index as it stands"),
    CommandSpec("symposium status", c.ShowStatus, "your intent, submission, decision and next deadline"),
    CommandSpec(
        "symposium reminders",
        c.SetReminders,
        "turn your private reminders on or off",
        required=("state",),
        positional="state",
    ),
    CommandSpec(
        "symposium confirm",
        c.ConfirmDate,
        "confirm the publication date the editors arranged",
        required=("essay",),
        positional="essay",
    ),
    CommandSpec(
        "symposium propose",
        c.ProposeDate,
        "propose another publication day to the editors",
        required=("essay", "date"),
        positional="essay",
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
        "symposium accept",
        c.AcceptDate,
        "accept the day an author proposed",
        editor=True,
        required=("essay",),
        positional="essay",
    ),
    CommandSpec(
        "symposium preview",
        c.PreviewEssay,
        "post an essay's announcement, as it will look, in the review channel now",
        editor=True,
        required=("essay",),
        positional="essay",
    ),
    CommandSpec(
        "symposium hold",
        c.HoldEssay,
        "hold an essay: it is not announced at its date, and its author is told",
        editor=True,
        required=("essay",),
        positional="essay",
    ),
    CommandSpec(
        "symposium rename",
        c.RenameEssay,
        "change a published essay's public title, pen name or bio, and its announcement",
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
    CommandSpec("symposium reopen", c.ReopenSymposium, "open a closed symposium again", editor=True),
    CommandSpec(
        "symposium history",
        c.ShowHistory,
        "who did what and when (essay:<n> for one essay)",
        editor=True,
        positional="essay",
    ),
)
BY_PATH = {spec.path: spec for spec in CATALOGUE}
ALL_OPTIONS = sorted({option.name for spec in CATALOGUE for option in spec.options})

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
    """Check presence, choices and characters, then make the command. Adapters with typed options (Discord, the
    forms) call this directly, so every platform's values meet the same rules."""
    options = {o.name: o for o in spec.options}
    for name in values:
        if name not in options:
            raise BadOption(_no_option(spec, name, list(options)))
    cleaned = {name: normalize(options[name], _readable(name, value).strip()) for name, value in values.items()}
    for option in spec.options:
        value = cleaned.get(option.name)
        if option.name in cleaned and not value:
            raise BadOption(_empty(option))
        if option.required and not value:
            raise BadOption(f"/{spec.path} needs {option.name}: ({option.help}). Usage: {spec.usage}")
        if value and option.choices and value.lower() not in option.choices:
            raise BadOption(f"{option.name} must be one of: {', '.join(option.choices)}.")
    return spec.command(actor=actor, origin=origin, **cleaned)


def _options_hint(spec: CommandSpec) -> str:
    return f"Usage: {spec.usage}"


def _no_option(spec: CommandSpec, word: str, names: list[str]) -> str:
    return f"/{spec.path} has no option {word}{_did_you_mean(word, names) or '.'} {_options_hint(spec)}"


def _did_you_mean(word: str, names: list[str]) -> str:
    close = difflib.get_close_matches(word, names, n=1, cutoff=CLOSE)
    return f"; did you mean {close[0]}?" if close else ""


def _empty(option: OptionSpec) -> str:
    if option.kind == "clearable":
        return f"{option.name}: has no value. To remove yours, write {option.name}:none."
    return f"{option.name}: has no value: give one ({option.help}), or leave the option out."


CLOSE = 0.75  # difflib's ratio from which a word is taken for a misspelt option (pen_nme ~ pen_name: 0.93)
_INVISIBLE = frozenset(
    "\u200b\u2060\ufeff\u00ad"  # zero-width space, word joiner, byte-order mark, soft hyphen
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"  # bidirectional controls
)


def _readable(name: str, value: str) -> str:
    """Refuse characters that hide, reorder or break text: a value shows what it says. Line breaks and tabs stay
    (one-line values fold them later); zero-width joiners stay too, since emoji and some scripts need them."""
    for char in value:
        if char in "\n\r\t":
            continue
        if char in _INVISIBLE or unicodedata.category(char) in ("Cc", "Cs", "Co", "Cn"):
            raise BadOption(
                f"{name}: holds an invisible or control character (U+{ord(char):04X}); remove it and try again."
            )
    return value


_WORD_OPTION = re.compile(r"^([a-z][a-z_]*):(?!//)")


def parse_options(spec: CommandSpec, text: str) -> dict[str, str]:
    names = [o.name for o in spec.options]
    values: dict[str, str] = {}
    rest = text.strip()
    current, named = spec.positional, False
    leading = _WORD_OPTION.match(rest)
    if leading and leading[1] in names:
        current = None
    elif leading and not (current and _kind(spec, current) == "link"):
        raise BadOption(_no_option(spec, leading[1], names))
    while rest:
        pending = [n for n in names if n not in values and n != current]
        starts = re.compile(r"(?:^|(?<=\s))(" + "|".join(map(re.escape, pending)) + "):") if pending else None
        found = starts.search(rest) if starts else None
        if current is None:
            if not found or found.start() != 0:
                raise BadOption(f"I couldn't read “{rest[:60]}”: write options as name:value. {_options_hint(spec)}")
            current, rest = found[1], rest[found.end() :]
            named = True
            continue
        if rest.startswith('"'):
            end = rest.find('"', 1)
            if end == -1:
                raise BadOption(f"The quote in {current}: is never closed.")
            values[current], rest = rest[1:end], rest[end + 1 :].strip()
            current = None
            continue
        value, rest = (rest[: found.start()], rest[found.start() :]) if found else (rest, "")
        _no_stray_option(spec, names, current, value)
        values[current] = value.strip()
        current = None
    if current is not None and named:  # `pen_name:` at the very end, with nothing after it
        values[current] = ""
    return values


_STRAY = re.compile(r"(?:^|(?<=\s))([a-z][a-z_]*):(?!//)")


def _no_stray_option(spec: CommandSpec, names: list[str], current: str, value: str) -> None:
    """A ` word:` in a value that is an option given twice, an option of another command, or close to an
    option's name (a misspelling) is refused, never swallowed into the value."""
    for match in _STRAY.finditer(value):
        word = match[1]
        quote = f'(a value holding “{word}:” goes in double quotes: {current}:"… {word}: …")'
        if word in names:
            raise BadOption(f"{word}: is given twice {quote}.")
        suggestion = _did_you_mean(word, names)
        if suggestion or _did_you_mean(word, ALL_OPTIONS):
            raise BadOption(f"/{spec.path} has no option {word}{suggestion} {quote}")


def _kind(spec: CommandSpec, name: str) -> str:
    return next(o.kind for o in spec.options if o.name == name)


def help_lines(is_editor: bool, platform: str) -> list[tuple[str, str]]:
    return [
        (s.usage, s.help)
        for s in CATALOGUE
        if (is_editor or not s.editor) and (s.platforms is None or platform in s.platforms)
    ]
