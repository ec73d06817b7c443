"""Errors a user caused: each carries the private message that explains it. Nothing is written when raised."""


class UserError(Exception):
    """Bad input or a refused action; `message` is said privately to the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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
