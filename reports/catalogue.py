"""The forms the bot exports (导出报表目录, SPEC §7): one line per form, its short
ASCII key (the key ``StageItem.form`` names), its title as the seed words it,
where it comes from, and what kind of thing it is.

Pure: no database, no Telegram. ``paicha export --list`` prints this table;
``/export`` offers it by role; the collectors in ``storage.services.form_data``
fill each form.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FormKind(StrEnum):
    REGISTER = "register"  # 登记表 / 名册: one row per member
    SUMMARY = "summary"  # 汇总表 / 统计表: one row per branch and a total
    MEMBER = "member"  # one member: 基本信息表, 一人一档
    PROSE = "prose"  # a Word draft with the figures filled in


@dataclass(frozen=True)
class FormInfo:
    key: str
    title: str
    source: str
    kind: FormKind
    # Only committee staff take it (the 综合情况报告 and the working group's
    # 核查情况报告 are the committee's own papers; SPEC §7).
    committee_only: bool = False
    suffix: str = ".xlsx"

    @property
    def per_member(self) -> bool:
        return self.kind is FormKind.MEMBER


FORMS: tuple[FormInfo, ...] = (
    FormInfo("roster", "党员名册", "seed 001 附件2", FormKind.REGISTER),
    FormInfo("member_info", "党员基本信息表", "seed 001 附件1", FormKind.MEMBER),
    FormInfo("attempt_log", "查找联系失联党员情况记录表", "seed 001 附件3", FormKind.REGISTER),
    FormInfo(
        "mobile_register", "外出流动党员登记表", "seed 001 附件4, seed 000 附件5", FormKind.REGISTER
    ),
    FormInfo(
        "found_register",
        "经查找取得联系党员登记表",
        "seed 001 附件5, seed 000 附件1",
        FormKind.REGISTER,
    ),
    FormInfo(
        "unreachable_register",
        "经查找仍然无法取得联系党员登记表",
        "seed 001 附件6, seed 000 附件2",
        FormKind.REGISTER,
    ),
    FormInfo("pocket_register", "“口袋”党员登记表", "seed 000 附件7", FormKind.REGISTER),
    FormInfo("pocket_summary", "“口袋”党员情况汇总表", "seed 000 附件8", FormKind.SUMMARY),
    FormInfo(
        "lost_summary",
        "与党组织失去联系党员情况汇总表",
        "seed 001 附件7, seed 000 附件3",
        FormKind.SUMMARY,
    ),
    FormInfo(
        "mobile_summary",
        "外出流动党员情况汇总表",
        "seed 001 附件8, seed 000 附件6",
        FormKind.SUMMARY,
    ),
    FormInfo(
        "disposal_summary",
        "与党组织失去联系党员管理及处置情况汇总表",
        "seed 001 附件9, seed 000 附件4",
        FormKind.SUMMARY,
    ),
    FormInfo("survey_stats", "党员摸底核查情况统计表", "seed 000 附件9", FormKind.SUMMARY),
    FormInfo("outflow_register", "流出党员基本信息登记表", "seed 003 附件1", FormKind.REGISTER),
    FormInfo("outflow_stats", "流出党员有关情况统计表", "seed 003 附件2", FormKind.SUMMARY),
    FormInfo("dossier", "一人一档", "SPEC R-DOSSIER", FormKind.MEMBER),
    FormInfo(
        "report",
        "党员组织关系集中排查综合情况报告",
        "seed 000 二(六), seed 001 步骤7, seed 004 检查总结",
        FormKind.PROSE,
        committee_only=True,
        suffix=".docx",
    ),
    FormInfo(
        "branch_report",
        "核查情况报告",
        "seed 004 工作组核查",
        FormKind.PROSE,
        committee_only=True,
        suffix=".docx",
    ),
)

# Stage items name some forms by another notice's wording (seed 004's
# 流动党员管理有关情况统计表 is the 流出党员有关情况统计表 of seed 003).
ALIASES = {"mobile_stats": "outflow_stats"}

_BY_KEY = {f.key: f for f in FORMS}


def find(name: str) -> FormInfo | None:
    """A form by its key, an alias, or its title (with or without the quotes
    and the 附件 note a stage item adds)."""
    name = name.strip()
    key = ALIASES.get(name, name)
    if key in _BY_KEY:
        return _BY_KEY[key]
    plain = _plain(name)
    for form in FORMS:
        if _plain(form.title) == plain:
            return form
    return None


def _plain(title: str) -> str:
    for mark in '“”"':
        title = title.replace(mark, "")
    return title.split("（")[0].split("(")[0].strip()
