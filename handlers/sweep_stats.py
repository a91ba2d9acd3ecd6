"""/sweep for committee staff: the sweep counted by 人员类别, the figures of the
党员摸底核查情况统计表 (seed 000 附件9). Secretaries' /sweep is the walk
(handlers/sweep.py), which comes first in the router order."""

from __future__ import annotations

from aiogram import html
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings
from domain.clock import Clock
from domain.clocks import Standing
from handlers.filters import HasRole
from handlers.routes import Routes
from storage.models import Campaign
from storage.services import campaigns
from storage.services.access import Actor, Role
from storage.services.sweep_stats import CategoryRow, category_summary

router = Routes("sweep_stats")
router.filter(HasRole(Role.COMMITTEE))


class StatsAct(CallbackData, prefix="ss"):
    campaign_id: int


def _line(label: str, row: CategoryRow) -> str:
    return _(
        "<b>{label}</b>：党员{members}人 · 完成五核查{checked}人 · 待完善{pending}项 · "
        "问题{problems}项 · 失联{lost} · 流动{mobile} · 口袋{pocket}"
    ).format(
        label=html.quote(label),
        members=row.members,
        checked=row.checked,
        pending=row.pending,
        problems=row.problems,
        lost=row.standings[Standing.LOST],
        mobile=row.standings[Standing.MOBILE],
        pocket=row.standings[Standing.POCKET],
    )


async def _show(
    message: Message,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    settings: Settings,
    campaign_id: int,
) -> None:
    campaign, rows, total = await category_summary(
        session, actor, campaign_id, clock.today(), settings.pocket_days
    )
    lines = [
        _("<b>{name}</b> 党员摸底核查情况（按人员类别）").format(name=html.quote(campaign.name))
    ]
    lines += [_line(r.category or _("未填写人员类别"), r) for r in rows if r.members or r.category]
    lines.append(_line(_("合计"), total))
    if not any(r.category for r in rows):
        lines.append(_("还没有设置人员类别：发送 /categories 设置（如教职工/学生）。"))
    await message.answer("\n".join(lines))


async def committee_campaigns(session: AsyncSession, actor: Actor) -> list[Campaign]:
    """Open campaigns of the actor's own committees (empty for a secretary only)."""
    return [
        c
        for c in await campaigns.visible_campaigns(session, actor)
        if c.committee_id in actor.orgs(Role.COMMITTEE)
    ]


def stats_button(campaign: Campaign) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("📊 按人员类别统计：{name}").format(name=campaign.name),
        callback_data=StatsAct(campaign_id=campaign.id).pack(),
    )


@router.message(Command("sweep"))
async def start(
    message: Message, session: AsyncSession, actor: Actor, clock: Clock, settings: Settings
) -> None:
    await show_committee_sweep(message, session, actor, clock, settings)


async def show_committee_sweep(
    message: Message, session: AsyncSession, actor: Actor, clock: Clock, settings: Settings
) -> None:
    mine = await committee_campaigns(session, actor)
    if not mine:
        await message.answer(_("目前没有进行中的排查。发送 /campaign 新建。"))
        return
    if len(mine) == 1:
        await _show(message, session, actor, clock, settings, mine[0].id)
        return
    rows = [
        [InlineKeyboardButton(text=c.name, callback_data=StatsAct(campaign_id=c.id).pack())]
        for c in mine
    ]
    await message.answer(_("哪一次排查？"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(StatsAct.filter())
async def chosen(
    call: CallbackQuery,
    callback_data: StatsAct,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    settings: Settings,
) -> None:
    assert isinstance(call.message, Message)
    await _show(call.message, session, actor, clock, settings, callback_data.campaign_id)
