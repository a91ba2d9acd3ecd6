"""How /audit words an audit event (审计记录用语), for the chat and for the
exported workbook alike: what was done, to which field, the old and new value
masked (issue 18 point 2: audit views show masked values).

The dossier's words (``domain.audit_words.ACTIONS``) are reused for the
events about a member; the rest (roles, invitations, reads of a card, the
campaign's settings) are worded here. Msgids: the chat translates them, the
workbook keeps the Chinese. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from domain.audit_words import ACTIONS as DOSSIER_ACTIONS
from domain.errors import N_
from domain.idcard import mask_id_number, mask_phone
from domain.member_fields import FIELD_BY_KEY
from domain.redact import mask_address, mask_numbers

Gettext = Callable[[str], str]

READ = "read"  # a card shown: entity "member", the member in entity_id

ACTIONS: dict[tuple[str, str], str] = {
    **DOSSIER_ACTIONS,
    ("member", READ): N_("查看党员卡片"),
    ("role", "grant"): N_("授予角色"),
    ("role", "revoke"): N_("收回角色"),
    ("invitation", "create"): N_("生成邀请码"),
    ("invitation", "redeem"): N_("凭邀请码加入"),
    ("invitation", "join_failed"): N_("邀请码被拒绝"),
    ("campaign", "create"): N_("新建排查工作"),
    ("campaign", "close"): N_("结束排查工作"),
    ("campaign", "scope"): N_("设定排查范围"),
    ("campaign", "offsets"): N_("调整截止时间"),
    ("stage", "add"): N_("增加工作阶段"),
    ("stage", "move"): N_("调整工作阶段"),
    ("stage", "remove"): N_("删除工作阶段"),
    ("stage_item", "mark"): N_("标记报送事项已完成"),
    ("stage_item", "undo"): N_("撤销报送事项完成标记"),
    ("category", "create"): N_("增加人员类别"),
    ("category", "delete"): N_("删除人员类别"),
    ("organisation", "create"): N_("建立党组织"),
}
ROLES = {"secretary": N_("支部书记"), "committee": N_("党委工作人员"), "admin": N_("系统管理员")}
# Fields whose values are personal data, and how each is masked.
_MASKS: dict[str, Callable[[str], str]] = {
    "id_number": mask_id_number,
    "phone": mask_phone,
    "residence": mask_address,
}
VALUE_LIMIT = 60  # characters of an old/new value shown in chat


def action_words(entity: str, action: str, gettext: Gettext = str) -> str:
    msgid = ACTIONS.get((entity, action))
    return gettext(msgid) if msgid else f"{entity}/{action}"


def field_words(entity: str, field: str | None, gettext: Gettext = str) -> str:
    """The field's label as the card shows it; a role's name; else the key."""
    if not field:
        return ""
    if entity in ("member", "review") and field in FIELD_BY_KEY:
        return gettext(FIELD_BY_KEY[field].label)
    if entity in ("role", "invitation") and field in ROLES:
        return gettext(ROLES[field])
    return field


def masked(field: str | None, value: str | None) -> str:
    """An old or new value as any audit view shows it: the personal fields
    masked as in lists, any ID or mobile number inside other text masked too."""
    if value is None or value == "":
        return ""
    mask = _MASKS.get(field or "")
    if mask is not None:
        return mask(value)
    return mask_numbers(value)


@dataclass(frozen=True)
class Words:
    """One event in words: what, which field, old → new (masked)."""

    action: str
    field: str
    old: str
    new: str

    def change(self, limit: int | None = None) -> str:
        old, new = (_cut(self.old, limit), _cut(self.new, limit))
        if old and new:
            return f"{old} → {new}"
        return new or (f"{old} → " if old else "")


def _cut(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def words(
    entity: str,
    action: str,
    field: str | None,
    old: str | None,
    new: str | None,
    gettext: Gettext = str,
) -> Words:
    shown_field = field
    if entity == "export":  # the form's key; the file name says which form
        shown_field = None
    if entity == "role":  # old/new: the user's id, not personal data of a member
        return Words(
            action_words(entity, action, gettext),
            field_words(entity, field, gettext),
            old or "",
            new or "",
        )
    return Words(
        action_words(entity, action, gettext),
        field_words(entity, shown_field, gettext),
        masked(field, old),
        masked(field, new),
    )
