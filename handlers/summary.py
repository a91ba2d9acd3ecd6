"""/summary: the campaign at a glance (排查进展一览, issue 15 item 6).

A secretary sees their branch: members by standing today, the search for the
lost, the sweep of the campaign in force and the deadlines ahead with what
was marked 已报送. Committee staff see the current campaign as a table, one
line per branch (the 30 with most lost; the rest are in /export), and a chart
drawn in the export worker process while “sending a photo…” shows, so the bot
keeps answering everyone else. Whoever holds several (branches, committees'
campaigns) taps one first; every id that comes back is checked again in
storage/services/campaign_summary.py (R-ACL-BRANCH).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date

from aiogram import Bot, F, html
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.chat_action import ChatActionSender
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings
from domain.campaigns import days_left
from domain.clock import Clock
from domain.clocks import Standing
from handlers.filters import HasRole
from handlers.member_view import BranchPick
from handlers.routes import Routes
from reports import pool
from reports.chart import ChartRow, ChartText, render_progress_chart
from storage.services import campaign_summary
from storage.services.access import Actor, Role
from storage.services.campaign_summary import BranchFigures, BranchSummary, CommitteeSummary
from storage.services.form_data import RenderJob
from storage.services.orgs import branches_for

router = Routes("summary")
router.filter(HasRole(Role.SECRETARY, Role.COMMITTEE))

MESSAGE_BUDGET = 3_800  # Telegram's limit is 4,096 characters a message
NAME_CELLS = 16  # monospace cells for a branch's name in the table
STAGES_SHOWN = 5


class SummaryAct(CallbackData, prefix="sm"):
    """A committee's campaign; re-checked on the server (require_committee)."""

    campaign_id: int


@dataclass(frozen=True)
class Deps:
    """What every view needs besides the session and the actor."""

    bot: Bot
    today: date
    pocket_days: int


# ---- who sees what -----------------------------------------------------------


@router.message(Command("summary"))
async def start(
    message: Message,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    settings: Settings,
    bot: Bot,
) -> None:
    deps = Deps(bot, clock.today(), settings.pocket_days)
    campaigns = await campaign_summary.committee_campaigns(session, actor)
    branches = await branches_for(session, actor, write=True)
    if len(campaigns) + len(branches) == 1:
        if campaigns:
            await _committee(message, session, actor, campaigns[0].id, deps)
        else:
            await _branch(message, session, actor, branches[0].id, deps)
        return
    if not campaigns and not branches:
        await message.answer(_("目前没有进行中的排查。发送 /campaign 新建。"))
        return
    rows = [
        [
            InlineKeyboardButton(
                text=_("🏛 {name}（全党委）").format(name=c.name),
                callback_data=SummaryAct(campaign_id=c.id).pack(),
            )
        ]
        for c in campaigns
    ] + [
        [
            InlineKeyboardButton(
                text=b.name, callback_data=BranchPick(purpose="summary", branch_id=b.id).pack()
            )
        ]
        for b in branches
    ]
    await message.answer(
        _("看哪一项的进展？"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows)
    )


@router.callback_query(SummaryAct.filter())
async def campaign_chosen(
    call: CallbackQuery,
    callback_data: SummaryAct,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    settings: Settings,
    bot: Bot,
) -> None:
    assert isinstance(call.message, Message)
    deps = Deps(bot, clock.today(), settings.pocket_days)
    await _committee(call.message, session, actor, callback_data.campaign_id, deps)


@router.callback_query(BranchPick.filter(F.purpose == "summary"))
async def branch_chosen(
    call: CallbackQuery,
    callback_data: BranchPick,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    settings: Settings,
    bot: Bot,
) -> None:
    assert isinstance(call.message, Message)
    deps = Deps(bot, clock.today(), settings.pocket_days)
    await _branch(call.message, session, actor, callback_data.branch_id, deps)


# ---- a branch ------------------------------------------------------------------


async def _branch(
    message: Message, session: AsyncSession, actor: Actor, branch_id: int, deps: Deps
) -> None:
    summary = await campaign_summary.branch_summary(
        session, actor, branch_id, deps.today, deps.pocket_days
    )
    await message.answer(branch_text(summary, deps.today))


def _day(day: date) -> str:
    return _("{y}年{m}月{d}日").format(y=day.year, m=day.month, d=day.day)


def branch_text(s: BranchSummary, today: date) -> str:
    f, counts = s.figures, s.standings
    standing = " · ".join(
        # One msgid: Chinese writes the count against the word, English apart.
        _("{label}{n}").format(label=label, n=counts[code])
        for code, label in (
            (Standing.NORMAL, _("正常")),
            (Standing.LOST, _("失联")),
            (Standing.MOBILE, _("流动")),
            (Standing.POCKET, _("口袋")),
            (Standing.UNKNOWN, _("待完善")),
        )
    )
    lines = [
        _("<b>{name}</b> 排查进展（{day}）").format(
            name=html.quote(s.branch.name), day=_day(today)
        ),
        _("党员{n}人：{standing}").format(n=f.members, standing=standing),
        _(
            "失联党员查找（共{lost}人）：取得联系{reached} · 仍无法取得联系{unreachable} · "
            "查找中{searching} · 未开始查找{todo}"
        ).format(
            lost=f.lost,
            reached=f.reached,
            unreachable=f.unreachable,
            searching=f.searching,
            todo=f.not_started,
        ),
    ]
    if s.campaign is None:
        lines.append(_("本支部目前不在进行中的排查范围内。"))
    else:
        lines.append(
            _("<b>{campaign}</b>：已核查{checked}/{members}人 · 待完善{pending}项").format(
                campaign=html.quote(s.campaign.name),
                checked=f.checked,
                members=f.members,
                pending=f.pending,
            )
        )
    if s.due:
        lines.append(_("截止时间："))
        for d in s.due[:STAGES_SHOWN]:
            left = days_left(d.due, today)
            when = _("今天截止") if left == 0 else _("还有{n}天").format(n=left)
            items = [i for o in d.own if o.org_id == s.branch.id for i in o.items]
            done = sum(i.done for i in items)
            mark = (
                ""
                if not items
                else " ✅ " + _("已报送")
                if done == len(items)
                else " " + _("已报送{done}/{n}项").format(done=done, n=len(items))
            )
            lines.append(f"• {d.due.month}月{d.due.day}日（{when}）{html.quote(d.title)}{mark}")
        if len(s.due) > STAGES_SHOWN:
            lines.append(_("……更多见 /deadlines"))
    return "\n".join(lines)


