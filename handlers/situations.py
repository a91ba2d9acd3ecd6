"""/lost, /mobile, /pocket — who needs finding (失联 / 流动 / 口袋党员), longest first,
with months without contact and attempts so far."""

from __future__ import annotations

from aiogram import F, html
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings
from domain.clock import Clock
from domain.clocks import Standing
from domain.errors import N_
from handlers.branch_choice import pick_branch
from handlers.filters import Known
from handlers.member_view import BranchPick, MemberAction
from handlers.routes import Routes
from storage.models import Organisation
from storage.services.access import Actor, Role
from storage.services.situations import (
    MemberSituation,
    branch_situations,
    longest_first,
    mobile_suspects,
)

router = Routes("situations")
router.filter(Known())

LISTS = {
    "lost": (Standing.LOST, N_("失联党员（超过6个月未与党组织联系）")),
    "mobile": (Standing.MOBILE, N_("流动党员")),
    "pocket": (Standing.POCKET, N_("“口袋”党员（介绍信已开出，未收到回执）")),
}
MAX_SHOWN = 30


def _line(i: int, row: MemberSituation) -> str:
    s = row.situation
    parts = [f"{i}. <b>{html.quote(row.member.name)}</b>"]
    if s.lost_for is not None and s.standing is Standing.LOST:
        parts.append(_("失联{span}").format(span=s.lost_for.zh()))
    if s.pocket_days is not None and s.standing is Standing.POCKET:
        parts.append(_("介绍信开出{days}天").format(days=s.pocket_days))
        if row.member.transfer_receiver:
            parts.append(html.quote(row.member.transfer_receiver))
    parts.append(_("已查找{n}次").format(n=row.attempts))
    return " · ".join(parts)


async def _show(
    message: Message,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    settings: Settings,
    kind: str,
    branch_id: int,
) -> None:
    standing, title = LISTS[kind]
    everyone = await branch_situations(
        session, actor, branch_id, clock.today(), pocket_days=settings.pocket_days
    )
    rows = longest_first(everyone, standing)
    suspects = mobile_suspects(everyone, clock.today()) if kind == "mobile" else []
    branch = await session.get(Organisation, branch_id)
    assert branch is not None
    head = f"<b>{html.quote(branch.name)}</b> · {_(title)}：" + _("{n}人").format(n=len(rows))
    if suspects:
        await _suggest_mobile(message, actor, branch_id, suspects)
    if not rows:
        await message.answer(head)
        return
    shown = rows[:MAX_SHOWN]
    lines = [head, *(_line(i, r) for i, r in enumerate(shown, 1))]
    if len(rows) > MAX_SHOWN:
        lines.append(_("……另有{n}人").format(n=len(rows) - MAX_SHOWN))
    buttons = [
        InlineKeyboardButton(
            text=str(i), callback_data=MemberAction(action="log", member_id=r.member.id).pack()
        )
        for i, r in enumerate(shown, 1)
    ]
    rows_kb = [buttons[i : i + 6] for i in range(0, len(buttons), 6)]
    if branch_id not in actor.orgs(Role.SECRETARY):  # committee staff read, secretaries log
        rows_kb = []
    else:
        lines.append(_("点编号记录一次查找。"))
    await message.answer(
        "\n".join(lines), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows_kb)
    )


async def _suggest_mobile(
    message: Message, actor: Actor, branch_id: int, suspects: list[MemberSituation]
) -> None:
    lines = [
        _(
            "<b>疑似流动党员</b>：连续6个月未线下参加组织生活，但仍有联系（如交纳党费）。"
            "请支部研究是否按流动党员管理："
        )
    ]
    lines += [
        f"{i}. {html.quote(r.member.name)} · "
        + _("最近组织生活：{day}").format(day=r.member.last_org_life)
        for i, r in enumerate(suspects[:MAX_SHOWN], 1)
    ]
    rows = []
    if branch_id in actor.orgs(Role.SECRETARY):
        rows = [
            [
                InlineKeyboardButton(
                    text=_("登记 {name} 为流动党员").format(name=r.member.name),
                    callback_data=MemberAction(action="mobile", member_id=r.member.id).pack(),
                )
            ]
            for r in suspects[:MAX_SHOWN]
        ]
    await message.answer(
        "\n".join(lines), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows) if rows else None
    )


def _register(kind: str) -> None:
    @router.message(Command(kind))
    async def list_command(
        message: Message, session: AsyncSession, actor: Actor, clock: Clock, settings: Settings
    ) -> None:
        branch = await pick_branch(message, session, actor, kind, write=False)
        if branch is not None:
            await _show(message, session, actor, clock, settings, kind, branch.id)

    @router.callback_query(BranchPick.filter(F.purpose == kind))
    async def list_branch(
        call: CallbackQuery,
        callback_data: BranchPick,
        session: AsyncSession,
        actor: Actor,
        clock: Clock,
        settings: Settings,
    ) -> None:
        assert isinstance(call.message, Message)
        await _show(call.message, session, actor, clock, settings, kind, callback_data.branch_id)


for _kind in LISTS:
    _register(_kind)
