"""Validated values: each parser returns a clean value or raises InvalidValue with a specific message."""

import ipaddress
import re
from datetime import UTC, date, datetime, time, timedelta
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


CLEAR = ""
"""What a clearable option (`pen_name:none`) sets: nothing, as opposed to None, which leaves it as it was."""


def clearable(value: str | None, name: str, *, maximum: int, one_line: bool = True) -> str | None:
    """Text that `none` removes: None when not given, CLEAR for `none`, else the text."""
    if value is not None and value.strip().lower() == "none":
        return CLEAR
    return optional_text(value, name, maximum=maximum, one_line=one_line)


_NOT_IN_LINKS = frozenset('<>"{}|\\^`')
_HOST = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9-]{1,63}(?<!-))*\.?$")


def link(value: str, name: str = "link") -> str:
    """An http(s) address with a real host, as typed: nothing is cut from it (Slack's `<…>` markup is unwrapped
    by the Slack adapter, where it belongs)."""
    cleaned = value.strip()
    if len(cleaned) > LINK_MAX:
        raise InvalidValue(f"The {name} is {len(cleaned):,} characters long; at most {LINK_MAX:,} are allowed.")
    must = f"The {name} must be a web address starting with http:// or https://, like https://example.com/my-essay."
    if any(c.isspace() for c in cleaned):
        raise InvalidValue(must)
    if bad := sorted({c for c in cleaned if c in _NOT_IN_LINKS}):
        raise InvalidValue(
            f"The {name} holds a character a web address cannot ({' '.join(bad)}); check it and try again."
        )
    try:
        parts = urlsplit(cleaned)
        port = parts.port
    except ValueError as exc:
        raise InvalidValue(f"The {name} “{cleaned[:60]}” is not a web address I can read ({exc}).") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidValue(must)
    if port == 0:
        raise InvalidValue(f"The {name} names port 0, which no web server listens on.")
    if not _plausible_host(parts.hostname):
        raise InvalidValue(f"The {name}'s host “{parts.hostname[:60]}” is not a host name or address.")
    return cleaned


def _plausible_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return False
    return bool(_HOST.match(ascii_host)) and "." in ascii_host.strip(".")


def shown_link(url: str) -> str:
    """A link as editors should read it: an international host in its ASCII (punycode) form, so a look-alike
    (`exаmple.com` with a Cyrillic а) shows as what it is."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return url
    if ascii_host == host:
        return url
    netloc = parts.netloc.replace(parts.netloc.rsplit("@", 1)[-1].split(":")[0], ascii_host, 1)
    return parts._replace(netloc=netloc).geturl()


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


def reminder_days(value: str, name: str) -> list[int]:
    """Days before a deadline, like 7,2,1 (up to five, each from 1 to 60), or none."""
    cleaned = value.strip().lower()
    if cleaned in ("none", "off", "0"):
        return []
    try:
        days = sorted({int(part) for part in cleaned.replace(" ", "").split(",") if part}, reverse=True)
    except ValueError:
        raise InvalidValue(f"{name} is a list of days before the deadline, like 7,2,1 (or none).") from None
    if not days or len(days) > 5 or not all(1 <= d <= 60 for d in days):
        raise InvalidValue(f"{name} takes one to five days, each from 1 to 60, like 7,2,1 (or none).")
    return days


def time_of_day(value: str) -> str:
    match = _TIME_OF_DAY.match(value.strip())
    if not match:
        raise InvalidValue("A time of day is written HH:MM, like 09:00.")
    return f"{int(match[1]):02d}:{match[2]}"


FIRST_YEAR, LAST_YEAR = 2000, 2099  # a symposium's dates fall within this century; anything else is a typo


def _parse(value: str, name: str) -> tuple[date, time | None]:
    cleaned = value.strip()
    try:
        if len(cleaned) == 10:
            day, at = date.fromisoformat(cleaned), None
        else:
            part, _, clock = cleaned.partition(" ")
            day, at = date.fromisoformat(part), time.fromisoformat(clock.strip())
    except ValueError:
        raise InvalidValue(
            f"The {name} “{cleaned[:40]}” is not a date I can read: write YYYY-MM-DD or YYYY-MM-DD HH:MM "
            "(with an offset like +02:00 when the time happens twice)."
        ) from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise InvalidValue(f"The {name} is in the year {day.year}; give a date between {FIRST_YEAR} and {LAST_YEAR}.")
    return day, at


def _moment(day: date, at: time, zone_name: str, name: str) -> datetime:
    """A wall-clock moment in the zone, refused when the clock skips it (a daylight-saving gap) and asked about
    when it happens twice (the repeated hour), unless an offset was given with the time."""
    if at.tzinfo is not None:
        return datetime.combine(day, at).astimezone(UTC)
    zone = zone_info(zone_name)
    first, second = datetime.combine(day, at, zone), datetime.combine(day, at, zone).replace(fold=1)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != first.replace(tzinfo=None):
        change = _transition(second.astimezone(UTC), first.astimezone(UTC), zone)
        before, after = (change - timedelta(minutes=1)).astimezone(zone), change.astimezone(zone)
        raise InvalidValue(
            f"The {name} {day} {at:%H:%M} does not exist in {zone_name}: the clocks skip it. The nearest times "
            f"are {before:%H:%M} and {after:%H:%M}."
        )
    if first.utcoffset() != second.utcoffset():
        raise InvalidValue(
            f"The {name} {day} {at:%H:%M} happens twice in {zone_name} (the clocks go back). Say which: "
            f"{day} {at:%H:%M}{_offset(first)} or {day} {at:%H:%M}{_offset(second)}."
        )
    return first.astimezone(UTC)


def _transition(early: datetime, late: datetime, zone: ZoneInfo) -> datetime:
    """The first minute at or after which the zone's offset is the later one (between two UTC moments)."""
    while late - early > timedelta(minutes=1):
        middle = early + (late - early) / 2
        if middle.astimezone(zone).utcoffset() == late.astimezone(zone).utcoffset():
            late = middle
        else:
            early = middle
    return late.replace(second=0, microsecond=0)


def _offset(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta()
    sign, minutes = ("+" if offset >= timedelta() else "-"), abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def deadline(value: str, name: str, zone_name: str) -> datetime:
    """A deadline: a bare date means the end of that day (23:59:59) in the symposium's zone."""
    day, at = _parse(value, name)
    return _moment(day, at or time(23, 59, 59), zone_name, name)


def publication(value: str, name: str, zone_name: str, publish_time: str) -> datetime:
    """A publication moment: a bare date means that day at the symposium's publication time."""
    day, at = _parse(value, name)
    hour, minute = (int(x) for x in publish_time.split(":"))
    return _moment(day, at or time(hour, minute), zone_name, name)


def local_text(moment: datetime, zone_name: str) -> str:
    """A moment as plain text in the symposium's zone, for error messages (which carry no time parts)."""
    return f"{moment.astimezone(zone_info(zone_name)):%Y-%m-%d %H:%M} {zone_name}"


def local_day(moment: datetime, zone_name: str) -> date:
    return moment.astimezone(zone_info(zone_name)).date()
