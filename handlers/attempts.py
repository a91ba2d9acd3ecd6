"""The attempts on a member's card (查找记录) and their correction (更正).

A correction is a new version; the old one stays in the dossier (R-DOSSIER)."""

from __future__ import annotations

from aiogram import F, html
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from domain.channels import AttemptResult, Channel, ChannelGroup, channels_in
from domain.clock import Clock
from domain.dates import parse_date
from domain.errors import InvalidInput
from handlers.filters import Known
from handlers.member_view import MemberAction
from handlers.routes import Routes
from storage.models import ContactAttempt
from storage.services import search
from storage.services.access import Actor, Role

router = Routes("attempts")
router.filter(Known())


class AttemptAction(CallbackData, prefix="at"):
    """``op``: show / result / channel / day / note, with the new ``value`` for taps."""

    attempt_id: int
    op: str
    value: str = ""


class AttemptFix(StatesGroup):
    title = __("更正查找记录")  # named when a command leaves the flow (bot/flows.py)
    day = State()
    note = State()


def _summary(attempt: ContactAttempt) -> str:
    text = f"{attempt.attempted_on.isoformat()} · {Channel(attempt.channel).label} · {AttemptResult(attempt.result).label}"
    if attempt.note:
        text += f" · {attempt.note[:40]}"
    return text


def _act(text: str, attempt_id: int, op: str, value: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text, callback_data=AttemptAction(attempt_id=attempt_id, op=op, value=value).pack()
    )


@router.callback_query(MemberAction.filter(F.action == "attempts"))
async def list_attempts(
    call: CallbackQuery, callback_data: MemberAction, session: AsyncSession, actor: Actor
) -> None:
    assert isinstance(call.message, Message)
    attempts = await search.attempts_of(session, actor, callback_data.member_id)
    if not attempts:
        await call.message.answer(_("还没有查找记录。"))
        return
    lines = [_("<b>查找记录</b>（共{n}次）").format(n=len(attempts))]
    lines += [f"{i}. {html.quote(_summary(a))}" for i, a in enumerate(attempts, 1)]
    buttons = [_act(str(i), a.id, "show") for i, a in enumerate(attempts, 1)]
    rows = [buttons[i : i + 6] for i in range(0, len(buttons), 6)]
    await call.message.answer(
        "\n".join(lines), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows)
    )


@router.callback_query(AttemptAction.filter(F.op == "show"))
async def show(
    call: CallbackQuery, callback_data: AttemptAction, session: AsyncSession, actor: Actor
) -> None:
    assert isinstance(call.message, Message)
    attempt, member, evidence = await search.get_attempt(session, actor, callback_data.attempt_id)
    lines = [
        _("<b>查找记录</b> · {name}").format(name=html.quote(member.name)),
        html.quote(_summary(attempt)),
        _("凭证：{n}份").format(n=evidence),
    ]
    if attempt.replaces_id:
        lines.append(_("（这是更正后的版本，原记录保留在档案中）"))
    rows = []
    if member.branch_id in actor.orgs(Role.SECRETARY) and attempt.superseded_by_id is None:
        rows = [
            [_act(_("更正结果"), attempt.id, "result"), _act(_("更正渠道"), attempt.id, "channel")],
            [_act(_("更正日期"), attempt.id, "day"), _act(_("更正备注"), attempt.id, "note")],
        ]
    await call.message.answer(
        "\n".join(lines), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows) if rows else None
    )


@router.callback_query(AttemptAction.filter(F.op.in_({"result", "channel"}) & (F.value == "")))
async def choose(
    call: CallbackQuery, callback_data: AttemptAction, session: AsyncSession, actor: Actor
) -> None:
    assert isinstance(call.message, Message)
    attempt, _member, _n = await search.get_attempt(session, actor, callback_data.attempt_id)
    if callback_data.op == "result":
        rows = [[_act(r.label, attempt.id, "result", r.value) for r in AttemptResult]]
    else:
        rows = []
        for group in ChannelGroup:
            buttons = [_act(c.label, attempt.id, "channel", c.value) for c in channels_in(group)]
            rows += [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    await call.message.edit_reply_markup(reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


async def _corrected(message: Message, attempt: ContactAttempt) -> None:
    await message.answer(
        _("✅ 已更正：{summary}\n原记录保留在档案中。").format(
            summary=html.quote(_summary(attempt))
        ),
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(
                        text=_("↩ 返回卡片"),
                        callback_data=MemberAction(
                            action="card", member_id=attempt.member_id
                        ).pack(),
                    )
                ]
            ]
        ),
    )


@router.callback_query(AttemptAction.filter(F.op.in_({"result", "channel"}) & (F.value != "")))
async def tapped_fix(
    call: CallbackQuery,
    callback_data: AttemptAction,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
) -> None:
    assert isinstance(call.message, Message)
    value = (
        AttemptResult(callback_data.value).value
        if callback_data.op == "result"
        else Channel(callback_data.value).value
    )
    new = await search.correct_attempt(
        session, actor, callback_data.attempt_id, today=clock.today(), **{callback_data.op: value}
    )
    await _corrected(call.message, new)


@router.callback_query(AttemptAction.filter(F.op.in_({"day", "note"})))
async def ask_typed(
    call: CallbackQuery,
    callback_data: AttemptAction,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    assert isinstance(call.message, Message)
    await search.get_attempt(session, actor, callback_data.attempt_id)
    await state.set_state(AttemptFix.day if callback_data.op == "day" else AttemptFix.note)
    await state.set_data({"attempt_id": callback_data.attempt_id})
    prompt = _("请输入正确的查找日期：") if callback_data.op == "day" else _("请输入新的备注：")
    await call.message.answer(prompt)


@router.message(AttemptFix.day, F.text)
async def typed_day(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, clock: Clock
) -> None:
    data = await state.get_data()
    try:
        day = parse_date(message.text or "", today=clock.today()).first_day()
        new = await search.correct_attempt(
            session, actor, data["attempt_id"], today=clock.today(), attempted_on=day
        )
    except InvalidInput as exc:
        await message.answer(
            html.quote(exc.render(_)) + "\n" + _("请重新输入，或发送 /cancel 取消。")
        )
        return
    await state.clear()
    await _corrected(message, new)


@router.message(AttemptFix.note, F.text)
async def typed_note(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, clock: Clock
) -> None:
    data = await state.get_data()
    try:
        new = await search.correct_attempt(
            session, actor, data["attempt_id"], today=clock.today(), note=message.text
        )
    except InvalidInput as exc:
        await message.answer(
            html.quote(exc.render(_)) + "\n" + _("请重新输入，或发送 /cancel 取消。")
        )
        return
    await state.clear()
    await _corrected(message, new)
