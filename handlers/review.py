"""/review — the committee's view of the sweep (党(工)委工作组核查, seed 004):
every branch's progress in one message, a row per branch."""

from __future__ import annotations

import contextlib

from aiogram import Bot, F, html
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import InvalidInput
from handlers.filters import HasRole
from handlers.routes import Routes
from storage.models import Organisation
from storage.services import campaigns, sweep
from storage.services import review as reviews
from storage.services.access import Actor, Role

router = Routes("review")
router.filter(HasRole(Role.COMMITTEE))


class ReviewAct(CallbackData, prefix="rv"):
    """``op``: show (a campaign) / branch / finding / returned / complete."""

    campaign_id: int
    op: str = "show"
    branch_id: int = 0


class ReviewFlow(StatesGroup):
    text = State()


MARKS = {"returned": "↩️", "complete": "✅"}


async def _show(message: Message, session: AsyncSession, actor: Actor, campaign_id: int) -> None:
    campaign, rows = await sweep.committee_progress(session, actor, campaign_id)
    total = sum(r.members for r in rows)
    done = sum(r.checked for r in rows)
    lines = [
        f"<b>{html.quote(campaign.name)}</b>",
        _("全部：已核查{done}/{total}人").format(done=done, total=total),
        _("党支部 · 已核查/人数 · 待完善 · 问题"),
    ]
    marks = await reviews.review_marks(session, campaign_id)
    for r in rows:
        mark = MARKS.get(marks[r.branch_id].kind, "") if r.branch_id in marks else ""
        mark = mark or ("☑️" if r.members and r.checked == r.members else "⏳")
        lines.append(
            f"{mark} {html.quote(r.name)} · {r.checked}/{r.members} · {r.pending} · {r.problems}"
        )
    lines.append(_("✅ 核查完成 · ☑️ 自查完成 · ↩️ 已退回整改 · ⏳ 自查中"))
    buttons = [
        InlineKeyboardButton(
            text=r.name,
            callback_data=ReviewAct(
                campaign_id=campaign_id, op="branch", branch_id=r.branch_id
            ).pack(),
        )
        for r in rows[:90]
    ]
    keyboard = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    await message.answer(
        "\n".join(lines), reply_markup=InlineKeyboardMarkup(inline_keyboard=keyboard)
    )


@router.message(Command("review"))
async def review_command(message: Message, session: AsyncSession, actor: Actor) -> None:
    mine = [
        c
        for c in await campaigns.visible_campaigns(session, actor)
        if c.committee_id in actor.orgs(Role.COMMITTEE)
    ]
    if not mine:
        await message.answer(_("还没有进行中的排查。发送 /campaign 新建。"))
        return
    if len(mine) == 1:
        await _show(message, session, actor, mine[0].id)
        return
    rows = [
        [InlineKeyboardButton(text=c.name, callback_data=ReviewAct(campaign_id=c.id).pack())]
        for c in mine
    ]
    await message.answer(_("哪一次排查？"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(ReviewAct.filter(F.op == "show"))
async def chosen(
    call: CallbackQuery, callback_data: ReviewAct, session: AsyncSession, actor: Actor
) -> None:
    assert isinstance(call.message, Message)
    await _show(call.message, session, actor, callback_data.campaign_id)


@router.callback_query(ReviewAct.filter(F.op == "branch"))
async def branch_actions(
    call: CallbackQuery, callback_data: ReviewAct, session: AsyncSession, actor: Actor
) -> None:
    assert isinstance(call.message, Message)
    await campaigns.campaign_detail(session, actor, callback_data.campaign_id)
    branch = await session.get(Organisation, callback_data.branch_id)
    if branch is None:
        return

    def b(text: str, op: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(
            text=text, callback_data=callback_data.model_copy(update={"op": op}).pack()
        )

    await call.message.answer(
        _("核查 <b>{branch}</b>：").format(branch=html.quote(branch.name)),
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[
                [b(_("📝 记录核查发现"), "finding")],
                [b(_("↩️ 退回整改"), "returned")],
                [b(_("✅ 核查完成"), "complete")],
            ]
        ),
    )


@router.callback_query(ReviewAct.filter(F.op.in_({"finding", "returned"})))
async def ask_text(call: CallbackQuery, callback_data: ReviewAct, state: FSMContext) -> None:
    assert isinstance(call.message, Message)
    await state.set_state(ReviewFlow.text)
    await state.set_data(callback_data.model_dump())
    if callback_data.op == "finding":
        prompt = _("请写明核查发现：")
    else:
        prompt = _("请写明需要整改的内容（支部书记会收到通知）：")
    await call.message.answer(prompt)


async def _record(
    message: Message,
    session: AsyncSession,
    actor: Actor,
    act: ReviewAct,
    text: str | None,
    bot: Bot,
) -> None:
    row, secretaries = await reviews.record_review(
        session, actor, act.campaign_id, act.branch_id, kind=act.op, text=text
    )
    if row.kind == "returned":
        notice = _("↩️ 党委核查退回整改：{text}\n请修改后发送 /todo 查看待办。").format(
            text=html.quote(row.text or "")
        )
        for user_id in secretaries:  # the one sender rate-limits these
            with contextlib.suppress(TelegramAPIError):
                await bot.send_message(user_id, notice)
    await message.answer(_("已记录。"))
    await _show(message, session, actor, act.campaign_id)


@router.message(ReviewFlow.text, F.text)
async def typed_text(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, bot: Bot
) -> None:
    act = ReviewAct(**await state.get_data())
    try:
        await _record(message, session, actor, act, message.text, bot)
    except InvalidInput as exc:
        await message.answer(html.quote(exc.render(_)))
        return
    await state.clear()


@router.callback_query(ReviewAct.filter(F.op == "complete"))
async def complete(
    call: CallbackQuery, callback_data: ReviewAct, session: AsyncSession, actor: Actor, bot: Bot
) -> None:
    assert isinstance(call.message, Message)
    await _record(call.message, session, actor, callback_data, None, bot)
