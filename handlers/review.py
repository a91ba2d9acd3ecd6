"""/review — the committee's view of the sweep (党(工)委工作组核查, seed 004):
every branch's progress in one message, a row per branch; per branch, its
findings (about the branch or one member), send back, 核查完成."""

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
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import InvalidInput
from handlers.filters import HasRole
from handlers.member_view import ListTargets, list_line, page_keyboard
from handlers.routes import Routes
from storage.services import campaigns, members, sweep
from storage.services import review as reviews
from storage.services.access import Actor, Role

router = Routes("review")
router.filter(HasRole(Role.COMMITTEE))


class ReviewAct(CallbackData, prefix="rv"):
    """``op``: show (a campaign) / branch / finding / returned / complete; the
    member picker's members (open it) / mpage / msearch / mfinding (a member
    chosen)."""

    campaign_id: int
    op: str = "show"
    branch_id: int = 0
    member_id: int = 0
    page: int = 0


class ReviewFlow(StatesGroup):
    title = __("核查")  # named when a command leaves the flow (bot/flows.py)
    text = State()
    pick = State()  # the member picker is shown; a typed text searches by name


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


FINDINGS_SHOWN = 30  # the latest ones; the dossier and the audit log keep them all


async def _branch_view(
    message: Message, session: AsyncSession, actor: Actor, act: ReviewAct
) -> None:
    branch, findings = await reviews.branch_findings(session, actor, act.campaign_id, act.branch_id)

    def b(text: str, op: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(
            text=text,
            callback_data=act.model_copy(update={"op": op, "member_id": 0, "page": 0}).pack(),
        )

    lines = [_("核查 <b>{branch}</b>：").format(branch=html.quote(branch.name))]
    if findings:
        lines.append(_("核查发现（{n}条）：").format(n=len(findings)))
    for f in findings[-FINDINGS_SHOWN:]:
        who = html.quote(f.member_name) if f.member_name else _("支部")
        done = "" if f.open else _("（已核查完成）")
        lines.append(f"• {who}：{html.quote(f.text)}{done}")
    await message.answer(
        "\n".join(lines),
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[
                [b(_("📝 记录核查发现"), "finding")],
                [b(_("👤 记录某位党员的问题"), "members")],
                [b(_("↩️ 退回整改"), "returned")],
                [b(_("✅ 核查完成"), "complete")],
            ]
        ),
    )


