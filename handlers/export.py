"""/export: the official forms as files, on command (导出报表, SPEC §7).

Few taps: the user's organisation (asked only when they hold several), then
the form. Committee staff export for the whole committee or, through
“按党支部”, for one branch; “按阶段打包” gives every form a stage of the
campaign names in one .zip (SPEC §8). The one-member forms come from the
member's card. Files go only to the requesting user in this private chat
(R-ACL-PRIVATE, R-CONFIDENTIAL); building runs in the worker process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from datetime import date, datetime
from typing import TypedDict, TypeVar

from aiogram import Bot, F, html
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings
from domain.clock import Clock
from domain.errors import DataCheckFailed, InvalidInput
from handlers.documents import send_file, send_form, uploading
from handlers.member_view import MemberAction
from handlers.routes import Routes
from storage.models import CampaignStage, Organisation, StageItem
from storage.services import exports
from storage.services.access import AccessDenied, Actor, Role, require_member

router = Routes("export")

# A build still running after this long gets a “please wait” line.
PROGRESS_AFTER = 1.5
BRANCHES_PER_PAGE = 8
CAPTION_LIMIT = 1024

T = TypeVar("T")


class ExportAct(CallbackData, prefix="ex"):
    """Ids and a form key only (64 bytes); every one re-checked on the server."""

    action: str  # org | form | branches | stages | stage
    org_id: int
    key: str = ""
    stage_id: int = 0
    page: int = 0


def _button(text: str, **data: object) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=ExportAct(**data).pack())  # type: ignore[arg-type]


@router.message(Command("export"))
async def start(message: Message, session: AsyncSession, actor: Actor) -> None:
    orgs = await exports.export_orgs(session, actor)
    if not orgs:
        await message.answer(_("您还没有可以导出的党组织。"))
        return
    if len(orgs) == 1:
        await _forms_menu(message, session, actor, orgs[0])
        return
    rows = [[_button(_org_label(o), action="org", org_id=o.id)] for o in orgs]
    await message.answer(
        _("导出哪个党组织的表？"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows)
    )


def _org_label(org: Organisation) -> str:
    return _("🏛 {name}（全党委）").format(name=org.name) if org.kind == "committee" else org.name


async def _forms_menu(
    message: Message, session: AsyncSession, actor: Actor, org: Organisation
) -> None:
    forms = exports.forms_for(org, actor)
    rows = [[_button(f.title, action="form", org_id=org.id, key=f.key)] for f in forms]
    extra = [_button(_("📦 按阶段打包"), action="stages", org_id=org.id)]
    if org.kind == "committee":
        extra.append(_button(_("🔽 按党支部"), action="branches", org_id=org.id))
    rows.append(extra)
    scope = _("全党委") if org.kind == "committee" else _("本支部")
    await message.answer(
        _(
            "<b>{name}</b>（{scope}）：选择要导出的表。\n一人一档和党员基本信息表请在党员卡片上导出。"
        ).format(name=html.quote(org.name), scope=scope),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=rows),
    )


@router.callback_query(ExportAct.filter(F.action == "org"))
async def org_chosen(
    call: CallbackQuery,
    callback_data: ExportAct,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
) -> None:
    assert isinstance(call.message, Message)
    org = await _readable_org(session, actor, callback_data.org_id)
    await _ack(call, callback_answer)
    await _forms_menu(call.message, session, actor, org)


async def _ack(call: CallbackQuery, answer: CallbackAnswer, text: str | None = None) -> None:
    """Answer the tap now: a workbook may take longer than Telegram waits for
    the answer the middleware would give after the handler."""
    answer.disable()
    await call.answer(text)


async def _readable_org(session: AsyncSession, actor: Actor, org_id: int) -> Organisation:
    """The organisation, if the user holds it or (a branch) staffs its committee."""
    org = await session.get(Organisation, org_id)
    if org is None:
        raise AccessDenied
    committees = actor.orgs(Role.COMMITTEE)
    if org.kind == "committee" and org.id in committees:
        return org
    if org.kind == "branch" and (
        org.id in actor.orgs(Role.SECRETARY) or org.parent_id in committees
    ):
        return org
    raise AccessDenied


@router.callback_query(ExportAct.filter(F.action == "branches"))
async def branches(
    call: CallbackQuery,
    callback_data: ExportAct,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
) -> None:
    assert isinstance(call.message, Message)
    committee = await _readable_org(session, actor, callback_data.org_id)
    if committee.kind != "committee":
        raise AccessDenied
    under = Organisation.kind == "branch", Organisation.parent_id == committee.id
    total = await session.scalar(select(func.count()).where(*under)) or 0
    page = max(0, callback_data.page)
    rows = [
        [_button(b.name, action="org", org_id=b.id)]
        for b in await session.scalars(
            select(Organisation)
            .where(*under)
            .order_by(Organisation.name, Organisation.id)
            .offset(page * BRANCHES_PER_PAGE)
            .limit(BRANCHES_PER_PAGE)
        )
    ]
    nav = []
    if page > 0:
        nav.append(_button("◀", action="branches", org_id=committee.id, page=page - 1))
    if (page + 1) * BRANCHES_PER_PAGE < total:
        nav.append(_button("▶", action="branches", org_id=committee.id, page=page + 1))
    if nav:
        rows.append(nav)
    await _ack(call, callback_answer)
    await call.message.answer(
        _("选择党支部（共{n}个）：").format(n=total),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=rows),
    )


@router.callback_query(ExportAct.filter(F.action == "form"))
async def form_chosen(
    call: CallbackQuery,
    callback_data: ExportAct,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    settings: Settings,
    bot: Bot,
) -> None:
    assert isinstance(call.message, Message)
    await _readable_org(session, actor, callback_data.org_id)  # refused before the tap is answered
    await _ack(call, callback_answer, _("正在生成……"))
    build = exports.export_form(
        session, actor, callback_data.key, org_id=callback_data.org_id, **_when(clock, settings)
    )
    await _send_export(call.message, bot, build)


@router.callback_query(MemberAction.filter(F.action == "export"))
async def member_form(
    call: CallbackQuery,
    callback_data: MemberAction,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    settings: Settings,
    bot: Bot,
) -> None:
    """From a member's card: 一人一档 (arg "dossier") or 党员基本信息表 ("member_info")."""
    assert isinstance(call.message, Message)
    await require_member(session, actor, callback_data.member_id)
    await _ack(call, callback_answer, _("正在生成……"))
    key = callback_data.arg or "dossier"
    build = exports.export_form(
        session, actor, key, member_id=callback_data.member_id, **_when(clock, settings)
    )
    await _send_export(call.message, bot, build)


