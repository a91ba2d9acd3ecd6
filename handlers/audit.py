"""/audit — who did what to which member (操作记录, issue 18 point 4), for
committee staff over their committee and its branches.

The latest events first, ten a page; filtered by member (``/audit 张示一``,
or 🧾 on the member's card) or by the person who acted (👤); 📥 sends the
events of the filter as a workbook built by the one form builder. Names of
members are shown; ID numbers, phones and addresses in old and new values are
masked (``domain.audit_view``).
"""

from __future__ import annotations

import math
from datetime import datetime

from aiogram import Bot, F, html
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit_view import words
from domain.clock import Clock
from handlers.documents import send_form, uploading
from handlers.filters import HasRole
from handlers.member_view import MemberAction
from handlers.routes import Routes
from reports import pool
from reports.forms.audit import TITLE, audit_workbook
from storage.db import utc, write_tx
from storage.models import Organisation
from storage.services import audit, exports
from storage.services.access import Actor, Role
from storage.services.form_data import RenderJob

router = Routes("audit")
router.filter(HasRole(Role.COMMITTEE))

PER_PAGE = 10


class AuditAct(CallbackData, prefix="au"):
    """Ids only; the service checks the member against the scope again."""

    action: str  # page | users | export
    member_id: int = 0
    user_id: int = 0
    page: int = 0


def _who(row: audit.AuditRow) -> str:
    if row.actor_id is None:
        return _("系统")
    return row.actor_name or _("用户{id}").format(id=row.actor_id)


def _line(row: audit.AuditRow, tz: object) -> str:
    said = words(row.entity, row.action, row.field, row.old_value, row.new_value, _)
    at = utc(row.at).astimezone(tz)  # type: ignore[arg-type]
    parts = [f"<code>{at:%m-%d %H:%M}</code> {html.quote(_who(row))}：{html.quote(said.action)}"]
    if row.member_name:
        parts.append(" " + html.quote(row.member_name))
    if row.org_name:
        parts.append(_("（{org}）").format(org=html.quote(row.org_name)))
    if said.field:
        parts.append(" " + html.quote(said.field))
    change = said.change(limit=40)
    if change:
        parts.append("：" + html.quote(change))
    return "".join(parts)


def _button(text: str, **data: int | str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=AuditAct(**data).pack())  # type: ignore[arg-type]


async def _page(
    session: AsyncSession, actor: Actor, clock: Clock, member_id: int, user_id: int, page: int
) -> tuple[str, InlineKeyboardMarkup]:
    page = max(0, page)
    found = await audit.events(
        session,
        actor,
        member_id=member_id or None,
        user_id=user_id or None,
        offset=page * PER_PAGE,
        limit=PER_PAGE,
    )
    pages = max(1, math.ceil(found.total / PER_PAGE))
    lines = [
        _("<b>操作记录</b>（共{n}条，第{page}/{pages}页，新的在前）").format(
            n=found.total, page=min(page + 1, pages), pages=pages
        )
    ]
    if found.member_name:
        lines.append(_("党员：{name}").format(name=html.quote(found.member_name)))
    if found.user_name:
        lines.append(_("操作人：{name}").format(name=html.quote(found.user_name)))
    lines += [_line(row, clock.tz) for row in found.rows] or [_("没有记录。")]
    keep = {"member_id": member_id, "user_id": user_id}
    nav = []
    if page > 0:
        nav.append(_button("◀", action="page", page=page - 1, **keep))
    if (page + 1) * PER_PAGE < found.total:
        nav.append(_button("▶", action="page", page=page + 1, **keep))
    rows = [nav] if nav else []
    tools = [_button(_("👤 按操作人"), action="users", **keep)]
    if found.total:
        tools.append(_button(_("📥 导出"), action="export", **keep))
    rows.append(tools)
    if member_id or user_id:
        rows.append([_button(_("↩ 全部记录"), action="page")])
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


