"""/campaign — start a campaign from a notice's template, adjust its stages,
its scope and its reminder days (R-REMIND), close it. What is due and by whom
is /deadlines (handlers/deadlines.py)."""

from __future__ import annotations

from datetime import date

from aiogram import F, html
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from domain.campaigns import TemplateKey, days_left, default_name, offsets_of, template_plan
from domain.clock import Clock
from domain.dates import parse_date
from domain.errors import InvalidInput
from handlers.filters import HasRole, Known
from handlers.routes import Routes
from storage.models import CampaignStage, Organisation
from storage.services import campaigns
from storage.services.access import Actor, Role

router = Routes("campaigns")
router.filter(Known())


class CampaignAct(CallbackData, prefix="cp"):
    """``op``: new / tpl / view / move / drop / add / close / remind (the
    reminder days); the scope picker's scope (open it) / tick / all / none /
    spage / ok / yes; ids only."""

    op: str
    id: int = 0
    value: str = ""


class CampaignFlow(StatesGroup):
    title = __("排查工作设置")  # named when a command leaves the flow (bot/flows.py)
    name = State()
    scope = State()
    move = State()
    add_title = State()
    add_due = State()
    offsets = State()


def _b(text: str, op: str, id_: int = 0, value: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text, callback_data=CampaignAct(op=op, id=id_, value=value).pack()
    )


def _cancel() -> InlineKeyboardButton:
    return InlineKeyboardButton(text=_("取消"), callback_data="cancel")


def _typed_due(message: Message, clock: Clock) -> date:
    """A typed deadline: a stage falls due in the future."""
    return parse_date(message.text or "", today=clock.today(), allow_future=True).first_day()


async def _ask_again(message: Message, exc: InvalidInput) -> None:
    """The reason, and the same question stands (STYLE 17)."""
    await message.answer(html.quote(exc.render(_)) + "\n" + _("请重新输入，或发送 /cancel 取消。"))


def _due_text(stage: CampaignStage, clock: Clock) -> str:
    left = days_left(stage.due, clock.today())
    about = _("约") if stage.approximate else ""
    when = _("已过") if left < 0 else (_("今天") if left == 0 else _("还有{n}天").format(n=left))
    return f"{about}{stage.due.month}月{stage.due.day}日（{when}）"


def _offsets_text(offsets: tuple[int, ...]) -> str:
    """“截止前7、3、1天和当天” (R-REMIND)."""
    before = "、".join(str(o) for o in offsets if o > 0)
    if before and 0 in offsets:
        return _("截止前{days}天和当天").format(days=before)
    if before:
        return _("截止前{days}天").format(days=before)
    return _("截止当天")


@router.message(Command("campaign"), HasRole(Role.COMMITTEE))
async def list_campaigns(message: Message, session: AsyncSession, actor: Actor) -> None:
    rows = await campaigns.visible_campaigns(session, actor)
    lines = [_("<b>进行中的排查</b>：{n}项").format(n=len(rows))]
    lines += [f"• {html.quote(c.name)}（{c.starts} — {c.ends}）" for c in rows]
    keyboard = [[_b(c.name, "view", c.id)] for c in rows]
    keyboard.append([_b(_("➕ 新建排查"), "new")])
    await message.answer(
        "\n".join(lines), reply_markup=InlineKeyboardMarkup(inline_keyboard=keyboard)
    )


@router.callback_query(CampaignAct.filter(F.op == "new"), HasRole(Role.COMMITTEE))
async def choose_template(
    call: CallbackQuery,
    callback_data: CampaignAct,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
) -> None:
    assert isinstance(call.message, Message)
    committees = actor.orgs(Role.COMMITTEE)
    committee_id = callback_data.id or (committees[0] if len(committees) == 1 else 0)
    if committee_id == 0:  # several committees: ask which one first
        rows = []
        for cid in committees:
            org = await session.get(Organisation, cid)
            rows.append([_b(org.name if org else str(cid), "new", cid)])
        await call.message.answer(
            _("为哪个党委开展？"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows)
        )
        return
    year = clock.today().year
    rows = [
        [
            _b(f"{key.label}（{y}）", "tpl", committee_id, f"{key.value}.{y}")
            for y in (year, year + 1)
        ]
        for key in TemplateKey
    ]
    await call.message.answer(
        _("选择模板（每个模板对应一份通知的阶段和时间，创建后可修改）："),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=rows),
    )


