"""/deadlines — what is due, by whom, and 已报送 (R-REMIND, issue 14).

A secretary sees each upcoming stage with days left and their branch's items,
one tap to mark an item 已报送 (a second tap undoes it). Committee staff see,
per stage, which branches have not submitted, tap into a stage's branch list
and into one branch to mark or undo for it, and their committee's own upward
items. The reminders and escalations the scheduler sends are rendered here
too (``render_reminder``, ``render_escalation``), with the same buttons.
Every tap is checked again in storage/services/submissions.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import date
from functools import cache

from aiogram import F, html
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import SUPPORTED, build_i18n
from domain.campaigns import Direction, days_left
from domain.clock import Clock
from handlers.filters import Known
from handlers.routes import Routes
from storage.services import submissions
from storage.services.access import Actor
from storage.services.submissions import EscalationNotice, ItemState, OrgItems, Reminder, StageDue

router = Routes("deadlines")
router.filter(Known())

# Telegram: at most 4,096 characters in a message and 100 buttons in a keyboard.
MAX_STAGES = 40
TEXT_BUDGET = 3_700  # room left for the closing lines
MAX_BUTTONS = 90
BRANCH_PAGE = 30
NAMES_SHOWN = 10
BUTTON_TITLE = 24  # characters of an item's title on its button


class DueAct(CallbackData, prefix="dl"):
    """``op``: mark / undo (an item for an org) / stage (its branches, for
    committee staff) / org (one org's items in a stage). ``back``: "a" the
    message is /deadlines (re-rendered after a mark), "s" it is a stage or
    branch view (edited in place), "" a new view opens as a new message."""

    op: str
    stage_id: int = 0
    org_id: int = 0
    item_id: int = 0
    page: int = 0
    back: str = ""


def _b(
    text: str,
    *,
    op: str,
    stage_id: int = 0,
    org_id: int = 0,
    item_id: int = 0,
    page: int = 0,
    back: str = "",
) -> InlineKeyboardButton:
    data = DueAct(op=op, stage_id=stage_id, org_id=org_id, item_id=item_id, page=page, back=back)
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def _short(title: str) -> str:
    return title if len(title) <= BUTTON_TITLE else title[: BUTTON_TITLE - 1] + "…"


def _when(due: date, left: int, approximate: bool = False) -> str:
    """“12月15日（还有3天）”, “（今天截止）”, “（已过1天）”."""
    about = _("约") if approximate else ""
    if left > 0:
        status = _("还有{n}天").format(n=left)
    elif left == 0:
        status = _("今天截止")
    else:
        status = _("已过{n}天").format(n=-left)
    return _("{about}{month}月{day}日（{status}）").format(
        about=about, month=due.month, day=due.day, status=status
    )


def _item_line(item: ItemState) -> str:
    return ("✅ " if item.done else "⬜ ") + html.quote(item.title)


def _toggle(
    prefix: str, stage_id: int, org_id: int, item: ItemState, back: str
) -> InlineKeyboardButton:
    """One button per item: ⬜ marks it 已报送, ✅ takes the mark back."""
    return _b(
        f"{prefix}{'✅' if item.done else '⬜'} {_short(item.title)}",
        op="undo" if item.done else "mark",
        stage_id=stage_id,
        org_id=org_id,
        item_id=item.id,
        back=back,
    )


async def _edit(message: Message, text: str, markup: InlineKeyboardMarkup | None) -> None:
    # A second tap on a button whose state already changed renders the same
    # view: Telegram refuses an edit that changes nothing.
    with contextlib.suppress(TelegramBadRequest):
        await message.edit_text(text, reply_markup=markup)


# ---- /deadlines ----------------------------------------------------------------


def _stage_block(n: int, d: StageDue, today: date) -> tuple[list[str], list[InlineKeyboardButton]]:
    """One stage of /deadlines: its lines and its buttons (numbered as the stage)."""
    lines = [f"{n}. {html.quote(d.title)} — {_when(d.due, days_left(d.due, today), d.approximate)}"]
    buttons: list[InlineKeyboardButton] = []
    if not d.own and d.branches is None and d.what:
        lines.append("   " + html.quote(d.what))
    named = len(d.own) > 1 or d.branches is not None or d.direction is Direction.committee_to_upper
    for org in d.own:
        if named:
            lines.append("   " + _("{org}：").format(org=html.quote(org.org_name)))
        lines.extend("   " + _item_line(i) for i in org.items)
        buttons.extend(_toggle(f"{n} ", d.stage_id, org.org_id, i, "a") for i in org.items)
    if d.branches is not None:
        late = d.missing_branches
        if late:
            names = "、".join(html.quote(b.org_name) for b in late[:NAMES_SHOWN])
            more = _("等") if len(late) > NAMES_SHOWN else ""
            lines.append(
                "   "
                + _("未报送：{n}/{total}个党支部（{names}{more}）").format(
                    n=len(late), total=len(d.branches), names=names, more=more
                )
            )
        else:
            lines.append("   " + _("✅ 各党支部已全部报送"))
        label = _("{n} 📋 各党支部报送情况（未报{late}个）").format(n=n, late=len(late))
        buttons.append(_b(label, op="stage", stage_id=d.stage_id))
    return lines, buttons


def _overview(dues: list[StageDue], today: date) -> tuple[str, InlineKeyboardMarkup | None]:
    if not dues:
        return _("目前没有待办的截止时间。"), None
    lines = [_("<b>截止时间</b>")]
    buttons: list[list[InlineKeyboardButton]] = []
    size = len(lines[0])
    campaign_id = 0
    shown = 0
    for n, d in enumerate(dues[:MAX_STAGES], 1):
        block, taps = _stage_block(n, d, today)
        if d.campaign_id != campaign_id:
            block.insert(0, f"\n<b>{html.quote(d.campaign_name)}</b>")
        cost = sum(len(line) + 1 for line in block)
        if size + cost > TEXT_BUDGET or len(buttons) + len(taps) > MAX_BUTTONS:
            break  # Telegram's limits: the later stages come once these are done
        campaign_id = d.campaign_id
        lines.extend(block)
        buttons.extend([t] for t in taps)
        size += cost
        shown = n
    if shown < len(dues):
        lines.append("\n" + _("……另有{n}个阶段，截止日期更晚。").format(n=len(dues) - shown))
    if any(d.own for d in dues[:shown]):
        lines.append("\n" + _("报送后点对应事项标记“已报送”；点错了再点一次即可撤销。"))
    markup = InlineKeyboardMarkup(inline_keyboard=buttons) if buttons else None
    return "\n".join(lines), markup


@router.message(Command("deadlines"))
async def list_deadlines(
    message: Message, session: AsyncSession, actor: Actor, clock: Clock
) -> None:
    today = clock.today()
    text, markup = _overview(await submissions.deadlines(session, actor, today), today)
    await message.answer(text, reply_markup=markup)


# ---- one stage's branches; one organisation's items ---------------------------


def _head(d: StageDue, today: date) -> list[str]:
    return [
        f"<b>{html.quote(d.title)}</b> — {_when(d.due, days_left(d.due, today), d.approximate)}",
        html.quote(d.campaign_name),
    ]


def _stage_view(d: StageDue, today: date, page: int) -> tuple[str, InlineKeyboardMarkup]:
    branches = list(d.branches or ())
    late = [b for b in branches if b.missing]
    lines = _head(d, today)
    lines.append(_("未报送：{n}/{total}个党支部").format(n=len(late), total=len(branches)))
    ordered = late + [b for b in branches if not b.missing]
    pages = max(1, -(-len(ordered) // BRANCH_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = ordered[page * BRANCH_PAGE : (page + 1) * BRANCH_PAGE]
    for b in shown:
        if b.missing:
            lines.append(
                "⬜ " + _("{org}：缺{n}项").format(org=html.quote(b.org_name), n=len(b.missing))
            )
    if not late:
        lines.append(_("✅ 各党支部已全部报送"))
    lines.append(_("点党支部查看其报送事项，可代为标记或撤销“已报送”。"))
    if pages > 1:
        lines.append(_("（第{page}/{pages}页）").format(page=page + 1, pages=pages))
    cells = [
        _b(
            (f"⬜ {b.org_name}（{len(b.missing)}）" if b.missing else f"✅ {b.org_name}"),
            op="org",
            stage_id=d.stage_id,
            org_id=b.org_id,
            back="s",
        )
        for b in shown
    ]
    rows = [cells[i : i + 2] for i in range(0, len(cells), 2)]
    nav = []
    if page > 0:
        nav.append(_b("◀", op="stage", stage_id=d.stage_id, page=page - 1, back="s"))
    if page + 1 < pages:
        nav.append(_b("▶", op="stage", stage_id=d.stage_id, page=page + 1, back="s"))
    if nav:
        rows.append(nav)
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


def _org_view(d: StageDue, org: OrgItems, today: date) -> tuple[str, InlineKeyboardMarkup]:
    done = len(org.items) - len(org.missing)
    lines = _head(d, today)
    lines.append(
        _("<b>{org}</b>：已报送{done}/{total}项").format(
            org=html.quote(org.org_name), done=done, total=len(org.items)
        )
    )
    lines.extend(_item_line(i) for i in org.items)
    lines.append(_("点事项标记“已报送”；点错了再点一次即可撤销。"))
    rows = [[_toggle("", d.stage_id, org.org_id, i, "s")] for i in org.items[:MAX_BUTTONS]]
    if d.branches is not None:  # committee staff came from the branch list
        rows.append([_b(_("◀ 各党支部"), op="stage", stage_id=d.stage_id, back="s")])
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


@router.callback_query(DueAct.filter(F.op == "stage"))
async def stage(
    call: CallbackQuery, callback_data: DueAct, session: AsyncSession, actor: Actor, clock: Clock
) -> None:
    assert isinstance(call.message, Message)
    d = await submissions.stage_view(session, actor, callback_data.stage_id)
    text, markup = _stage_view(d, clock.today(), callback_data.page)
    if callback_data.back == "s":
        await _edit(call.message, text, markup)
    else:
        await call.message.answer(text, reply_markup=markup)


@router.callback_query(DueAct.filter(F.op == "org"))
async def org(
    call: CallbackQuery, callback_data: DueAct, session: AsyncSession, actor: Actor, clock: Clock
) -> None:
    assert isinstance(call.message, Message)
    d, items = await submissions.org_items(
        session, actor, callback_data.stage_id, callback_data.org_id
    )
    text, markup = _org_view(d, items, clock.today())
    if callback_data.back == "s":
        await _edit(call.message, text, markup)
    else:
        await call.message.answer(text, reply_markup=markup)


@router.callback_query(DueAct.filter(F.op.in_({"mark", "undo"})))
async def mark(
    call: CallbackQuery,
    callback_data: DueAct,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    callback_answer: CallbackAnswer,
) -> None:
    assert isinstance(call.message, Message)
    act = submissions.mark if callback_data.op == "mark" else submissions.undo
    changed = await act(
        session, actor, callback_data.item_id, callback_data.org_id, now=clock.now()
    )
    if changed:
        callback_answer.text = (
            _("✅ 已标记“已报送”") if callback_data.op == "mark" else _("↩️ 已撤销“已报送”")
        )
    today = clock.today()
    if callback_data.back == "a":
        text, markup = _overview(await submissions.deadlines(session, actor, today), today)
    else:
        d, items = await submissions.org_items(
            session, actor, callback_data.stage_id, callback_data.org_id
        )
        text, markup = _org_view(d, items, today)
    await _edit(call.message, text, markup)


# ---- what the scheduler sends --------------------------------------------------


@cache
def _fallback_i18n() -> I18n:
    return build_i18n()


Rendered = tuple[str, InlineKeyboardMarkup]


def _in_locale(locale: str | None, render: Callable[[], Rendered]) -> Rendered:
    """Render in the recipient's language inside the caller's I18n context
    (a handler's or the scheduler's), or without one."""
    i18n = I18n.get_current(no_error=True)
    if i18n is None:
        with _fallback_i18n().context() as own:
            return _use(own, locale, render)
    return _use(i18n, locale, render)


def _use(i18n: I18n, locale: str | None, render: Callable[[], Rendered]) -> Rendered:
    with i18n.use_locale(locale if locale in SUPPORTED else i18n.default_locale):
        return render()


def render_reminder(r: Reminder) -> tuple[str, InlineKeyboardMarkup]:
    """A reminder (R-REMIND): the stage, the real days left, and the items the
    organisation has not marked, each with its 已报送 button."""

    def render() -> tuple[str, InlineKeyboardMarkup]:
        lines = [
            _("⏰ <b>报送提醒</b>"),
            html.quote(r.campaign_name),
            f"<b>{html.quote(r.stage_title)}</b> — {_when(r.due, r.days_left)}",
        ]
        if r.org_name:
            lines.append(_("{org}尚未报送：").format(org=html.quote(r.org_name)))
        else:
            lines.append(_("尚未报送："))
        lines.extend("⬜ " + html.quote(t) for t in r.items)
        lines.append(_("报送后点下面的按钮标记“已报送”，就不会再收到这项提醒。"))
        if len(r.item_ids) == len(r.items):
            rows = [
                [
                    _b(
                        _("✅ 已报送：{item}").format(item=_short(title)),
                        op="mark",
                        stage_id=r.stage_id,
                        org_id=r.org_id,
                        item_id=item_id,
                    )
                ]
                for item_id, title in list(zip(r.item_ids, r.items, strict=True))[:MAX_BUTTONS]
            ]
        else:
            rows = [[_b(_("打开报送事项"), op="org", stage_id=r.stage_id, org_id=r.org_id)]]
        return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)

    return _in_locale(r.locale, render)


def render_escalation(e: EscalationNotice) -> tuple[str, InlineKeyboardMarkup]:
    """To committee staff: the branches still missing items three days before
    a deadline, or the day after it passed; one tap opens the stage's list."""

    def render() -> tuple[str, InlineKeyboardMarkup]:
        head = _("⚠️ <b>报送催办</b>") if e.days_left >= 0 else _("⚠️ <b>报送逾期</b>")
        lines = [
            head,
            html.quote(e.campaign_name),
            f"<b>{html.quote(e.stage_title)}</b> — {_when(e.due, e.days_left)}",
            _("未报送：{n}/{total}个党支部").format(n=len(e.branches), total=e.total),
        ]
        for name, missing in list(zip(e.branches, e.missing_items, strict=False))[
            : NAMES_SHOWN * 3
        ]:
            lines.append("• " + _("{org}（缺{n}项）").format(org=html.quote(name), n=missing))
        if len(e.branches) > NAMES_SHOWN * 3:
            lines.append(_("……共{n}个党支部").format(n=len(e.branches)))
        button = _b(_("📋 各党支部报送情况"), op="stage", stage_id=e.stage_id)
        return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=[[button]])

    return _in_locale(e.locale, render)