@router.message(Command("audit"))
async def show(
    message: Message, command: CommandObject, session: AsyncSession, actor: Actor, clock: Clock
) -> None:
    name = (command.args or "").strip()
    member_id = 0
    if name:
        found = await audit.find_members(session, actor, name)
        if not found:
            await message.answer(
                _("没有找到姓名含“{name}”的党员。").format(name=html.quote(name[:30]))
            )
            return
        if len(found) > 1:
            rows = [
                [_button(f"{n} · {branch}", action="page", member_id=mid)]
                for mid, n, branch in found
            ]
            await message.answer(
                _("有几位党员姓名含“{name}”，请选择：").format(name=html.quote(name[:30])),
                reply_markup=InlineKeyboardMarkup(inline_keyboard=rows),
            )
            return
        member_id = found[0][0]
    text, keyboard = await _page(session, actor, clock, member_id, 0, 0)
    await message.answer(text, reply_markup=keyboard)


@router.callback_query(MemberAction.filter(F.action == "audit"))
async def from_card(
    call: CallbackQuery,
    callback_data: MemberAction,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
) -> None:
    assert isinstance(call.message, Message)
    text, keyboard = await _page(session, actor, clock, callback_data.member_id, 0, 0)
    await call.message.answer(text, reply_markup=keyboard)


@router.callback_query(AuditAct.filter(F.action == "page"))
async def turn(
    call: CallbackQuery,
    callback_data: AuditAct,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
) -> None:
    assert isinstance(call.message, Message)
    d = callback_data
    text, keyboard = await _page(session, actor, clock, d.member_id, d.user_id, d.page)
    await call.message.edit_text(text, reply_markup=keyboard)


@router.callback_query(AuditAct.filter(F.action == "users"))
async def users(
    call: CallbackQuery, callback_data: AuditAct, session: AsyncSession, actor: Actor
) -> None:
    assert isinstance(call.message, Message)
    people = await audit.actors(session, actor)
    if not people:
        await call.message.answer(_("还没有人操作过。"))
        return
    rows = [
        [_button(name, action="page", user_id=uid, member_id=callback_data.member_id)]
        for uid, name in people
    ]
    await call.message.answer(
        _("查看谁的操作？（最近有操作的在前）"),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=rows),
    )


@router.callback_query(AuditAct.filter(F.action == "export"))
async def export(
    call: CallbackQuery,
    callback_data: AuditAct,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    bot: Bot,
) -> None:
    assert isinstance(call.message, Message)
    d = callback_data
    found = await audit.all_events(
        session, actor, member_id=d.member_id or None, user_id=d.user_id or None
    )
    callback_answer.disable()
    await call.answer(_("正在生成……"))
    now = clock.now()
    committees = [
        org.name
        for org_id in actor.orgs(Role.COMMITTEE)
        if (org := await session.get(Organisation, org_id)) is not None
    ]
    scope = "、".join(committees)
    shown = [f"党员 {found.member_name}"] if found.member_name else []
    shown += [f"操作人 {found.user_name}"] if found.user_name else []
    scope_filter = "，".join(shown) or "全部记录"
    if found.total > len(found.rows):
        scope_filter += f"（最近{len(found.rows)}条，共{found.total}条）"
    rows = [_cells(row, now) for row in found.rows]
    stamp = await exports.stamp(session, actor, now)
    async with write_tx(session):
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="export",
            entity_id=None,
            action="export",
            field="audit",
            new=TITLE,
            member_id=d.member_id or None,
            org_id=actor.orgs(Role.COMMITTEE)[0],
        )
    async with uploading(call.message, bot):
        content = await pool.render(RenderJob(audit_workbook, (scope, scope_filter, stamp, rows)))
    name = exports.filename(clock.today(), scope, TITLE, ".xlsx")
    await send_form(call.message, content, name, TITLE)


def _cells(row: audit.AuditRow, now: datetime) -> tuple[str, ...]:
    """One event as the workbook's cells, in Chinese (the workbook is not translated)."""
    said = words(row.entity, row.action, row.field, row.old_value, row.new_value)
    at = utc(row.at).astimezone(now.tzinfo)
    who = "系统" if row.actor_id is None else (row.actor_name or f"用户{row.actor_id}")
    return (
        f"{at:%Y-%m-%d %H:%M:%S}",
        who,
        said.action,
        row.member_name or "",
        row.org_name or "",
        said.field,
        said.old,
        said.new,
    )