@router.callback_query(CampaignAct.filter(F.op == "tpl"), HasRole(Role.COMMITTEE))
async def chosen_template(
    call: CallbackQuery, callback_data: CampaignAct, state: FSMContext
) -> None:
    assert isinstance(call.message, Message)
    template, year = callback_data.value.split(".")
    default = default_name(TemplateKey.of(template), int(year))
    await state.set_state(CampaignFlow.name)
    await state.set_data(
        {
            "committee_id": callback_data.id,
            "template": template,
            "year": int(year),
            "default": default,
        }
    )
    await call.message.answer(
        _("这次排查叫什么名称？直接输入，或用默认名称。"),
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[
                [_b(_("用默认：{name}").format(name=default), "name")],
                [_cancel()],
            ]
        ),
    )


async def _named(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    name: str,
) -> None:
    """The name is known: ask which branches (all ticked, one tap to keep them),
    unless the committee has only one."""
    data = await state.get_data()
    plan = template_plan(TemplateKey.of(data["template"]), data["year"], name)
    branches = await campaigns.scope_choices(session, actor, data["committee_id"])
    if len(branches) <= 1:
        await _create(message, state, session, actor, clock, plan.name, branch_ids=None)
        return
    await state.set_state(CampaignFlow.scope)
    await state.update_data(name=plan.name, ticked=[b.id for b in branches], page=0)
    await _render_scope(message, state, branches, edit=False)


async def _create(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    name: str,
    *,
    branch_ids: list[int] | None,
) -> None:
    data = await state.get_data()
    campaign = await campaigns.create_campaign(
        session,
        actor,
        data["committee_id"],
        template=data["template"],
        name=name,
        year=data["year"],
        branch_ids=branch_ids,
    )
    await state.clear()
    await message.answer(_("✅ 已创建：{name}").format(name=html.quote(campaign.name)))
    await _show(message, session, actor, clock, campaign.id)


@router.callback_query(CampaignFlow.name, CampaignAct.filter(F.op == "name"))
async def use_default_name(
    call: CallbackQuery, state: FSMContext, session: AsyncSession, actor: Actor, clock: Clock
) -> None:
    assert isinstance(call.message, Message)
    await _named(call.message, state, session, actor, clock, (await state.get_data())["default"])


@router.message(CampaignFlow.name, F.text)
async def typed_name(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, clock: Clock
) -> None:
    try:
        await _named(message, state, session, actor, clock, message.text or "")
    except InvalidInput as exc:
        await message.answer(html.quote(exc.render(_)) + "\n" + _("请重新输入名称。"))


