"""Closing a search from the member's card (结束查找) and registering a mobile
member (流动党员登记). The answers are walked by handlers/form_walk.py."""

from __future__ import annotations

from typing import Any

from aiogram import F, html
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from domain.channels import ChannelGroup
from domain.clock import Clock
from domain.errors import InvalidInput
from handlers.buttons import from_button
from handlers.filters import HasRole
from handlers.form_walk import on_complete, start_form
from handlers.member_view import MemberAction
from handlers.routes import Routes
from storage.services import members, mobile, outcomes
from storage.services.access import Actor, Role

router = Routes("outcomes")
router.filter(HasRole(Role.SECRETARY))


class OutcomeFlow(StatesGroup):
    title = __("结束查找")  # named when a command leaves the flow (bot/flows.py)
    reason = State()


def _button(text: str, action: str, member_id: int, arg: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text, callback_data=MemberAction(action=action, member_id=member_id, arg=arg).pack()
    )


@router.callback_query(MemberAction.filter(F.action == "close"))
async def choose_outcome(
    call: CallbackQuery, callback_data: MemberAction, session: AsyncSession, actor: Actor
) -> None:
    assert isinstance(call.message, Message)
    member = await members.require_writable(session, actor, callback_data.member_id)
    await call.message.answer(
        _("结束对 <b>{name}</b> 的查找：").format(name=html.quote(member.name)),
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[
                [_button(_("✅ 经查找取得联系"), "found", member.id)],
                [_button(_("❌ 经查找仍然无法取得联系"), "unreach", member.id)],
                [_button(_("↩ 返回卡片"), "card", member.id)],
            ]
        ),
    )


@router.callback_query(MemberAction.filter(F.action == "found"))
async def found(
    call: CallbackQuery,
    callback_data: MemberAction,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    assert isinstance(call.message, Message)
    member = await members.require_writable(session, actor, callback_data.member_id)
    await start_form(
        call.message, state, "found", {"member_id": member.id}, _("登记“经查找取得联系”（附件5）：")
    )


async def _show_exhaustion(
    message: Message,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    member_id: int,
    state: FSMContext,
) -> None:
    status = await outcomes.exhaustion(session, actor, member_id, clock.today())
    if status.complete:
        await start_form(
            message,
            state,
            "unreachable",
            {"member_id": member_id},
            _("各渠道均已查找或已说明原因。登记“经查找仍然无法取得联系”（附件6）："),
        )
        return
    lines = [_("还不能认定“仍然无法取得联系”。以下渠道还需要查找，或说明为什么无法查找：")]
    lines += [f"• {int(g)}. {g.label}" for g in status.missing]
    if status.covered:
        lines.append(
            _("已查找：{groups}").format(groups="、".join(g.label for g in sorted(status.covered)))
        )
    rows = [[_button(_("继续查找"), "log", member_id)]]
    rows += [
        [
            _button(
                _("说明无法查找：{group}").format(group=g.label), "imposs", member_id, str(int(g))
            )
        ]
        for g in status.missing
    ]
    await message.answer("\n".join(lines), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(MemberAction.filter(F.action == "unreach"))
async def unreachable(
    call: CallbackQuery,
    callback_data: MemberAction,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    state: FSMContext,
) -> None:
    assert isinstance(call.message, Message)
    await members.require_writable(session, actor, callback_data.member_id)
    await _show_exhaustion(call.message, session, actor, clock, callback_data.member_id, state)


@router.callback_query(MemberAction.filter(F.action == "imposs"))
async def ask_reason(
    call: CallbackQuery,
    callback_data: MemberAction,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    assert isinstance(call.message, Message)
    await members.require_writable(session, actor, callback_data.member_id)
    group = from_button(lambda raw: ChannelGroup(int(raw)), callback_data.arg)
    await state.set_state(OutcomeFlow.reason)
    await state.set_data({"member_id": callback_data.member_id, "group": int(group)})
    await call.message.answer(
        _("为什么无法通过“{group}”查找？请写明原因：").format(group=group.label)
    )


@router.message(OutcomeFlow.reason, F.text)
async def save_reason(
    message: Message, session: AsyncSession, actor: Actor, clock: Clock, state: FSMContext
) -> None:
    data = await state.get_data()
    try:
        await outcomes.mark_impossible(
            session, actor, data["member_id"], ChannelGroup(data["group"]), message.text or ""
        )
    except InvalidInput as exc:
        await message.answer(html.quote(exc.render(_)))
        return
    await state.clear()
    await message.answer(_("已记录。"))
    await _show_exhaustion(message, session, actor, clock, data["member_id"], state)


@router.callback_query(MemberAction.filter(F.action == "mobile"))
async def register_mobile(
    call: CallbackQuery,
    callback_data: MemberAction,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    assert isinstance(call.message, Message)
    member = await members.require_writable(session, actor, callback_data.member_id)
    await start_form(
        call.message,
        state,
        "mobile",
        {"member_id": member.id},
        _("登记流动党员（流出党员基本信息登记表）："),
    )


@on_complete("found")
async def found_done(
    message: Message, values: dict[str, Any], context: dict[str, Any], data: dict[str, Any]
) -> None:
    clock: Clock = data["clock"]
    await outcomes.record_found(
        data["session"], data["actor"], context["member_id"], values, today=clock.today()
    )
    await message.answer(_("✅ 已登记“经查找取得联系”。"), reply_markup=_back(context["member_id"]))


@on_complete("unreachable")
async def unreachable_done(
    message: Message, values: dict[str, Any], context: dict[str, Any], data: dict[str, Any]
) -> None:
    clock: Clock = data["clock"]
    await outcomes.record_unreachable(
        data["session"], data["actor"], context["member_id"], values, today=clock.today()
    )
    await message.answer(
        _("✅ 已登记“经查找仍然无法取得联系”。"), reply_markup=_back(context["member_id"])
    )


@on_complete("mobile")
async def mobile_done(
    message: Message, values: dict[str, Any], context: dict[str, Any], data: dict[str, Any]
) -> None:
    clock: Clock = data["clock"]
    await mobile.register_mobile(
        data["session"], data["actor"], context["member_id"], values, today=clock.today()
    )
    await message.answer(_("✅ 已登记为流动党员。"), reply_markup=_back(context["member_id"]))


def _back(member_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[_button(_("↩ 返回卡片"), "card", member_id)]])