class _When(TypedDict):
    today: date
    now: datetime
    pocket_days: int
    database_url: str


def _when(clock: Clock, settings: Settings) -> _When:
    """What every build reads besides its form and scope: the dates on the
    forms and the settings (the worker process opens the database itself)."""
    return _When(
        today=clock.today(),
        now=clock.now(),
        pocket_days=settings.pocket_days,
        database_url=settings.database_url,
    )


async def _send_export(message: Message, bot: Bot, build: Awaitable[exports.Export]) -> None:
    result = await _with_progress(message, bot, build)
    if result is None:
        return
    await send_form(message, result.content, result.filename, result.form.title)


async def _with_progress(message: Message, bot: Bot, build: Awaitable[T]) -> T | None:
    """Runs ``build`` with “sending a file…” shown, a wait line if it takes a
    while, and bad data answered in words (never a half-right file)."""
    task = asyncio.ensure_future(build)
    note: Message | None = None
    try:
        async with uploading(message, bot):
            done, _pending = await asyncio.wait({task}, timeout=PROGRESS_AFTER)
            if not done:
                note = await message.answer(_("表格较大，正在生成，请稍候……"))
            return await task
    except DataCheckFailed as failed:
        lines = "\n".join(f"• {html.quote(p)}" for p in failed.problems)
        await message.answer(
            _("数据有误，这张表没有生成：\n{lines}\n请修改后再导出。").format(lines=lines)
        )
    except InvalidInput as bad:
        await message.answer(html.quote(bad.render(_)))
    finally:
        if note is not None:
            with contextlib.suppress(TelegramBadRequest):
                await note.delete()
    return None


@router.callback_query(ExportAct.filter(F.action == "stages"))
async def stages(
    call: CallbackQuery,
    callback_data: ExportAct,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
) -> None:
    assert isinstance(call.message, Message)
    org = await _readable_org(session, actor, callback_data.org_id)
    campaign = await exports.current_campaign(session, org)
    if campaign is None:
        await _ack(call, callback_answer)
        await call.message.answer(_("没有进行中的排查工作，无法按阶段打包。"))
        return
    with_forms = select(StageItem.stage_id).where(StageItem.form.is_not(None))
    rows = [
        [_button(f"{s.due:%m-%d} {s.title}", action="stage", org_id=org.id, stage_id=s.id)]
        for s in await session.scalars(
            select(CampaignStage)
            .where(CampaignStage.campaign_id == campaign.id, CampaignStage.id.in_(with_forms))
            .order_by(CampaignStage.due, CampaignStage.id)
        )
    ]
    await _ack(call, callback_answer)
    if not rows:
        await call.message.answer(_("这项排查工作的各阶段都没有要报送的表。"))
        return
    await call.message.answer(
        _("“{name}”：选择阶段，一次导出该阶段要报送的全部表（.zip）。").format(
            name=html.quote(campaign.name)
        ),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=rows),
    )


@router.callback_query(ExportAct.filter(F.action == "stage"))
async def stage_chosen(
    call: CallbackQuery,
    callback_data: ExportAct,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    settings: Settings,
    bot: Bot,
) -> None:
    assert isinstance(call.message, Message)
    org = await _readable_org(session, actor, callback_data.org_id)
    await _ack(call, callback_answer, _("正在打包……"))
    build = exports.export_stage(
        session, actor, callback_data.stage_id, org.id, **_when(clock, settings)
    )
    bundle = await _with_progress(call.message, bot, build)
    if bundle is None:
        return
    caption = _("已打包 {n} 个文件。内部资料 注意保密，请勿转发。").format(n=len(bundle.included))
    if bundle.skipped:
        lines = [f"• {html.quote(title)}：{html.quote(why)}" for title, why in bundle.skipped]
        listed = "\n".join([caption, _("未生成："), *lines])
        # A caption holds 1,024 characters; the zip's 未生成说明.txt has it all.
        caption = (
            listed
            if len(listed) <= CAPTION_LIMIT
            else caption
            + "\n"
            + _("有 {n} 张表未生成，原因见压缩包中的“未生成说明.txt”。").format(n=len(lines))
        )
    await send_file(call.message, bundle.content, bundle.filename, caption)