async def _show(
    message: Message, session: AsyncSession, actor: Actor, clock: Clock, campaign_id: int
) -> None:
    campaign, stages, branches = await campaigns.campaign_detail(session, actor, campaign_id)
    lines = [
        f"<b>{html.quote(campaign.name)}</b>",
        _("时间：{starts} — {ends}；范围：{n}个党支部").format(
            starts=campaign.starts, ends=campaign.ends, n=len(branches)
        ),
    ]
    if len(branches) <= SCOPE_NAMES_SHOWN:
        lines.append("、".join(html.quote(b.name) for b in branches))
    lines.append(
        _("报送提醒：{days}").format(days=_offsets_text(offsets_of(campaign.remind_offsets)))
    )
    for i, stage in enumerate(stages, 1):
        what = f" · {html.quote(stage.what)}" if stage.what else ""
        lines.append(f"{i}. {html.quote(stage.title)} — {_due_text(stage, clock)}{what}")
    keyboard: list[list[InlineKeyboardButton]] = []
    editable = campaign.committee_id in actor.orgs(Role.COMMITTEE) and campaign.closed_at is None
    if editable:
        for i, stage in enumerate(stages, 1):
            keyboard.append(
                [
                    _b(_("{i}. 改日期").format(i=i), "move", stage.id),
                    _b(_("{i}. 删除").format(i=i), "drop", stage.id),
                ]
            )
        keyboard.append(
            [_b(_("➕ 增加阶段"), "add", campaign.id), _b(_("结束排查"), "close", campaign.id)]
        )
        keyboard.append(
            [_b(_("🏢 调整范围"), "scope", campaign.id), _b(_("⏰ 提醒日"), "remind", campaign.id)]
        )
    await message.answer(
        "\n".join(lines),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=keyboard) if keyboard else None,
    )


@router.callback_query(CampaignAct.filter(F.op == "view"))
async def view(
    call: CallbackQuery,
    callback_data: CampaignAct,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
) -> None:
    assert isinstance(call.message, Message)
    await _show(call.message, session, actor, clock, callback_data.id)


@router.callback_query(CampaignAct.filter(F.op == "move"), HasRole(Role.COMMITTEE))
async def ask_move(call: CallbackQuery, callback_data: CampaignAct, state: FSMContext) -> None:
    assert isinstance(call.message, Message)
    await state.set_state(CampaignFlow.move)
    await state.set_data({"stage_id": callback_data.id})
    await call.message.answer(_("新的截止日期？（如 2026-03-20）"))


@router.message(CampaignFlow.move, F.text)
async def typed_move(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, clock: Clock
) -> None:
    data = await state.get_data()
    try:
        due = _typed_due(message, clock)
        stage = await campaigns.move_stage(session, actor, data["stage_id"], due=due)
    except InvalidInput as exc:
        await _ask_again(message, exc)
        return
    await state.clear()
    await _show(message, session, actor, clock, stage.campaign_id)


@router.callback_query(CampaignAct.filter(F.op == "drop"), HasRole(Role.COMMITTEE))
async def drop(
    call: CallbackQuery,
    callback_data: CampaignAct,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
) -> None:
    assert isinstance(call.message, Message)
    stage = await session.get(CampaignStage, callback_data.id)
    campaign_id = stage.campaign_id if stage else 0
    await campaigns.remove_stage(session, actor, callback_data.id)
    await _show(call.message, session, actor, clock, campaign_id)


@router.callback_query(CampaignAct.filter(F.op == "add"), HasRole(Role.COMMITTEE))
async def ask_add(call: CallbackQuery, callback_data: CampaignAct, state: FSMContext) -> None:
    assert isinstance(call.message, Message)
    await state.set_state(CampaignFlow.add_title)
    await state.set_data({"campaign_id": callback_data.id})
    await call.message.answer(_("新阶段的名称（要报送什么）？"))


@router.message(CampaignFlow.add_title, F.text)
async def typed_title(message: Message, state: FSMContext) -> None:
    await state.update_data(title=(message.text or "").strip())
    await state.set_state(CampaignFlow.add_due)
    await message.answer(_("截止日期？（如 2026-03-20）"))


@router.message(CampaignFlow.add_due, F.text)
async def typed_due(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, clock: Clock
) -> None:
    data = await state.get_data()
    try:
        due = _typed_due(message, clock)
        await campaigns.add_stage(session, actor, data["campaign_id"], title=data["title"], due=due)
    except InvalidInput as exc:
        await _ask_again(message, exc)
        return
    await state.clear()
    await _show(message, session, actor, clock, data["campaign_id"])