@router.callback_query(ReviewAct.filter(F.op == "branch"))
async def branch_actions(
    call: CallbackQuery,
    callback_data: ReviewAct,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    assert isinstance(call.message, Message)
    await state.clear()
    await _branch_view(call.message, session, actor, callback_data)


# ---- one member's finding: pick the member from the branch's register ----------


def _targets(act: ReviewAct) -> ListTargets:
    """The register's list keyboard (numbers, ◀ 🔍 ▶), its taps this picker's."""

    def to(op: str, **fields: int) -> str:
        return act.model_copy(update={"op": op, "member_id": 0, "page": 0, **fields}).pack()

    return ListTargets(
        member=lambda mid: to("mfinding", member_id=mid),
        page=lambda p: to("mpage", page=p),
        search=to("msearch"),
    )


async def _picker(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    act: ReviewAct,
    *,
    edit: bool,
) -> None:
    branch = await reviews.require_review_scope(session, actor, act.campaign_id, act.branch_id)
    data = await state.get_data()
    same = await state.get_state() == ReviewFlow.pick and data.get("branch_id") == branch.id
    query = data.get("query", "") if same else ""
    result = await members.list_members(session, actor, branch.id, query=query, page=act.page)
    await state.set_state(ReviewFlow.pick)
    await state.set_data({"campaign_id": act.campaign_id, "branch_id": branch.id, "query": query})
    lines = [
        _("记录 <b>{branch}</b> 哪位党员的问题？点编号选择，或发送姓名搜索。").format(
            branch=html.quote(branch.name)
        )
    ]
    if query:
        lines.append(_("搜索：{query}").format(query=html.quote(query)))
    start = result.page * members.PAGE_SIZE
    lines += [list_line(start + i + 1, m) for i, m in enumerate(result.members)]
    if not result.members:
        lines.append(_("没有找到匹配的党员。") if query else _("该支部还没有登记党员。"))
    lines.append(
        _("第{page}/{pages}页，共{total}人").format(
            page=result.page + 1, pages=result.pages, total=result.total
        )
    )
    keyboard = page_keyboard(branch.id, result, _targets(act))
    back = act.model_copy(update={"op": "branch", "member_id": 0, "page": 0})
    keyboard.inline_keyboard.append(
        [InlineKeyboardButton(text=_("↩ 返回"), callback_data=back.pack())]
    )
    if edit:
        await message.edit_text("\n".join(lines), reply_markup=keyboard)
    else:
        await message.answer("\n".join(lines), reply_markup=keyboard)


@router.callback_query(ReviewAct.filter(F.op.in_({"members", "mpage"})))
async def pick_member(
    call: CallbackQuery,
    callback_data: ReviewAct,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    """From the branch view (members) a new list; turning its pages (mpage)
    edits it and keeps the search."""
    assert isinstance(call.message, Message)
    turning = callback_data.op == "mpage"
    if not turning:
        await state.clear()
    await _picker(call.message, state, session, actor, callback_data, edit=turning)


@router.callback_query(ReviewAct.filter(F.op == "msearch"))
async def ask_member_name(
    call: CallbackQuery,
    callback_data: ReviewAct,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    assert isinstance(call.message, Message)
    await reviews.require_review_scope(
        session, actor, callback_data.campaign_id, callback_data.branch_id
    )
    await state.set_state(ReviewFlow.pick)
    await state.set_data(
        {"campaign_id": callback_data.campaign_id, "branch_id": callback_data.branch_id}
    )
    await call.message.answer(_("请输入要查找的姓名（可以只写一个字），或身份证号后几位："))


@router.message(ReviewFlow.pick, F.text)
async def searched_member(
    message: Message, session: AsyncSession, actor: Actor, state: FSMContext
) -> None:
    data = await state.get_data()
    await state.update_data(query=(message.text or "").strip())
    act = ReviewAct(campaign_id=data["campaign_id"], op="members", branch_id=data["branch_id"])
    await _picker(message, state, session, actor, act, edit=False)


@router.callback_query(ReviewAct.filter(F.op == "mfinding"))
async def ask_member_finding(
    call: CallbackQuery,
    callback_data: ReviewAct,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    """A member chosen: checked against the campaign's branch before anything
    is asked (R-ACL-BRANCH), and again when the finding is saved."""
    assert isinstance(call.message, Message)
    member = await reviews.require_review_member(
        session, actor, callback_data.campaign_id, callback_data.branch_id, callback_data.member_id
    )
    await state.set_state(ReviewFlow.text)
    await state.set_data(callback_data.model_copy(update={"page": 0}).model_dump())
    await call.message.answer(
        _("请写明 <b>{name}</b> 的问题（会记入其档案）：").format(name=html.quote(member.name))
    )


@router.callback_query(ReviewAct.filter(F.op.in_({"finding", "returned"})))
async def ask_text(call: CallbackQuery, callback_data: ReviewAct, state: FSMContext) -> None:
    assert isinstance(call.message, Message)
    await state.set_state(ReviewFlow.text)
    await state.set_data(callback_data.model_copy(update={"member_id": 0, "page": 0}).model_dump())
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
    kind = "finding" if act.op == "mfinding" else act.op
    done = await reviews.record_review(
        session,
        actor,
        act.campaign_id,
        act.branch_id,
        kind=kind,
        text=text,
        member_id=act.member_id if act.op == "mfinding" else None,
    )
    if done.row.kind == "returned":
        lines = [_("↩️ 党委核查退回整改：{text}").format(text=html.quote(done.row.text or ""))]
        if done.open_findings:
            lines.append(_("涉及党员的核查发现："))
            lines += [
                f"• {html.quote(f.member_name or '')}：{html.quote(f.text)}"
                for f in done.open_findings
            ]
        lines.append(_("请修改后发送 /todo 查看待办。"))
        notice = "\n".join(lines)
        for user_id in done.secretaries:  # the one sender rate-limits these
            with contextlib.suppress(TelegramAPIError):
                await bot.send_message(user_id, notice)
    await message.answer(_("已记录。"))
    if done.row.kind == "finding":  # back to the branch, its findings listed
        await _branch_view(message, session, actor, act)
    else:
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


@router.message(ReviewFlow.text)
@router.message(ReviewFlow.pick)
async def fallback(message: Message) -> None:
    await message.answer(_("请用文字回答，或发送 /cancel 取消。"))
