"""The daily digest (每日提醒) and /notify (issue 14): members who newly crossed a
threshold of SPEC §3 — including the clocks a disposition starts (停止党籍满2年
and the warning before it, 限期改正期满, 延长预备期届满, 保留组织关系期满) — one
message a day per secretary, counts per branch for committee staff.

``render_digest`` is what the scheduler sends; the taps on its buttons come
back here: a member's card (the register's card, opened as a new message so
the digest stays readable) and, for committee staff, one branch's names.
"""

from __future__ import annotations

from datetime import date
from functools import cache

from aiogram import F, html
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import SUPPORTED, build_i18n
from bot.settings import Settings
from domain.errors import N_
from handlers.filters import HasRole
from handlers.member_view import MemberAction
from handlers.members import show_card
from handlers.routes import Routes
from storage.services import digest as service
from storage.services.access import Actor, Role, require_branch
from storage.services.digest import CLOCKS, Crossing, Digest

router = Routes("digest")
router.filter(HasRole(Role.SECRETARY, Role.COMMITTEE))

# Telegram: a message holds at most 4,096 characters and a keyboard 100 buttons.
MAX_MEMBERS = 60
MAX_BRANCHES = 60
TEXT_BUDGET = 3_800  # room left for the closing lines
PER_ROW = 5

HEADINGS = {
    "lost": N_("失联超过6个月"),
    "mobile": N_("连续6个月未参加线下组织生活，请研究是否按流动党员管理"),
    "pocket": N_("介绍信开出后逾期未收到回执（“口袋”党员）"),
    "probation": N_("预备期满一年，请及时讨论转正"),
    # R-SUSPEND-2Y: never automatic, the branch starts the procedure.
    "suspension": N_("停止党籍满2年：仍无法取得联系的，可按自行脱党除名办理（需按程序）"),
    "suspension_soon": N_("停止党籍即将满2年：满2年前本人可申请恢复党籍"),
    "correction": N_("限期改正期满，请支部进行期满评定"),
    "extended_probation": N_("延长的预备期届满，请及时讨论能否转正"),
    "retention": N_("保留组织关系期满，请了解本人情况并及时办理"),
}
SHORT = {
    "lost": N_("失联"),
    "mobile": N_("疑似流动"),
    "pocket": N_("口袋"),
    "probation": N_("预备期满"),
    "suspension": N_("停止党籍满2年"),
    "suspension_soon": N_("停止党籍将满2年"),
    "correction": N_("限期改正期满"),
    "extended_probation": N_("延长预备期满"),
    "retention": N_("保留组织关系期满"),
}


class DigestBranch(CallbackData, prefix="dgb"):
    """A committee digest's branch: its names for the digest's days (ordinals)."""

    branch_id: int
    since: int
    today: int


class DigestSwitch(CallbackData, prefix="dgs"):
    on: bool


@cache
def _fallback_i18n() -> I18n:
    return build_i18n()


def render_digest(d: Digest) -> tuple[str, InlineKeyboardMarkup]:
    """The digest message in the recipient's language (Chinese unless they chose
    another with /lang). Works inside a handler's or the scheduler's I18n
    context, and without one (then it builds the catalogues once)."""
    i18n = I18n.get_current(no_error=True)
    if i18n is None:
        with _fallback_i18n().context() as own:
            return _render_in(own, d)
    return _render_in(i18n, d)


def _render_in(i18n: I18n, d: Digest) -> tuple[str, InlineKeyboardMarkup]:
    locale = d.locale if d.locale in SUPPORTED else i18n.default_locale
    with i18n.use_locale(locale):
        if d.kind == "committee":
            return _committee(d)
        return _branch(d.org_name, d.since, d.today, d.crossings)


def _day(day: date) -> str:
    return _("{month}月{day}日").format(month=day.month, day=day.day)


def _period(since: date, today: date) -> str:
    start = date.fromordinal(since.toordinal() + 1)
    if start >= today:
        return _day(today)
    return _("{start}至{end}").format(start=_day(start), end=_day(today))


def _when(c: Crossing) -> str:
    """The member's line after the name: the day the clock ran out, or for a
    warning the day it will."""
    if c.clock == "suspension_soon" and c.ends_on is not None:
        return _("{day}满2年").format(day=_day(c.ends_on))
    return _("{day}起").format(day=_day(c.crossed_on))


