"""A conversation you can always leave (issue 13).

Many steps read any text, so without this a command typed in the middle of a
flow would be stored as a name or parsed as an ID number. One middleware, ahead
of every router, decides it for every current and future flow:

* a message that begins with "/" leaves the open step: the draft is dropped
  (one line says so, naming the flow) and the command runs as if no step were
  open — except /cancel, whose answer is about the step it ends;
* an optional step (``OptionalStep``: waiting for a file that may never come,
  such as the evidence after /log) ends quietly when anything else arrives,
  and that message is handled as if no step were open.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from aiogram import BaseMiddleware
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message, TelegramObject
from aiogram.utils.i18n import gettext as _
from magic_filter import MagicFilter

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

# /cancel answers about the step it ends ("已取消。"), so it sees the step.
_SEES_THE_STEP = frozenset({"cancel"})


class OptionalStep(State):
    """A step that waits for something the user may never send. ``accepts`` is
    what the step takes (a magic filter on the message); anything else ends
    the step quietly and is handled as if no step were open."""

    def __init__(self, accepts: MagicFilter) -> None:
        super().__init__()
        self.accepts = accepts


def command_of(message: Message) -> str | None:
    """The command a message starts with ("/add@paicha_bot x" → "add"), or None."""
    text = message.text or ""
    if not text.startswith("/"):
        return None
    return text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower() if len(text) > 1 else ""


def all_flows() -> Iterator[type[StatesGroup]]:
    """Every StatesGroup defined so far (the handlers' modules are imported by
    the dispatcher's assembly before the first update arrives)."""
    seen: set[type[StatesGroup]] = set()
    pending = list(StatesGroup.__subclasses__())
    while pending:
        group = pending.pop()
        if group in seen:
            continue
        seen.add(group)
        pending.extend(group.__subclasses__())
        yield group


def find_state(raw_state: str) -> tuple[type[StatesGroup], State] | None:
    for group in all_flows():
        for state in group.__states__:
            if state.state == raw_state:
                return group, state
    return None


def flow_title(group: type[StatesGroup] | None) -> str:
    """The flow's name as the user knows it (a ``title`` on the StatesGroup)."""
    title = getattr(group, "title", None)
    return str(title) if title else _("当前操作")


class LeaveFlowMiddleware(BaseMiddleware):
    """Outer middleware on messages: runs after the FSM context is known and
    before any router looks at the state (``raw_state`` in the data is what
    aiogram's StateFilter reads)."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        raw_state = data.get("raw_state")
        if raw_state is None or not isinstance(event, Message):
            return await handler(event, data)
        found = find_state(raw_state)
        command = command_of(event)
        if found and isinstance(found[1], OptionalStep):
            if not found[1].accepts.resolve(event):
                await self._leave(data)  # quietly: nothing was being typed
        elif command is not None and command not in _SEES_THE_STEP:
            await self._leave(data)
            await event.answer(
                _("（已退出“{flow}”，刚才填写的内容没有保存。）").format(
                    flow=flow_title(found[0] if found else None)
                )
            )
        return await handler(event, data)

    @staticmethod
    async def _leave(data: dict[str, Any]) -> None:
        state: FSMContext = data["state"]
        await state.clear()
        data["raw_state"] = None
