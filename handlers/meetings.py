"""/meeting — record a branch meeting in one go (组织生活 / 交纳党费): tick who was
present or paid, save, and everyone ticked gets that date as last contact.

For a 60-member branch the common case is four taps: kind, 今天, 全选, 保存."""

from __future__ import annotations

from datetime import date, timedelta

from aiogram import F, html
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings
from domain.clock import Clock
from domain.dates import parse_date
from domain.errors import N_, InvalidInput
from handlers.branch_choice import pick_branch
from handlers.buttons import from_button
from handlers.filters import HasRole
from handlers.member_view import BranchPick
from handlers.routes import Routes
from storage.services import members, search
from storage.services.access import Actor, Role, require_branch

router = Routes("meetings")
router.filter(HasRole(Role.SECRETARY))

KINDS = {"org_life": N_("组织生活"), "dues": N_("交纳党费"), "both": N_("组织生活并交纳党费")}
PAGE = 20


class MeetingFlow(StatesGroup):
    title = __("记录组织生活")  # named when a command leaves the flow (bot/flows.py)
    day = State()
    ticks = State()
    search = State()


class Tick(CallbackData, prefix="tk"):
    """``op``: kind / day / toggle / all / none / page / search / save."""

    op: str
    value: str = ""


def _kb(rows: list[list[tuple[str, Tick | str]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=t, callback_data=d.pack() if isinstance(d, Tick) else d)
                for t, d in row
            ]
            for row in rows
        ]
    )


@router.message(Command("meeting"))
async def start(message: Message, session: AsyncSession, actor: Actor, state: FSMContext) -> None:
    await state.clear()
    branch = await pick_branch(message, session, actor, "meeting", write=True)
    if branch is not None:
        await _ask_kind(message, state, branch.id)


