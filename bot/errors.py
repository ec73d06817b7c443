"""Errors a user caused: each carries the private message that explains it. Nothing is written when raised."""

from bot.messages import Part, Text, plain_part


class UserError(Exception):
    """Bad input or a refused action, said privately to the person who asked.

    Args:
        parts: the explanation; strings are literal text, parts (a channel, a time) render per platform.
    """

    def __init__(self, *parts: "str | Part") -> None:
        self.parts: tuple[Part, ...] = tuple(Text(p) if isinstance(p, str) else p for p in parts)
        self.message = "".join(plain_part(p) for p in self.parts)
        super().__init__(self.message)


class UnknownCommand(UserError):
    pass


class BadOption(UserError):
    """An unknown, missing or malformed option."""


class InvalidValue(UserError):
    pass


class NotAnEditor(UserError):
    def __init__(self, what: str = "this") -> None:
        super().__init__(f"Only the symposium's editors can do {what}.")


class UnknownSymposium(UserError):
    pass


class NoActiveIntent(UserError):
    pass


class DeadlinePassed(UserError):
    pass


class Refused(UserError):
    """The action is understood but cannot be done in the current state."""


class NotYet(Exception):
    """Something an arrival refers to is still on its way (a review card whose post is not recorded yet): the
    arrival stays in the inbox and is handled again after `after_seconds`."""

    def __init__(self, reason: str, after_seconds: float) -> None:
        super().__init__(reason)
        self.after_seconds = after_seconds
