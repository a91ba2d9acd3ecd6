"""The member's 档案 view (一人一档): events in order, paged."""

from __future__ import annotations

from aiogram import F, html
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from domain.clock import Clock
from domain.errors import N_
from domain.member_fields import FIELD_BY_KEY
from domain.sweep import Answer, Check
from handlers.filters import Known
from handlers.member_view import MemberAction
from handlers.routes import Routes
from storage.models import AuditEvent
from storage.services.access import Actor
from storage.services.dossier import dossier

router = Routes("dossier")
router.filter(Known())

ACTIONS = {
    ("member", "create"): N_("登记入册"),
    ("member", "update"): N_("修改"),
    ("meeting", "attend"): N_("参加组织生活/交纳党费"),
    ("attempt", "create"): N_("查找"),
    ("attempt", "correct"): N_("更正查找记录"),
    ("evidence", "create"): N_("上传凭证"),
    ("channel", "impossible"): N_("说明无法查找"),
    ("outcome", "found"): N_("经查找取得联系"),
    ("outcome", "unreachable"): N_("经查找仍然无法取得联系"),
    ("mobile", "register"): N_("登记为流动党员"),
    ("mobile", "end"): N_("结束流动登记"),
    ("family", "create"): N_("登记家庭成员"),
    ("family", "delete"): N_("删除家庭成员"),
    ("sweep", "answer"): N_("五核查"),
    ("escalation", "identity"): N_("上报疑似违规入党/身份存疑"),
    ("escalation", "discipline"): N_("移交违纪违法线索"),
    ("review", "finding"): N_("党委核查发现"),
}


def _describe(event: AuditEvent) -> str:
    what = _(ACTIONS.get((event.entity, event.action), f"{event.entity}:{event.action}"))
    field = FIELD_BY_KEY.get(event.field or "")
    label = _(field.label) if field else ""
    if event.entity == "member" and event.action == "update":
        return f"{what} {label}：{event.old_value or '—'} → {event.new_value or '—'}"
    if event.entity == "sweep" and (event.field or "").isdigit():
        check = Check(int(event.field or 0))
        answer = _answer(event.new_value)
        before = (
            _("（原为{answer}）").format(answer=_answer(event.old_value)) if event.old_value else ""
        )
        return f"{what} {int(check)}. {_(check.label)}：{answer}{before}"
    if event.entity == "family" and event.action == "delete":
        return f"{what} {event.old_value or ''}".strip()
    return f"{what} {event.new_value or ''}".strip()


def _answer(code: str | None) -> str:
    try:
        return Answer.of(code or "").label
    except ValueError:
        return code or "—"


@router.callback_query(MemberAction.filter(F.action == "dossier"))
async def show(
    call: CallbackQuery,
    callback_data: MemberAction,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
) -> None:
    assert isinstance(call.message, Message)
    page_arg = int(callback_data.arg) if callback_data.arg.isdigit() else None
    result = await dossier(session, actor, callback_data.member_id, page_arg)
    lines = [
        _("<b>档案</b>（共{n}条，第{page}/{pages}页）").format(
            n=result.total, page=result.page + 1, pages=result.pages
        )
    ]
    system = _("系统")
    for event, who in result.events:
        when = (
            event.at.astimezone(clock.tz).strftime("%Y-%m-%d %H:%M")
            if event.at.tzinfo
            else event.at.strftime("%Y-%m-%d %H:%M")
        )
        lines.append(f"{when} · {html.quote(_describe(event))} · {html.quote(who or system)}")
    nav = []
    if result.page > 0:
        nav.append(
            InlineKeyboardButton(
                text="◀",
                callback_data=MemberAction(
                    action="dossier", member_id=callback_data.member_id, arg=str(result.page - 1)
                ).pack(),
            )
        )
    if result.page + 1 < result.pages:
        nav.append(
            InlineKeyboardButton(
                text="▶",
                callback_data=MemberAction(
                    action="dossier", member_id=callback_data.member_id, arg=str(result.page + 1)
                ).pack(),
            )
        )
    back = [
        InlineKeyboardButton(
            text=_("↩ 返回卡片"),
            callback_data=MemberAction(action="card", member_id=callback_data.member_id).pack(),
        )
    ]
    await call.message.answer(
        "\n".join(lines),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[nav, back] if nav else [back]),
    )