@router.callback_query(BranchPick.filter(F.purpose == "meeting"))
async def in_branch(
    call: CallbackQuery,
    callback_data: BranchPick,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    assert isinstance(call.message, Message)
    await require_branch(session, actor, callback_data.branch_id, write=True)
    await _ask_kind(call.message, state, callback_data.branch_id)


async def _ask_kind(message: Message, state: FSMContext, branch_id: int) -> None:
    await state.set_state(MeetingFlow.day)
    await state.set_data({"branch_id": branch_id})
    await message.answer(
        _("记录哪一项？"),
        reply_markup=_kb(
            [[(_(label), Tick(op="kind", value=k))] for k, label in KINDS.items()]
            + [[(_("取消"), "cancel")]]
        ),
    )


@router.callback_query(MeetingFlow.day, Tick.filter(F.op == "kind"))
async def chosen_kind(call: CallbackQuery, callback_data: Tick, state: FSMContext) -> None:
    assert isinstance(call.message, Message)
    if callback_data.value not in KINDS:
        return
    await state.update_data(kind=callback_data.value)
    await call.message.edit_text(
        _("{kind}是哪天？点按钮，或输入日期。").format(kind=_(KINDS[callback_data.value])),
        reply_markup=_kb(
            [
                [(_("今天"), Tick(op="day", value="0")), (_("昨天"), Tick(op="day", value="1"))],
                [(_("取消"), "cancel")],
            ]
        ),
    )


@router.callback_query(MeetingFlow.day, Tick.filter(F.op == "day"))
async def tapped_day(
    call: CallbackQuery,
    callback_data: Tick,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
) -> None:
    assert isinstance(call.message, Message)
    day = clock.today() - timedelta(days=1 if callback_data.value == "1" else 0)
    await _start_ticks(call.message, state, session, actor, day)


@router.message(MeetingFlow.day, F.text)
async def typed_day(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, clock: Clock
) -> None:
    if "kind" not in await state.get_data():
        await message.answer(_("请先点选记录哪一项。"))
        return
    try:
        day = parse_date(message.text or "", today=clock.today()).first_day()
    except InvalidInput as exc:
        await message.answer(html.quote(exc.render(_)) + "\n" + _("请重新输入日期。"))
        return
    await _start_ticks(message, state, session, actor, day)


async def _roster(
    session: AsyncSession, actor: Actor, branch_id: int, query: str = ""
) -> list[tuple[int, str]]:
    page = await members.list_members(session, actor, branch_id, query=query, page_size=10_000)
    return [(m.id, m.name) for m in page.members]


async def _start_ticks(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, day: date
) -> None:
    # a fresh tick list for this meeting
    await state.set_state(MeetingFlow.ticks)
    await state.update_data(day=day.isoformat(), ticked=[], page=0, query="")
    await _render(message, state, session, actor, edit=False)


async def _render(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, *, edit: bool
) -> None:
    data = await state.get_data()
    roster = await _roster(session, actor, data["branch_id"], data.get("query", ""))
    ticked = set(data["ticked"])
    pages = max(1, -(-len(roster) // PAGE))
    page = min(data.get("page", 0), pages - 1)
    shown = roster[page * PAGE : (page + 1) * PAGE]
    rows: list[list[tuple[str, Tick | str]]] = []
    cells = [
        (("✅ " if mid in ticked else "▫️ ") + name, Tick(op="toggle", value=str(mid)))
        for mid, name in shown
    ]
    rows += [cells[i : i + 2] for i in range(0, len(cells), 2)]
    nav: list[tuple[str, Tick | str]] = []
    if page > 0:
        nav.append(("◀", Tick(op="page", value=str(page - 1))))
    nav.append((_("全选"), Tick(op="all")))
    nav.append((_("全不选"), Tick(op="none")))
    nav.append((_("🔍"), Tick(op="search")))
    if page + 1 < pages:
        nav.append(("▶", Tick(op="page", value=str(page + 1))))
    rows.append(nav)
    rows.append(
        [(_("✅ 保存（{n}人）").format(n=len(ticked)), Tick(op="save")), (_("取消"), "cancel")]
    )
    text = _("{kind} · {day}\n勾选参加/交纳的党员（已选{n}人，第{page}/{pages}页）").format(
        kind=_(str(KINDS[data["kind"]])), day=data["day"], n=len(ticked), page=page + 1, pages=pages
    )
    if data.get("query"):
        text += "\n" + _("搜索：{query}").format(query=html.quote(data["query"]))
    if edit:
        await message.edit_text(text, reply_markup=_kb(rows))
    else:
        await message.answer(text, reply_markup=_kb(rows))


@router.callback_query(MeetingFlow.ticks, Tick.filter(F.op.in_({"toggle", "all", "none", "page"})))
async def tick(
    call: CallbackQuery, callback_data: Tick, state: FSMContext, session: AsyncSession, actor: Actor
) -> None:
    assert isinstance(call.message, Message)
    data = await state.get_data()
    ticked = set(data["ticked"])
    if callback_data.op == "toggle":
        ticked ^= {from_button(int, callback_data.value)}
    elif callback_data.op == "all":
        ticked |= {
            mid
            for mid, _name in await _roster(
                session, actor, data["branch_id"], data.get("query", "")
            )
        }
    elif callback_data.op == "none":
        ticked.clear()
    else:
        await state.update_data(page=from_button(int, callback_data.value))
    await state.update_data(ticked=sorted(ticked))
    await _render(call.message, state, session, actor, edit=True)


@router.callback_query(MeetingFlow.ticks, Tick.filter(F.op == "search"))
async def ask_search(call: CallbackQuery, state: FSMContext) -> None:
    assert isinstance(call.message, Message)
    await state.set_state(MeetingFlow.search)
    await call.message.answer(_("输入姓名中的字查找（发送“全部”回到完整名单）："))


@router.message(MeetingFlow.search, F.text)
async def do_search(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor
) -> None:
    query = "" if message.text in ("全部", "all") else (message.text or "").strip()
    await state.set_state(MeetingFlow.ticks)
    await state.update_data(query=query, page=0)
    await _render(message, state, session, actor, edit=False)


@router.callback_query(MeetingFlow.ticks, Tick.filter(F.op == "save"))
async def save(
    call: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    settings: Settings,
) -> None:
    assert isinstance(call.message, Message)
    data = await state.get_data()
    await search.record_meeting(
        session,
        actor,
        data["branch_id"],
        kind=data["kind"],
        held_on=date.fromisoformat(data["day"]),
        member_ids=data["ticked"],
        today=clock.today(),
        pocket_days=settings.pocket_days,
    )
    await state.clear()
    await call.message.edit_text(
        _("✅ 已保存：{kind} · {day} · {n}人。他们的最近联系日期已更新。").format(
            kind=_(str(KINDS[data["kind"]])), day=data["day"], n=len(data["ticked"])
        )
    )


@router.message(MeetingFlow.ticks)
@router.message(MeetingFlow.day)
async def fallback(message: Message) -> None:
    await message.answer(_("请点上面的按钮，或发送 /cancel 取消。"))