@router.callback_query(CampaignAct.filter(F.op == "close"), HasRole(Role.COMMITTEE))
async def close(
    call: CallbackQuery,
    callback_data: CampaignAct,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
) -> None:
    assert isinstance(call.message, Message)
    await campaigns.close_campaign(session, actor, callback_data.id, clock.now())
    await call.message.answer(_("已结束这次排查。"))


@router.callback_query(CampaignAct.filter(F.op == "remind"), HasRole(Role.COMMITTEE))
async def ask_offsets(
    call: CallbackQuery,
    callback_data: CampaignAct,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
) -> None:
    """⏰ 提醒日: one tap, then the days typed as “7 3 1 0” (R-REMIND)."""
    assert isinstance(call.message, Message)
    campaign, _scope = await campaigns.scope_of(session, actor, callback_data.id)
    await state.set_state(CampaignFlow.offsets)
    await state.set_data({"campaign_id": campaign.id})
    await call.message.answer(
        _(
            "现在：{days}。\n请发送截止前几天提醒，用空格隔开，0表示截止当天，例如“7 3 1 0”。"
        ).format(days=_offsets_text(offsets_of(campaign.remind_offsets)))
    )


@router.message(CampaignFlow.offsets, F.text)
async def typed_offsets(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, clock: Clock
) -> None:
    data = await state.get_data()
    try:
        offsets = await campaigns.set_offsets(
            session, actor, data["campaign_id"], message.text or ""
        )
    except InvalidInput as exc:
        await _ask_again(message, exc)
        return
    await state.clear()
    await message.answer(_("✅ 报送提醒：{days}").format(days=_offsets_text(offsets)))
    await _show(message, session, actor, clock, data["campaign_id"])


# ---- the scope (排查范围): which branches take part --------------------------

SCOPE_PAGE = 20  # branches per page: Telegram shows at most 100 buttons
SCOPE_NAMES_SHOWN = 12  # the campaign view names the branches up to this many


