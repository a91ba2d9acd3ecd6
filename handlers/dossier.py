"""The member's 档案 view (一人一档): events in order, paged."""

from __future__ import annotations

from aiogram import F, html
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit_words import ACTIONS
from domain.clock import Clock
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