def _branch(
    org_name: str, since: date, today: date, found: tuple[Crossing, ...]
) -> tuple[str, InlineKeyboardMarkup]:
    lines = [
        _("<b>每日提醒</b> · {org}").format(org=html.quote(org_name)),
        _("{period}新到期的党员（共{n}人）：").format(period=_period(since, today), n=len(found)),
    ]
    buttons: list[InlineKeyboardButton] = []
    size = sum(len(line) + 1 for line in lines)
    shown = 0
    for clock in CLOCKS:
        group = [c for c in found if c.clock == clock]
        if not group:
            continue
        heading = f"<b>{_(HEADINGS[clock])}</b>"
        if shown >= MAX_MEMBERS or size + len(heading) > TEXT_BUDGET:
            break
        lines.append(heading)
        size += len(heading) + 1
        for c in group:
            line = f"{shown + 1}. {html.quote(c.name)} · " + _when(c)
            if shown >= MAX_MEMBERS or size + len(line) > TEXT_BUDGET:
                break
            lines.append(line)
            size += len(line) + 1
            shown += 1
            buttons.append(
                InlineKeyboardButton(
                    text=str(shown),
                    callback_data=MemberAction(action="open", member_id=c.member_id).pack(),
                )
            )
    if shown < len(found):
        lines.append(_("…及另外{n}人").format(n=len(found) - shown))
    lines.append(_("点编号打开党员卡片。发送 /notify 可关闭每日提醒。"))
    rows = [buttons[i : i + PER_ROW] for i in range(0, len(buttons), PER_ROW)]
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


def _committee(d: Digest) -> tuple[str, InlineKeyboardMarkup]:
    lines = [
        _("<b>每日提醒</b> · {org}").format(org=html.quote(d.org_name)),
        _("{period}各党支部新到期的党员：").format(period=_period(d.since, d.today)),
    ]
    rows = []
    size = sum(len(line) + 1 for line in lines)
    for b in d.branches[:MAX_BRANCHES]:
        counts = " · ".join(
            _("{what}{n}人").format(what=_(SHORT[clock]), n=n) for clock, n in b.counts
        )
        line = f"{html.quote(b.name)}：{counts}"
        if size + len(line) > TEXT_BUDGET:
            break
        lines.append(line)
        size += len(line) + 1
        target = DigestBranch(
            branch_id=b.branch_id, since=d.since.toordinal(), today=d.today.toordinal()
        )
        rows.append([InlineKeyboardButton(text=b.name[:40], callback_data=target.pack())])
    if len(rows) < len(d.branches):
        lines.append(_("…及另外{n}个党支部").format(n=len(d.branches) - len(rows)))
    lines.append(_("点党支部名称查看名单。发送 /notify 可关闭每日提醒。"))
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


@router.callback_query(MemberAction.filter(F.action == "open"))
async def open_card(
    call: CallbackQuery,
    callback_data: MemberAction,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    """A digest's member: the card, below the digest (the card's access check)."""
    assert isinstance(call.message, Message)
    await state.clear()
    await show_card(call.message, session, actor, callback_data.member_id, edit=False)


@router.callback_query(DigestBranch.filter())
async def branch_names(
    call: CallbackQuery,
    callback_data: DigestBranch,
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
) -> None:
    """A committee digest's branch: who it counted, each a tap to the card."""
    assert isinstance(call.message, Message)
    branch = await require_branch(session, actor, callback_data.branch_id)
    since = date.fromordinal(callback_data.since)
    today = date.fromordinal(callback_data.today)
    found = await service.crossings(
        session,
        since=since,
        today=today,
        pocket_days=settings.pocket_days,
        branch_ids=[branch.id],
    )
    text, keyboard = _branch(branch.name, since, today, tuple(found))
    await call.message.answer(text, reply_markup=keyboard)


def _switch_view(on: bool) -> tuple[str, InlineKeyboardMarkup]:
    if on:
        text = _(
            "每日提醒：<b>已开启</b>。每天上午把新失联、疑似流动、“口袋”党员和预备期满的党员，"
            "以及停止党籍、限期改正、延长预备期、保留组织关系到期的党员发给您；没有新情况就不发。"
        )
        button = InlineKeyboardButton(
            text=_("关闭每日提醒"), callback_data=DigestSwitch(on=False).pack()
        )
    else:
        text = _("每日提醒：<b>已关闭</b>。")
        button = InlineKeyboardButton(
            text=_("开启每日提醒"), callback_data=DigestSwitch(on=True).pack()
        )
    return text, InlineKeyboardMarkup(inline_keyboard=[[button]])


@router.message(Command("notify"))
async def notify(message: Message, session: AsyncSession, actor: Actor) -> None:
    text, keyboard = _switch_view(await service.digest_on(session, actor.user_id))
    await message.answer(text, reply_markup=keyboard)


@router.callback_query(DigestSwitch.filter())
async def switch(
    call: CallbackQuery, callback_data: DigestSwitch, session: AsyncSession, actor: Actor
) -> None:
    assert isinstance(call.message, Message)
    await service.set_digest(session, actor.user_id, callback_data.on)
    text, keyboard = _switch_view(callback_data.on)
    await call.message.edit_text(text, reply_markup=keyboard)
