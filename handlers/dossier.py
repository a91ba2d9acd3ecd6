"""The member's 档案 view (一人一档): events in order, paged; a 处置 event with
the step's day and what it recorded (votes, signature, 文号, reasons)."""

from __future__ import annotations

from aiogram import F, html
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit_words import ACTIONS, disposition_line
from domain.clock import Clock
from domain.member_fields import FIELD_BY_KEY
from domain.sweep import Answer, Check
from handlers.filters import Known
from handlers.member_view import MemberAction
from handlers.routes import Routes
from storage.models import AuditEvent
from storage.services.access import Actor
from storage.services.dossier import Detail, dossier

router = Routes("dossier")
router.filter(Known())

MESSAGE_BUDGET = 3_800  # Telegram's limit is 4,096 characters a message


def _describe(event: AuditEvent, detail: Detail | None = None) -> str:
    if event.entity == "disposition":
        # 处置: the outcome and step, the step's day and what it recorded.
        return disposition_line(
            event.action,
            event.field,
            event.new_value,
            detail.on if detail else None,
            detail.facts if detail else None,
            gettext=_,
        )
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
        described = _describe(event, result.details.get(event.id))
        lines.append(f"{when} · {html.quote(described)} · {html.quote(who or system)}")
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
    keyboard = InlineKeyboardMarkup(inline_keyboard=[nav, back] if nav else [back])
    *first, last = _messages(lines)
    for text in first:
        await call.message.answer(text)
    await call.message.answer(last, reply_markup=keyboard)


def _messages(lines: list[str]) -> list[str]:
    """The page's lines in as few messages as Telegram takes (a 处置 step's
    facts can be long: 调查核实材料, 支委会意见, an appeal's text)."""
    messages: list[str] = []
    block: list[str] = []
    size = 0
    for line in lines:
        if block and size + len(line) + 1 > MESSAGE_BUDGET:
            messages.append("\n".join(block))
            block, size = [], 0
        block.append(line)
        size += len(line) + 1
    messages.append("\n".join(block))
    return messages
