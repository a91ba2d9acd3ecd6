"""/template and the roster upload (党员名册导入).

The secretary fills the template on a computer and sends it back as a
document. The file is checked before it is downloaded (name, size), then every
row is checked before anything is saved: all rows land in one transaction or
none do, and the problems come back by row and column, with the whole list in
a workbook. Progress shows in one edited message for large files.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import time

from aiogram import Bot, F, html
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Document, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings
from domain.clock import Clock
from domain.errors import InvalidInput
from handlers.branch_choice import pick_branch
from handlers.filters import HasRole
from handlers.member_view import BranchPick
from handlers.routes import Routes
from reports.forms.roster import template_workbook
from storage.models import Organisation
from storage.services import categories
from storage.services.access import Actor, Role, require_branch
from storage.services.roster_import import ImportResult, import_roster

router = Routes("roster_import")
router.filter(HasRole(Role.SECRETARY))

_EDIT_EVERY = 1.0  # seconds between progress edits: Telegram limits edits too


@router.message(Command("template"))
async def send_template(
    message: Message, session: AsyncSession, actor: Actor, clock: Clock
) -> None:
    branch = await pick_branch(message, session, actor, "template", write=True)
    if branch is not None:
        await _send_template(message, session, branch, clock)


@router.callback_query(BranchPick.filter(F.purpose == "template"))
async def template_for(
    call: CallbackQuery,
    callback_data: BranchPick,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
) -> None:
    assert isinstance(call.message, Message)
    branch = await require_branch(session, actor, callback_data.branch_id, write=True)
    await _send_template(call.message, session, branch, clock)


async def _send_template(
    message: Message, session: AsyncSession, branch: Organisation, clock: Clock
) -> None:
    listed = await categories.names_for_branch(session, branch.id)
    data = await asyncio.to_thread(template_workbook, branch.name, clock.today(), listed)
    await message.answer_document(
        BufferedInputFile(data, filename=f"党员名册_{branch.name}.xlsx"),
        caption=_(
            "请在电脑上填写后，把文件直接发回给我。\n"
            "带 * 的列必须填写；示例行可以删除或覆盖。同一身份证号再次导入只会更新，不会重复登记。"
        ),
    )


def _refuse_before_download(document: Document, settings: Settings) -> str | None:
    name = (document.file_name or "").lower()
    if not name.endswith(".xlsx"):
        if name.endswith((".xls", ".et", ".csv", ".wps")):
            return _("请先在 Excel 或 WPS 中“另存为” .xlsx 格式，再发给我。")
        return _("只能导入 .xlsx 格式的党员名册。发送 /template 获取模板。")
    if document.file_size and document.file_size > settings.max_upload_bytes:
        limit = settings.max_upload_bytes // (1024 * 1024)
        return _("文件太大（超过{limit}MB），请拆分成几个文件分别导入。").format(limit=limit)
    return None


@router.message(StateFilter(None), F.document)
async def upload(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    clock: Clock,
    bot: Bot,
) -> None:
    assert message.document is not None
    refusal = _refuse_before_download(message.document, settings)
    if refusal:
        await message.answer(refusal)
        return
    await state.update_data(upload_file_id=message.document.file_id)
    branch = await pick_branch(message, session, actor, "import", write=True)
    if branch is not None:
        await _import(message, state, session, actor, settings, clock, bot, branch.id)


@router.callback_query(BranchPick.filter(F.purpose == "import"))
async def import_into(
    call: CallbackQuery,
    callback_data: BranchPick,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    clock: Clock,
    bot: Bot,
) -> None:
    assert isinstance(call.message, Message)
    await require_branch(session, actor, callback_data.branch_id, write=True)
    await _import(
        call.message, state, session, actor, settings, clock, bot, callback_data.branch_id
    )


async def _import(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    clock: Clock,
    bot: Bot,
    branch_id: int,
) -> None:
    data = await state.get_data()
    file_id = data.pop("upload_file_id", None)
    await state.set_data(data)  # an empty record is deleted
    if not file_id:
        await message.answer(_("没有找到要导入的文件，请重新发送。"))
        return
    status = await message.answer(_("正在读取文件…"))
    buffer = io.BytesIO()
    await bot.download(file_id, destination=buffer)
    progress = _progress_editor(status)
    try:
        result = await import_roster(
            session,
            actor,
            branch_id,
            buffer.getvalue(),
            today=clock.today(),
            max_rows=settings.max_roster_rows,
            max_bytes=settings.max_upload_bytes,
            progress=progress,
            pocket_days=settings.pocket_days,
        )
    except InvalidInput as exc:
        await status.edit_text("❌ " + html.quote(exc.render(_)) + "\n" + _("没有导入任何数据。"))
        return
    await _report(message, status, result)


def _progress_editor(status: Message):  # type: ignore[no-untyped-def]
    last = {"at": 0.0, "text": status.text or ""}

    async def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if total <= 0 or now - last["at"] < _EDIT_EVERY:
            return
        text = _("正在检查和导入… {percent}%").format(percent=done * 100 // total)
        if text != last["text"]:
            last["at"], last["text"] = now, text
            # A failed progress edit must never abort the import itself.
            with contextlib.suppress(TelegramAPIError):
                await status.edit_text(text)

    return progress


async def _report(message: Message, status: Message, result: ImportResult) -> None:
    if result.saved:
        text = _("✅ 导入完成：新增{created}人，更新{updated}人，未变{unchanged}人。").format(
            created=result.created, updated=result.updated, unchanged=result.unchanged
        )
        if result.family_changed:
            text += "\n" + _("家庭成员：更新了{n}名党员的记录。").format(n=result.family_changed)
        if result.unknown_columns:
            text += "\n" + _("以下列不认识，已忽略：{columns}").format(
                columns=html.quote("、".join(result.unknown_columns))
            )
        await status.edit_text(text)
        return
    lines = [
        _("❌ 没有导入任何数据：发现{count}处问题，请修改后重新发送整个文件。").format(
            count=result.error_count
        )
    ]
    for error in result.errors:
        where = _("第{row}行").format(row=error.row) + (
            f" {html.quote(error.column)}" if error.column else ""
        )
        lines.append(f"• {where}：{html.quote(error.message)}")
    if result.more_errors:
        lines.append(_("……另有{more}处，见附件“错误说明”列。").format(more=result.more_errors))
    await status.edit_text("\n".join(lines))
    if result.error_workbook:
        await message.answer_document(
            BufferedInputFile(result.error_workbook, filename="党员名册_错误说明.xlsx"),
            caption=_("全部问题写在最后一列“错误说明”里。"),
        )
