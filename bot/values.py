"""Validated values: each parser returns a clean value or raises InvalidValue with a specific message."""

import re
from datetime import UTC, date, datetime, time
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import InvalidValue

TITLE_MAX = 200
PEN_NAME_MAX = 100
BIO_MAX = 500
AFFILIATION_MAX = 200
LINK_MAX = 2000
NOTE_MAX = 1000
CALL_MAX = 4000
PROMPT_MAX = 1000
REASON_MAX = 1000
COMMENTARY_MAX = 2000
ROUTES = ("direct", "crosspost")
AOE = "AoE"

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_TIME_OF_DAY = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def text(value: str, name: str, *, maximum: int, minimum: int = 1, one_line: bool = True) -> str:
    """Trimmed text within length bounds; one-line values have their whitespace runs collapsed."""
    cleaned = " ".join(value.split()) if one_line else value.strip()
    if len(cleaned) < minimum:
        raise InvalidValue(f"The {name} cannot be empty.")
    if len(cleaned) > maximum:
        raise InvalidValue(f"The {name} is {len(cleaned):,} characters long; at most {maximum:,} are allowed.")
    return cleaned


def optional_text(value: str | None, name: str, *, maximum: int, one_line: bool = True) -> str | None:
    if value is None:
        return None
    cleaned = text(value, name, maximum=maximum, minimum=0, one_line=one_line)
    return cleaned or None


def link(value: str, name: str = "link") -> str:
    cleaned = value.strip().strip("<>")
    if len(cleaned) > LINK_MAX:
        raise InvalidValue(f"The {name} is {len(cleaned):,} characters long; at most {LINK_MAX:,} are allowed.")
    parts = urlsplit(cleaned)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or any(c.isspace() for c in cleaned):
        raise InvalidValue(
            f"The {name} must be a web address starting with http:// or https://, like https://example.com/my-essay."
        )
    return cleaned


def route(value: str) -> str:
    cleaned = value.strip().lower()
    if cleaned not in ROUTES:
        raise InvalidValue(
            "The route must be `direct` (the host publishes it) or `crosspost` (you publish it and the host cross-posts)."
        )
    return cleaned


def integer(value: str, name: str) -> int:
    try:
        return int(value.strip().lstrip("#"))
    except ValueError:
        raise InvalidValue(f"The {name} must be a whole number, not “{value.strip()[:40]}”.") from None


def prompt_number(value: str, alternatives: int) -> int:
    number = integer(value, "prompt")
    if not 0 <= number <= alternatives:
        choices = "0 (the main prompt)" + (f" or 1 to {alternatives} (an alternative)" if alternatives else "")
        raise InvalidValue(f"There is no prompt {number}: choose {choices}.")
    return number


def yes_no(value: str, name: str) -> bool:
    cleaned = value.strip().lower()
    if cleaned in ("yes", "true", "on", "1"):
        return True
    if cleaned in ("no", "false", "off", "0"):
        return False
    raise InvalidValue(f"The {name} must be yes or no.")


def slug(value: str) -> str:
    cleaned = value.strip().lower()
    if not _SLUG.match(cleaned):
        raise InvalidValue("A slug is lowercase letters, digits and dashes (for example `orchestrator-2023`).")
    return cleaned


def slugify(title: str, year: int) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:50].strip("-") or "symposium"
    return f"{base}-{year}"


def zone(value: str) -> str:
    """An IANA zone name, or AoE (Anywhere on Earth, UTC−12)."""
    cleaned = value.strip()
    if cleaned.lower() == "aoe":
        return AOE
    try:
        ZoneInfo(cleaned)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValue(
            f"“{cleaned[:60]}” is not a time zone I know; use an IANA name like Europe/Berlin, or UTC or AoE."
        ) from None
    return cleaned


def zone_info(name: str) -> ZoneInfo:
    return ZoneInfo("Etc/GMT+12" if name == AOE else name)


def time_of_day(value: str) -> str:
    match = _TIME_OF_DAY.match(value.strip())
    if not match:
        raise InvalidValue("A time of day is written HH:MM, like 09:00.")
    return f"{int(match[1]):02d}:{match[2]}"


def _parse(value: str, name: str) -> tuple[date, time | None]:
    cleaned = value.strip()
    try:
        if len(cleaned) == 10:
            return date.fromisoformat(cleaned), None
        day, _, clock = cleaned.partition(" ")
        return date.fromisoformat(day), time.fromisoformat(clock.strip())
    except ValueError:
        raise InvalidValue(
            f"The {name} “{cleaned[:40]}” is not a date I can read: write YYYY-MM-DD or YYYY-MM-DD HH:MM."
        ) from None


def deadline(value: str, name: str, zone_name: str) -> datetime:
    """A deadline: a bare date means the end of that day (23:59:59) in the symposium's zone."""
    day, at = _parse(value, name)
    local = datetime.combine(day, at or time(23, 59, 59), zone_info(zone_name))
    return local.astimezone(UTC)


def publication(value: str, name: str, zone_name: str, publish_time: str) -> datetime:
    """A publication moment: a bare date means that day at the symposium's publication time."""
    day, at = _parse(value, name)
    hour, minute = (int(x) for x in publish_time.split(":"))
    local = datetime.combine(day, at or time(hour, minute), zone_info(zone_name))
    return local.astimezone(UTC)


def local_text(moment: datetime, zone_name: str) -> str:
    """A moment as plain text in the symposium's zone, for error messages (which carry no time parts)."""
    return f"{moment.astimezone(zone_info(zone_name)):%Y-%m-%d %H:%M} {zone_name}"


def local_day(moment: datetime, zone_name: str) -> date:
    return moment.astimezone(zone_info(zone_name)).date()
