"""The one error type for bad input (输入有误), raised by the pure rules.

Messages are Chinese gettext msgids with ``{placeholders}``; the handler
translates them for the user's locale and fills the params. No aiogram here.
"""

from __future__ import annotations

from collections.abc import Callable


def N_(message: str) -> str:
    """Mark a msgid for extraction without translating it now."""
    return message


class InvalidInput(ValueError):
    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message.format(**params) if params else message)
        self.message = message
        self.params = params

    def __reduce__(self) -> tuple[object, ...]:
        # Raised in the export worker process and re-raised in the bot's: keep
        # the msgid and its params, not only the formatted text.
        return (_rebuild_invalid, (self.message, self.params))

    def render(self, gettext: Callable[[str], str] | None = None) -> str:
        if gettext is None:
            return self.message.format(**self.params) if self.params else self.message
        # A field's label is a msgid too (marked with N_ in the catalogue).
        params = {
            k: gettext(v) if k == "label" and isinstance(v, str) else v
            for k, v in self.params.items()
        }
        text: str = gettext(self.message)
        return text.format(**params) if params else text


def _rebuild_invalid(message: str, params: dict[str, object]) -> InvalidInput:
    return InvalidInput(message, **params)


class DataCheckFailed(ValueError):
    """A form's figures fail a relation of the form's notes (R-TABLE-SUMS, 失联 =
    取得联系 + 仍无法取得联系 …): an error in the records, reported to the user
    as such (each problem one Chinese line), never a silently wrong form."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("；".join(problems))
        self.problems = tuple(problems)

    def __reduce__(self) -> tuple[object, ...]:
        return (DataCheckFailed, (list(self.problems),))
