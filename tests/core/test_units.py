"""Fast unit tests of the pure parts: the command grammar, value parsing and date arithmetic (no database, no
loop: milliseconds each). The whole bot is tested through the harness elsewhere; these pin the rules."""

from datetime import UTC, datetime

import pytest

from bot import grammar
from bot.commands import Actor, DeclareIntent, Origin
from bot.errors import BadOption, InvalidValue, UnknownCommand
from bot.services.reminders import before, morning
from bot.values import deadline, link, publication, reminder_days, text, time_of_day

ALICE = Actor(community="c", user_id="alice", name="Alice")
HERE = Origin(channel="general")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def intent(line: str) -> DeclareIntent:
    command = grammar.parse(line, ALICE, HERE)
    assert isinstance(command, DeclareIntent)
    return command


@pytest.mark.parametrize(
    ("line", "title", "pen_name"),
    [
        ("/intent title:Alive and well", "Alive and well", None),
        ("/intent Alive and well", "Alive and well", None),
        ("/intent title:Alive pen_name:Harry Flow", "Alive", "Harry Flow"),
        ('/intent title:"Ratio: 3:1 or pen_name: none"', "Ratio: 3:1 or pen_name: none", None),
        ("/intent title:See https://example.com/a:b", "See https://example.com/a:b", None),
        ("/intent title:Alive pen_name:none", "Alive", "none"),
    ],
)
def test_options_are_read_as_written(line: str, title: str, pen_name: str | None) -> None:
    command = intent(line)
    assert (command.title, command.pen_name) == (title, pen_name)


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("/intent title:Alive pen_nme:Harry Flow", "did you mean pen_name?"),  # never published as part of the title
        ("/intent title:Alive title:Again", "title: is given twice"),
        ('/intent title:"Never closed', "The quote in title: is never closed."),
        ("/intent title:Alive route:sideways", "route must be one of: direct, crosspost"),
        ("/intent title:Alive pen_name:", "pen_name: has no value. To remove yours, write pen_name:none."),
        ("/intent title:Hidden\u202etext", "invisible or control character (U+202E)"),
        ("/intent title:Nul\x00", "invisible or control character (U+0000)"),
        ("/symposium frobnicate", "I don't know /symposium frobnicate"),
        ("intent title:x", "Commands start with /"),
    ],
)
def test_misspelt_or_hidden_options_are_refused_with_what_to_do(line: str, says: str) -> None:
    with pytest.raises((BadOption, UnknownCommand)) as refused:
        grammar.parse(line, ALICE, HERE)
    assert says in str(refused.value)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("javascript:alert(1)", "must be a web address starting with http:// or https://"),
        ("https://exa mple.com", "must be a web address"),
        ('https://example.com/"><script>', "holds a character a web address cannot"),
        ("https://localhost/x", "is not a host name or address"),
        ("https://example.com:0/x", "port 0"),
        ("https://example.com/" + "a" * 2001, "at most 2,000 are allowed"),
    ],
)
def test_links_that_are_not_web_addresses_are_refused(value: str, says: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        link(value)
    assert says in str(refused.value)


def test_values_are_cleaned_or_refused() -> None:
    assert link("  https://example.com/essay ") == "https://example.com/essay"
    assert text("  Alive \n and   well ", "title", maximum=200) == "Alive and well"
    with pytest.raises(InvalidValue, match="10,000 characters long; at most 1,000"):
        text("x" * 10_000, "note", maximum=1000)
    assert reminder_days("1, 7,2,7", "remind_due") == [7, 2, 1]
    assert reminder_days("none", "remind_due") == []
    with pytest.raises(InvalidValue, match="one to five days"):
        reminder_days("0,99", "remind_due")
    assert time_of_day("7:05") == "07:05"
    with pytest.raises(InvalidValue, match="HH:MM"):
        time_of_day("25:00")


def test_dates_are_read_in_the_symposiums_zone_across_daylight_saving() -> None:
    assert deadline("2023-03-30", "due", "Europe/Berlin") == utc(2023, 3, 30, 21, 59, 59)  # CEST
    assert deadline("2023-03-20", "due", "Europe/Berlin") == utc(2023, 3, 20, 22, 59, 59)  # CET
    assert publication("2023-04-04", "date", "Europe/Berlin", "09:00") == utc(2023, 4, 4, 7)
    with pytest.raises(InvalidValue, match="does not exist in Europe/Berlin: the clocks skip it"):
        publication("2023-03-26 02:30", "date", "Europe/Berlin", "09:00")
    with pytest.raises(InvalidValue, match="happens twice in Europe/Berlin"):
        publication("2023-10-29 02:30", "date", "Europe/Berlin", "09:00")
    assert publication("2023-10-29 02:30+01:00", "date", "Europe/Berlin", "09:00") == utc(2023, 10, 29, 1, 30)
    with pytest.raises(InvalidValue, match="year 3023"):
        deadline("3023-01-01", "due", "UTC")


def test_reminders_fall_on_calendar_days_at_the_same_wall_clock_time() -> None:
    due = utc(2023, 3, 30, 21, 59, 59)  # 23:59:59 in Berlin, summer time
    assert before(due, 7, "Europe/Berlin") == utc(2023, 3, 23, 22, 59, 59)  # 23:59:59 in Berlin, winter time
    assert before(due, 1, "Europe/Berlin") == utc(2023, 3, 29, 21, 59, 59)

    class Sym:
        timezone, remind_at = "Europe/Berlin", "08:00"

    assert morning(Sym(), utc(2023, 4, 4, 7)) == utc(2023, 4, 4, 6)  # 08:00 in Berlin
    assert morning(Sym(), utc(2023, 4, 4, 5)) == utc(2023, 4, 4, 4)  # an essay at 07:00: an hour before it