# ---- a committee -----------------------------------------------------------------


async def _committee(
    message: Message, session: AsyncSession, actor: Actor, campaign_id: int, deps: Deps
) -> None:
    summary = await campaign_summary.committee_summary(
        session, actor, campaign_id, deps.today, deps.pocket_days
    )
    shown, left = summary.top()
    for text in committee_texts(summary, shown, left, deps.today):
        await message.answer(text)
    if not shown:
        return
    job = RenderJob(render_progress_chart, (_chart_text(summary), _chart_rows(shown)))
    # Drawing is CPU work: in the export worker process, not on the event loop.
    async with ChatActionSender.upload_photo(bot=deps.bot, chat_id=message.chat.id):
        png = await pool.render(job)
    if not png:
        await message.answer(_("未安装中文字体（如 fonts-wqy-microhei），图表略"))
        return
    await message.answer_photo(
        BufferedInputFile(png, filename="summary.png"),
        caption=_("{name} 各党支部进展").format(name=summary.campaign.name),
    )


def _cells(text: str) -> int:
    """Width in monospace cells: 汉字 and full-width signs take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _fit(text: str, cells: int) -> str:
    """Cut to ``cells`` (with …) and pad on the right."""
    if _cells(text) > cells:
        while _cells(text) > cells - 1:
            text = text[:-1]
        text += "…"
    return text + " " * (cells - _cells(text))


def _columns() -> list[str]:
    return [_("在册"), _("已核查"), _("失联"), _("取得联系"), _("仍无法联系"), _("已处置")]


def _values(f: BranchFigures) -> tuple[int, ...]:
    return (f.members, f.checked, f.lost, f.reached, f.unreachable, f.settled)


def _row(name: str, f: BranchFigures, widths: list[int]) -> str:
    cells = [str(v).rjust(w) for v, w in zip(_values(f), widths, strict=True)]
    return html.quote(_fit(name, NAME_CELLS)) + " " + " ".join(cells)


def committee_texts(
    s: CommitteeSummary, shown: list[BranchFigures], left: int, today: date
) -> list[str]:
    """The heading, the table in <pre> (split to stay under Telegram's 4,096
    characters, the header row repeated) and the notes."""
    head = _("<b>{committee} · {campaign}</b> 进展（{day}）").format(
        committee=html.quote(s.committee_name),
        campaign=html.quote(s.campaign.name),
        day=_day(today),
    )
    if not shown:
        return [head + "\n" + _("本次排查还没有党支部。")]
    columns = _columns()
    # Each column as wide as its title or its widest figure (the 合计's).
    widths = [
        max(_cells(title), *(len(str(_values(f)[k])) for f in [*shown, s.total]))
        for k, title in enumerate(columns)
    ]
    titles = [" " * (w - _cells(t)) + t for t, w in zip(columns, widths, strict=True)]
    header = _fit(_("党支部"), NAME_CELLS) + " " + " ".join(titles)
    lines = [_row(f.name, f, widths) for f in shown]
    lines.append(_row(_("合计"), s.total, widths))
    notes = []
    if left:
        notes.append(_("其余{n}个党支部见 /export").format(n=left))
    notes.append(
        _(
            "失联：查找对象，含已取得联系的；已处置：处置已办结的人数"
            "（办理中、已撤回或党员大会未通过的不计）。"
        )
    )
    messages: list[str] = []
    block: list[str] = []
    size = len(head)
    for line in lines:
        if block and size + len(line) + 1 > MESSAGE_BUDGET:
            messages.append(_pre(header, block))
            block, size = [], 0
        block.append(line)
        size += len(line) + 1
    messages.append(_pre(header, block))
    messages[0] = head + "\n" + messages[0]
    tail = "\n".join(notes)
    if len(messages[-1]) + len(tail) + 1 <= MESSAGE_BUDGET:
        messages[-1] += "\n" + tail
    else:
        messages.append(tail)
    return messages


def _pre(header: str, block: list[str]) -> str:
    return "<pre>" + html.quote(header) + "\n" + "\n".join(block) + "</pre>"


def _chart_text(s: CommitteeSummary) -> ChartText:
    return ChartText(
        title=_("{committee} {campaign} 进展").format(
            committee=s.committee_name, campaign=s.campaign.name
        ),
        sweep=_("核查进度"),
        search=_("失联党员查找"),
        members=_("在册"),
        checked=_("已核查"),
        lost=_("失联"),
        reached=_("取得联系"),
        unreachable=_("仍无法联系"),
        settled=_("已处置"),
    )


def _chart_rows(rows: list[BranchFigures]) -> tuple[ChartRow, ...]:
    return tuple(
        ChartRow(f.name, f.members, f.checked, f.lost, f.reached, f.unreachable, f.settled)
        for f in rows
    )
