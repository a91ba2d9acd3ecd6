"""/review — the committee's view of the sweep (党(工)委工作组核查, seed 004):
every branch's progress in one message, a row per branch."""

from __future__ import annotations

from aiogram import html
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.filters import HasRole
from handlers.routes import Routes
from storage.services import campaigns, sweep
from storage.services.access import Actor, Role

router = Routes("review")
router.filter(HasRole(Role.COMMITTEE))


class ReviewAct(CallbackData, prefix="rv"):
    campaign_id: int


async def _show(message: Message, session: AsyncSession, actor: Actor, campaign_id: int) -> None:
    campaign, rows = await sweep.committee_progress(session, actor, campaign_id)
    total = sum(r.members for r in rows)
    done = sum(r.checked for r in rows)
    lines = [
        f"<b>{html.quote(campaign.name)}</b>",
        _("全部：已核查{done}/{total}人").format(done=done, total=total),
        _("党支部 · 已核查/人数 · 待完善 · 问题"),
    ]
    for r in rows:
        mark = "✅" if r.members and r.checked == r.members else "⏳"
        lines.append(
            f"{mark} {html.quote(r.name)} · {r.checked}/{r.members} · {r.pending} · {r.problems}"
        )
    await message.answer("\n".join(lines))


@router.message(Command("review"))
async def review(message: Message, session: AsyncSession, actor: Actor) -> None:
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


@router.callback_query(ReviewAct.filter())
async def chosen(
    call: CallbackQuery, callback_data: ReviewAct, session: AsyncSession, actor: Actor
) -> None:
    assert isinstance(call.message, Message)
    await _show(call.message, session, actor, callback_data.campaign_id)
