"""👪 家庭主要成员及重要社会关系 on the member's card: the list, one tap to add
a row (称谓 → 姓名 → 工作单位 → 联系电话, through the questionnaire walk),
one tap to remove one. Reached from the card and right after /add."""

from __future__ import annotations

from typing import Any

from aiogram import F, html
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from domain.family import Relative
from handlers.filters import Known
from handlers.form_walk import on_complete, start_form
from handlers.member_view import MemberAction, relative_line
from handlers.routes import Routes
from storage.services import family, members
from storage.services.access import Actor

router = Routes("family")
router.filter(Known())


class RelativeAct(CallbackData, prefix="fm"):
    """Remove one row; the id is checked against the actor's branches (R-ACL-BRANCH)."""

    relative_id: int


def _member_button(text: str, action: str, member_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text, callback_data=MemberAction(action=action, member_id=member_id).pack()
    )


async def _show(
    message: Message, session: AsyncSession, actor: Actor, member_id: int, *, edit: bool
) -> None:
    member = await members.require_writable(session, actor, member_id)
    rows = await family.rows_of(session, member.id)
    lines = [_("<b>{name}</b> 的家庭主要成员及重要社会关系").format(name=html.quote(member.name))]
    lines += [f"{i}. {html.quote(relative_line(r))}" for i, r in enumerate(rows, 1)]
    if not rows:
        lines.append(_("还没有登记。查找失联党员时，家庭成员会作为第一批知情人推荐。"))
    buttons = [
        InlineKeyboardButton(
            text=_("✖ 删除 {n}").format(n=i), callback_data=RelativeAct(relative_id=r.id).pack()
        )
        for i, r in enumerate(rows, 1)
    ]
    keyboard = [buttons[j : j + 4] for j in range(0, len(buttons), 4)]
    keyboard.append(
        [
            _member_button(_("➕ 添加"), "family_add", member.id),
            _member_button(_("↩ 返回卡片"), "card", member.id),
        ]
    )
    markup = InlineKeyboardMarkup(inline_keyboard=keyboard)
    if edit:
        await message.edit_text("\n".join(lines), reply_markup=markup)
    else:
        await message.answer("\n".join(lines), reply_markup=markup)


@router.callback_query(MemberAction.filter(F.action == "family"))
async def show_family(
    call: CallbackQuery, callback_data: MemberAction, session: AsyncSession, actor: Actor
) -> None:
    assert isinstance(call.message, Message)
    await _show(call.message, session, actor, callback_data.member_id, edit=True)


@router.callback_query(MemberAction.filter(F.action == "family_add"))
async def add_relative(
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
        "family",
        {"member_id": member.id},
        _("添加 {name} 的家庭成员或重要社会关系：").format(name=html.quote(member.name)),
    )


@on_complete("family")
async def relative_done(
    message: Message, values: dict[str, Any], context: dict[str, Any], data: dict[str, Any]
) -> None:
    row = await family.add_relative(
        data["session"], data["actor"], context["member_id"], Relative.of(values)
    )
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _member_button(_("➕ 再添加一人"), "family_add", row.member_id),
                _member_button(_("👪 家庭成员"), "family", row.member_id),
            ],
            [_member_button(_("↩ 返回卡片"), "card", row.member_id)],
        ]
    )
    await message.answer(
        _("✅ 已添加：{line}").format(line=html.quote(relative_line(row))), reply_markup=keyboard
    )


@router.callback_query(RelativeAct.filter())
async def remove_relative(
    call: CallbackQuery, callback_data: RelativeAct, session: AsyncSession, actor: Actor
) -> None:
    assert isinstance(call.message, Message)
    member_id = await family.remove_relative(session, actor, callback_data.relative_id)
    await _show(call.message, session, actor, member_id, edit=True)
