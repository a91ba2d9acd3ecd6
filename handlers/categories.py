"""/categories — the committee's 人员类别 list (a school: 教职工 / 学生). The
member card, /add and the roster template offer these; the 摸底核查统计表
counts by them (seed 000 附件9)."""

from __future__ import annotations

import re

from aiogram import F, html
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.filters import HasRole
from handlers.routes import Routes
from storage.models import Organisation
from storage.services import categories
from storage.services.access import Actor, Role, require_committee

router = Routes("categories")
router.filter(HasRole(Role.COMMITTEE))


class CategoryAct(CallbackData, prefix="ct"):
    op: str  # show | add | del | preset
    committee_id: int
    arg: int = 0


class CategoryFlow(StatesGroup):
    title = __("设置人员类别")  # named when a command leaves the flow (bot/flows.py)
    name = State()


def _b(text: str, op: str, committee_id: int, arg: int = 0) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text, callback_data=CategoryAct(op=op, committee_id=committee_id, arg=arg).pack()
    )


async def _show(
    message: Message, session: AsyncSession, actor: Actor, committee_id: int, *, edit: bool
) -> None:
    org = await require_committee(session, actor, committee_id)
    names = await categories.names(session, committee_id)
    text = _("<b>{org}</b> 人员类别：{names}").format(
        org=html.quote(org.name), names="、".join(names) or _("未设置")
    )
    text += "\n" + _("党员卡片、登记和名册模板按这个列表选择；摸底核查统计表按它分类统计。")
    rows = [[_b(_("✖ {name}").format(name=n), "del", committee_id, i)] for i, n in enumerate(names)]
    if not names:
        rows += [
            [_b(" / ".join(p), "preset", committee_id, i)] for i, p in enumerate(categories.PRESETS)
        ]
    rows.append([_b(_("➕ 添加"), "add", committee_id)])
    markup = InlineKeyboardMarkup(inline_keyboard=rows)
    if edit:
        await message.edit_text(text, reply_markup=markup)
    else:
        await message.answer(text, reply_markup=markup)


@router.message(Command("categories"))
async def list_categories(message: Message, session: AsyncSession, actor: Actor) -> None:
    committees = actor.orgs(Role.COMMITTEE)
    if len(committees) == 1:
        await _show(message, session, actor, committees[0], edit=False)
        return
    rows = []
    for cid in committees:
        org = await session.get(Organisation, cid)
        rows.append([_b(org.name if org else str(cid), "show", cid)])
    await message.answer(
        _("设置哪个党委的人员类别？"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows)
    )


@router.callback_query(CategoryAct.filter(F.op == "show"))
async def show(
    call: CallbackQuery, callback_data: CategoryAct, session: AsyncSession, actor: Actor
) -> None:
    assert isinstance(call.message, Message)
    await _show(call.message, session, actor, callback_data.committee_id, edit=True)


@router.callback_query(CategoryAct.filter(F.op == "preset"))
async def preset(
    call: CallbackQuery, callback_data: CategoryAct, session: AsyncSession, actor: Actor
) -> None:
    assert isinstance(call.message, Message)
    if not 0 <= callback_data.arg < len(categories.PRESETS):
        return
    await categories.add(
        session, actor, callback_data.committee_id, *categories.PRESETS[callback_data.arg]
    )
    await _show(call.message, session, actor, callback_data.committee_id, edit=True)


@router.callback_query(CategoryAct.filter(F.op == "del"))
async def remove(
    call: CallbackQuery, callback_data: CategoryAct, session: AsyncSession, actor: Actor
) -> None:
    assert isinstance(call.message, Message)
    await require_committee(session, actor, callback_data.committee_id)
    names = await categories.names(session, callback_data.committee_id)
    if not 0 <= callback_data.arg < len(names):
        return
    await categories.remove(session, actor, callback_data.committee_id, names[callback_data.arg])
    await _show(call.message, session, actor, callback_data.committee_id, edit=True)


@router.callback_query(CategoryAct.filter(F.op == "add"))
async def ask_name(
    call: CallbackQuery,
    callback_data: CategoryAct,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    assert isinstance(call.message, Message)
    await require_committee(session, actor, callback_data.committee_id)
    await state.set_state(CategoryFlow.name)
    await state.set_data({"committee_id": callback_data.committee_id})
    await call.message.answer(
        _("请输入人员类别名称，几个可以用顿号隔开，例如：教职工、学生。发送 /cancel 取消。")
    )


@router.message(CategoryFlow.name, F.text)
async def take_name(
    message: Message, session: AsyncSession, actor: Actor, state: FSMContext
) -> None:
    committee_id = (await state.get_data())["committee_id"]
    names = [n for n in re.split(r"[、，,；;/\s]+", message.text or "") if n]
    await categories.add(session, actor, committee_id, *names)
    await state.clear()
    await _show(message, session, actor, committee_id, edit=False)
