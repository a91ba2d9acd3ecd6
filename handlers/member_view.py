"""How members look in chat (显示): the masked list line and the whole card."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiogram import html
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from domain.codes import MemberType
from domain.dates import PartialDate
from domain.family import Relative
from domain.idcard import mask_id_number, mask_phone
from domain.member_fields import ABROAD_FIELDS, ABROAD_GROUP, FIELDS, FieldSpec
from storage.models import FamilyMember, Member
from storage.services.members import MemberPage


class MemberAction(CallbackData, prefix="m"):
    """Ids only, never names: callback_data is at most 64 bytes."""

    action: str
    member_id: int
    arg: str = ""


class MemberListPage(CallbackData, prefix="ml"):
    branch_id: int
    page: int


class BranchPick(CallbackData, prefix="bp"):
    purpose: str
    branch_id: int


def relative_line(row: FamilyMember) -> str:
    return Relative(row.relation, row.name, row.work_unit, row.phone).line()


def list_line(index: int, member: Member) -> str:
    """One line of a list: ID number and phone masked (R-CONFIDENTIAL)."""
    birth = PartialDate.from_iso(member.birth).zh() if member.birth else ""
    parts = [f"{index}. <b>{html.quote(member.name)}</b>", member.gender, birth]
    parts.append(MemberType(member.member_type).label if member.member_type else "")
    if member.id_number:
        parts.append(mask_id_number(member.id_number))
    if member.phone:
        parts.append(mask_phone(member.phone))
    return " ".join(p for p in parts if p)


def page_text(branch_name: str, page: MemberPage, query: str = "") -> str:
    head = _("<b>{branch}</b> 党员名册（共{total}人）").format(
        branch=html.quote(branch_name), total=page.total
    )
    if query:
        head += "\n" + _("搜索：{query}").format(query=html.quote(query))
    if not page.members:
        return (
            head
            + "\n"
            + (
                _("没有找到匹配的党员。")
                if query
                else _("还没有登记党员。发送 /add 登记，或 /template 批量导入。")
            )
        )
    start = page.page * 10
    lines = [list_line(start + i + 1, m) for i, m in enumerate(page.members)]
    footer = _("第{page}/{pages}页 · 点编号打开党员卡片").format(
        page=page.page + 1, pages=page.pages
    )
    return "\n".join([head, *lines, footer])


@dataclass(frozen=True)
class ListTargets:
    """Where a member list's taps go: the register's card and pages by default;
    another picker (the committee's review) passes its own callback data."""

    member: Callable[[int], str]  # member id → callback data
    page: Callable[[int], str]  # page number → callback data
    search: str


def register_targets(branch_id: int) -> ListTargets:
    return ListTargets(
        member=lambda mid: MemberAction(action="card", member_id=mid).pack(),
        page=lambda p: MemberListPage(branch_id=branch_id, page=p).pack(),
        search=BranchPick(purpose="search", branch_id=branch_id).pack(),
    )


def page_keyboard(
    branch_id: int, page: MemberPage, targets: ListTargets | None = None
) -> InlineKeyboardMarkup:
    go = targets or register_targets(branch_id)
    start = page.page * 10
    numbers = [
        InlineKeyboardButton(text=str(start + i + 1), callback_data=go.member(m.id))
        for i, m in enumerate(page.members)
    ]
    rows = [numbers[i : i + 5] for i in range(0, len(numbers), 5)]
    nav = []
    if page.page > 0:
        nav.append(InlineKeyboardButton(text="◀", callback_data=go.page(page.page - 1)))
    nav.append(InlineKeyboardButton(text=_("🔍 搜索"), callback_data=go.search))
    if page.page + 1 < page.pages:
        nav.append(InlineKeyboardButton(text="▶", callback_data=go.page(page.page + 1)))
    rows.append(nav)
    return InlineKeyboardMarkup(inline_keyboard=rows)


def card_text(
    member: Member,
    branch_name: str,
    relatives: Sequence[FamilyMember] = (),
    cases: Sequence[str] = (),
) -> str:
    """The member's own card shows the whole ID number and phone (SPEC §1)."""
    lines = [
        _("<b>党员卡片</b>"),
        _("所在党支部：{branch}").format(branch=html.quote(branch_name)),
    ]
    for spec in FIELDS:
        value = getattr(member, spec.key)
        if (value is None and not spec.required) or spec.group:
            continue
        lines.append(f"{_(spec.label)}：{html.quote(spec.display(value))}")
    lines += abroad_lines(member)
    if relatives:
        lines.append(_("家庭主要成员及重要社会关系："))
        lines += [f"· {html.quote(relative_line(r))}" for r in relatives]
    lines += cases  # the dispositions' lines (handlers.disposition_view.card_lines)
    missing = [_(s.label) for s in FIELDS if s.ask_on_add and getattr(member, s.key) is None]
    if missing:
        lines.append(_("未填写：{fields}").format(fields="、".join(missing)))
    return "\n".join(lines)


def abroad_lines(member: Member) -> list[str]:
    """出国（境）情况 (seed 001 附件1 note 7) as a block under its heading, only
    the items filled in; nothing for a member with none."""
    filled = [(s, getattr(member, s.key)) for s in ABROAD_FIELDS]
    filled = [(s, v) for s, v in filled if v not in (None, "")]
    if not filled:
        return []
    return [f"{_(ABROAD_GROUP)}："] + [
        f"· {_(s.label)}：{html.quote(s.display(v))}" for s, v in filled
    ]


def card_keyboard(
    member: Member, *, can_write: bool, can_audit: bool = False
) -> InlineKeyboardMarkup:
    def button(text: str, action: str, arg: str = "") -> InlineKeyboardButton:
        return InlineKeyboardButton(
            text=text,
            callback_data=MemberAction(action=action, member_id=member.id, arg=arg).pack(),
        )

    rows = []
    if can_write:
        rows.append([button(_("🔍 记录查找"), "log"), button(_("🗂 查找记录"), "attempts")])
        rows.append([button(_("📂 档案"), "dossier")])
        rows.append([button(_("🏁 结束查找"), "close"), button(_("🚶 流动登记"), "mobile")])
        rows.append([button(_("✏️ 修改信息"), "edit"), button(_("👪 家庭成员"), "family")])
        rows.append([button(_("📨 转出介绍信"), "letter"), button(_("📥 收到回执"), "receipt")])
        if member.member_type == MemberType.PROBATIONARY.value:
            rows.append([button(_("✅ 转为正式党员"), "type", MemberType.FULL.value)])
        else:
            rows.append([button(_("改为预备党员"), "type", MemberType.PROBATIONARY.value)])
    # Every reader of the card writes it or staffs the committee over it
    # (access.readable_branch_ids): both may settle a case (处置).
    rows.append([button(_("⚖️ 处置"), "dispose")])
    if can_audit:  # committee staff over the branch: who did what to this member
        rows.append([button(_("🧾 操作记录"), "audit")])
    rows.append(
        [
            button(_("📥 一人一档"), "export", "dossier"),
            button(_("📄 基本信息表"), "export", "member_info"),
        ]
    )
    rows.append(
        [
            InlineKeyboardButton(
                text=_("↩ 返回名册"),
                callback_data=MemberListPage(branch_id=member.branch_id, page=0).pack(),
            )
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


def fields_keyboard(member_id: int, action: str = "field") -> InlineKeyboardMarkup:
    def button(spec: FieldSpec) -> InlineKeyboardButton:
        return InlineKeyboardButton(
            text=_(spec.label),
            callback_data=MemberAction(action=action, member_id=member_id, arg=spec.key).pack(),
        )

    own = [button(s) for s in FIELDS if not s.group]
    rows = [own[i : i + 3] for i in range(0, len(own), 3)]
    # The 出国（境） block on rows of its own, two a row: its labels are long.
    abroad = [button(s) for s in ABROAD_FIELDS]
    rows += [abroad[i : i + 2] for i in range(0, len(abroad), 2)]
    rows.append(
        [
            InlineKeyboardButton(
                text=_("↩ 返回卡片"),
                callback_data=MemberAction(action="card", member_id=member_id).pack(),
            )
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)
