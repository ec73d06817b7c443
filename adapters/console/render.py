"""Neutral messages as console text: everything literal, times in the symposium's zone with a relative hint."""

from datetime import datetime

from bot.messages import ChannelRef, Line, Link, Mention, Message, Part, Strong, Text, Time


def render_time(part: Time, now: datetime) -> str:
    return f"{part.zoned()} ({part.relative_to(now)})" if part.relative else part.zoned()


def render_part(part: Part, now: datetime) -> str:
    match part:
        case Text(text) | Strong(text):
            return text
        case Mention(_, name):
            return f"@{name}"
        case ChannelRef(channel):
            return f"#{channel}"
        case Link(url, label):
            return url if label == url else f"{label} <{url}>"
        case Time():
            return render_time(part, now)
    raise TypeError(part)


def render_line(line: Line, now: datetime) -> str:
    return ("• " if line.bullet else "") + "".join(render_part(p, now) for p in line.parts)


def render(message: Message, now: datetime) -> list[str]:
    lines = [message.title] if message.title else []
    lines += [render_line(line, now) for line in message.lines]
    if message.attachment:
        lines.append(f"[file {message.attachment.filename}, {len(message.attachment.content):,} characters]")
    return lines
