"""What a button carries (callback data), read back with one refusal.

A button's data comes from the user's client: a forged or outdated value
(a number that is not one, an outcome no longer offered) must get the same
plain answer as any expired button, never the apology for a failure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from domain.errors import N_, InvalidInput

_T = TypeVar("_T")

STALE_BUTTON = N_("这个按钮已失效，请重新发送命令。")


def from_button(parse: Callable[[str], _T], raw: str) -> _T:
    """``parse(raw)``, or the stale-button refusal (InvalidInput) when the
    value is not one ``parse`` accepts (ValueError)."""
    try:
        return parse(raw)
    except ValueError:
        raise InvalidInput(STALE_BUTTON) from None