async def _render_scope(
    message: Message, state: FSMContext, branches: list[Organisation], *, edit: bool
) -> None:
    data = await state.get_data()
    ticked = set(data["ticked"])
    pages = max(1, -(-len(branches) // SCOPE_PAGE))
    page = min(max(data.get("page", 0), 0), pages - 1)
    shown = branches[page * SCOPE_PAGE : (page + 1) * SCOPE_PAGE]
    cells = [_b(("✅ " if b.id in ticked else "▫️ ") + b.name, "tick", b.id) for b in shown]
    rows = [cells[i : i + 2] for i in range(0, len(cells), 2)]
    nav = [_b("◀", "spage", value=str(page - 1))] if page > 0 else []
    nav += [_b(_("全选"), "all"), _b(_("全不选"), "none")]
    if page + 1 < pages:
        nav.append(_b("▶", "spage", value=str(page + 1)))
    rows.append(nav)
    rows.append(
        [
            _b(_("✅ 确定（{n}个）").format(n=len(ticked)), "ok"),
            _cancel(),
        ]
    )
    if "campaign_id" in data:
        head = _("<b>调整排查范围</b>：{name}").format(name=html.quote(data["name"]))
        hint = _("点党支部勾选或取消，然后点“确定”。")
    else:
        head = f"<b>{html.quote(data['name'])}</b>"
        hint = _("哪些党支部参加这次排查？默认全部，点“确定”即可；点党支部可取消勾选。")
    count = _("已选{n}/{total}个党支部").format(n=len(ticked), total=len(branches))
    if pages > 1:
        count += _("（第{page}/{pages}页）").format(page=page + 1, pages=pages)
    text = "\n".join([head, hint, count])
    markup = InlineKeyboardMarkup(inline_keyboard=rows)
    if edit:
        await message.edit_text(text, reply_markup=markup)
    else:
        await message.answer(text, reply_markup=markup)


@router.callback_query(CampaignAct.filter(F.op == "scope"), HasRole(Role.COMMITTEE))
async def ask_scope(
    call: CallbackQuery,
    callback_data: CampaignAct,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
) -> None:
    """From an open campaign's view: the picker with today's scope ticked."""
    assert isinstance(call.message, Message)
    campaign, current = await campaigns.scope_of(session, actor, callback_data.id)
    branches = await campaigns.scope_choices(session, actor, campaign.committee_id)
    await state.set_state(CampaignFlow.scope)
    await state.set_data(
        {
            "campaign_id": campaign.id,
            "committee_id": campaign.committee_id,
            "name": campaign.name,
            "ticked": [b.id for b in branches if b.id in current],
            "page": 0,
        }
    )
    await _render_scope(call.message, state, branches, edit=False)


@router.callback_query(
    CampaignFlow.scope,
    CampaignAct.filter(F.op.in_({"tick", "all", "none", "spage"})),
    HasRole(Role.COMMITTEE),
)
async def tick_scope(
    call: CallbackQuery,
    callback_data: CampaignAct,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
) -> None:
    assert isinstance(call.message, Message)
    data = await state.get_data()
    ticked = set(data["ticked"])
    page = data.get("page", 0)
    if callback_data.op == "tick":
        ticked ^= {callback_data.id}
    elif callback_data.op == "spage":
        page = int(callback_data.value) if callback_data.value.isdigit() else 0
    # A forged branch id outside the committee is refused here, before the
    # state changes (R-ACL-BRANCH); ``all`` takes the committee's own list.
    branches = await campaigns.scope_choices(session, actor, data["committee_id"], ticked)
    if callback_data.op == "all":
        ticked = {b.id for b in branches}
    elif callback_data.op == "none":
        ticked = set()
    await state.update_data(ticked=sorted(ticked), page=page)
    await _render_scope(call.message, state, branches, edit=True)


@router.callback_query(
    CampaignFlow.scope, CampaignAct.filter(F.op.in_({"ok", "yes"})), HasRole(Role.COMMITTEE)
)
async def confirm_scope(
    call: CallbackQuery,
    callback_data: CampaignAct,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
) -> None:
    """确定: create the campaign with the ticked branches, or change an open
    campaign's scope. An empty choice is refused by the service (nothing saved)."""
    assert isinstance(call.message, Message)
    data = await state.get_data()
    ticked = list(data["ticked"])
    if "campaign_id" not in data:
        await _create(call.message, state, session, actor, clock, data["name"], branch_ids=ticked)
        return
    try:
        added, removed = await campaigns.set_scope(
            session, actor, data["campaign_id"], ticked, confirmed=callback_data.op == "yes"
        )
    except campaigns.ConfirmRemoval as ask:
        names = "、".join(html.quote(name) for _id, name in ask.branches)
        await call.message.answer(
            _(
                "{names}已有五核查记录。移出范围后，这些记录仍然保留，重新加入即可恢复。\n"
                "确定移出吗？"
            ).format(names=names),
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[
                    [_b(_("确定移出"), "yes")],
                    [_cancel()],
                ]
            ),
        )
        return
    await state.clear()
    if added or removed:
        await call.message.answer(
            _("✅ 已调整范围：加入{added}个，移出{removed}个党支部。").format(
                added=len(added), removed=len(removed)
            )
        )
    else:
        await call.message.answer(_("范围没有变化。"))
    await _show(call.message, session, actor, clock, data["campaign_id"])


@router.message(CampaignFlow.name)
@router.message(CampaignFlow.move)
@router.message(CampaignFlow.offsets)
@router.message(CampaignFlow.add_title)
@router.message(CampaignFlow.add_due)
async def fallback(message: Message) -> None:
    await message.answer(_("请用文字回答，或发送 /cancel 取消。"))


@router.message(CampaignFlow.scope)
async def scope_fallback(message: Message) -> None:
    await message.answer(_("请点按钮勾选党支部，再点“确定”；或发送 /cancel 取消。"))
