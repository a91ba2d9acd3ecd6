"""The chat walk through a questionnaire (逐项填写): one question at a time with
the same prompts and buttons as the member fields, the draft in the FSM data
(in the database, so a restart resumes it), and the finished answers handed to
the questionnaire's completion handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from aiogram import F, html
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __

from domain.clock import Clock
from domain.errors import InvalidInput
from domain.questionnaires import QUESTIONNAIRES, Questionnaire
from handlers import field_input as fi
from handlers.filters import Known
from handlers.routes import Routes

router = Routes("form_walk")
router.filter(Known())

# name → completion(message, values, context, handler data)
Completion = Callable[[Message, dict[str, Any], dict[str, Any], dict[str, Any]], Awaitable[None]]
_COMPLETIONS: dict[str, Completion] = {}


class FormWalk(StatesGroup):
    title = __("填写登记表")  # named when a command leaves the flow (bot/flows.py)
    value = State()


def on_complete(name: str) -> Callable[[Completion], Completion]:
    def register(func: Completion) -> Completion:
        _COMPLETIONS[name] = func
        return func

    return register


def _values(q: Questionnaire, stored: dict[str, Any]) -> dict[str, Any]:
    return {k: fi.from_state(q.by_key(k), v) for k, v in stored.items()}


async def start_form(
    message: Message, state: FSMContext, name: str, context: dict[str, Any], intro: str = ""
) -> None:
    await state.set_state(FormWalk.value)
    await state.set_data({"form": name, "index": 0, "values": {}, "context": context})
    if intro:
        await message.answer(intro)
    await _ask(message, state)


async def _ask(
    message: Message, state: FSMContext, data: dict[str, Any] | None = None, **handler_data: Any
) -> None:
    data = data or await state.get_data()
    q = QUESTIONNAIRES[data["form"]]
    values = _values(q, data["values"])
    index = data["index"]
    while index < len(q.fields) and not q.applies(q.fields[index].key, values):
        index += 1
    if index >= len(q.fields):
        await _finish(message, state, q, values, data["context"], handler_data)
        return
    await state.update_data(index=index)
    text, keyboard = fi.prompt(q.fields[index], step=f"({index + 1}/{len(q.fields)})")
    await message.answer(text, reply_markup=keyboard)


async def _finish(
    message: Message,
    state: FSMContext,
    q: Questionnaire,
    values: dict[str, Any],
    context: dict[str, Any],
    handler_data: dict[str, Any],
) -> None:
    problems = q.check(values)
    if problems:
        await message.answer(html.quote(problems[0].render(_)))
        return
    await state.clear()
    await _COMPLETIONS[q.name](message, values, context, handler_data)


async def _take(
    message: Message, state: FSMContext, value: Any, handler_data: dict[str, Any]
) -> None:
    data = await state.get_data()
    q = QUESTIONNAIRES[data["form"]]
    spec = q.fields[data["index"]]
    stored = dict(data["values"])
    stored[spec.key] = fi.to_state(spec, value)
    data.update(values=stored, index=data["index"] + 1)
    await state.update_data(values=stored, index=data["index"])
    await _ask(message, state, data, **handler_data)


@router.message(FormWalk.value, F.text)
async def typed(message: Message, state: FSMContext, clock: Clock, **handler_data: Any) -> None:
    data = await state.get_data()
    spec = QUESTIONNAIRES[data["form"]].fields[data["index"]]
    try:
        value = spec.parse(message.text or "", today=clock.today())
    except InvalidInput as exc:
        await message.answer(
            html.quote(exc.render(_)) + "\n" + _("请重新输入，或发送 /cancel 取消。")
        )
        return
    await _take(message, state, value, {"clock": clock, **handler_data})


@router.callback_query(FormWalk.value, fi.FieldAnswer.filter())
async def tapped(
    call: CallbackQuery,
    callback_data: fi.FieldAnswer,
    state: FSMContext,
    clock: Clock,
    **handler_data: Any,
) -> None:
    assert isinstance(call.message, Message)
    data = await state.get_data()
    spec = QUESTIONNAIRES[data["form"]].fields[data["index"]]
    if callback_data.value == fi.SKIP:
        if spec.required:
            raise InvalidInput("“{label}”必须填写。", label=spec.label)
        value: Any = None
    else:
        value = fi.tapped_value(spec, callback_data.value, clock.today())
    await _take(call.message, state, value, {"clock": clock, **handler_data})


@router.message(FormWalk.value)
async def fallback(message: Message) -> None:
    await message.answer(_("请用文字回答，或点上面的按钮。发送 /cancel 取消。"))


def as_date(value: Any) -> date | None:
    return value if isinstance(value, date) or value is None else date.fromisoformat(value)
