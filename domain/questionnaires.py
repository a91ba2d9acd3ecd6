"""Short questionnaires asked field by field (问答表): the end of a search and a
mobile member's registration. Each is a tuple of FieldSpec (the same catalogue
type as the member record), fields asked only when a condition holds, and a
cross-field check. Pure: the chat walk lives in handlers/form_walk.py."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.codes import (
    FlowDirection,
    FoundOrgCategory,
    LostContactReason,
    LostOccupation,
    MisconductCheck,
    MobileIndustry,
    MobileOccupation,
    MobileRegion,
    PartyOrgType,
    Relation,
    UnreachableOrgCategory,
)
from domain.errors import N_, InvalidInput
from domain.member_fields import FieldSpec, Kind

Values = Mapping[str, Any]


@dataclass(frozen=True)
class Questionnaire:
    name: str
    fields: tuple[FieldSpec, ...]
    asks: Mapping[str, Callable[[Values], bool]] = field(default_factory=dict)
    check: Callable[[Values], list[InvalidInput]] = lambda values: []

    def applies(self, key: str, values: Values) -> bool:
        condition = self.asks.get(key)
        return condition is None or condition(values)

    def by_key(self, key: str) -> FieldSpec:
        return next(f for f in self.fields if f.key == key)


def _other_needs_note(values: Values) -> list[InvalidInput]:
    if values.get("lost_reason") == LostContactReason.OTHER.value and not values.get(
        "lost_reason_note"
    ):
        return [InvalidInput(N_("失去联系情形选“其他”时，请写明具体原因（附件3说明3）。"))]
    return []


_F = FieldSpec
_REASON_OTHER = {
    "lost_reason_note": lambda v: v.get("lost_reason") == LostContactReason.OTHER.value
}

# 经查找取得联系党员登记表 (seed 001 附件5) and SPEC §4 “On contact”.
FOUND = Questionnaire(
    name="found",
    fields=(
        _F("decided_on", N_("取得联系日期"), Kind.DAY, required=True),
        _F(
            "lost_reason", N_("失去联系情形"), Kind.CHOICE, required=True, choices=LostContactReason
        ),
        _F("lost_reason_note", N_("具体原因"), Kind.TEXT, required=True, max_len=200),
        _F("occupation", N_("职业"), Kind.CHOICE, required=True, choices=LostOccupation),
        _F("org_category", N_("党组织类别"), Kind.CHOICE, required=True, choices=FoundOrgCategory),
        _F(
            "had_misconduct", N_("失联期间有无不合格表现或违纪违法行为"), Kind.YES_NO, required=True
        ),
        _F("misconduct_check", N_("核实方式"), Kind.CHOICE, required=True, choices=MisconductCheck),
        _F("misconduct_note", N_("核实情况"), Kind.TEXT, max_len=300),
        _F("attitude", N_("本人态度"), Kind.TEXT, required=True, max_len=300),
        _F("is_pocket", N_("是否“口袋”党员"), Kind.YES_NO, required=True),
    ),
    asks=_REASON_OTHER,
    check=_other_needs_note,
)

# 经查找仍然无法取得联系党员登记表 (seed 001 附件6): no 街道社区 in its category list.
UNREACHABLE = Questionnaire(
    name="unreachable",
    fields=(
        _F("decided_on", N_("查找结束日期"), Kind.DAY, required=True),
        _F(
            "lost_reason", N_("失去联系情形"), Kind.CHOICE, required=True, choices=LostContactReason
        ),
        _F("lost_reason_note", N_("具体原因"), Kind.TEXT, required=True, max_len=200),
        _F("occupation", N_("职业"), Kind.CHOICE, required=True, choices=LostOccupation),
        _F(
            "org_category",
            N_("党组织类别"),
            Kind.CHOICE,
            required=True,
            choices=UnreachableOrgCategory,
        ),
        _F("is_pocket", N_("是否“口袋”党员"), Kind.YES_NO, required=True),
        _F("note", N_("备注"), Kind.TEXT, max_len=500),
    ),
    asks=_REASON_OTHER,
    check=_other_needs_note,
)

# 流出党员基本信息登记表 (seed 003 附件1) with 外出流动党员登记表 (seed 001 附件4).
MOBILE = Questionnaire(
    name="mobile",
    fields=(
        _F("left_on", N_("外出时间"), Kind.DAY),
        _F("destination", N_("流入地（外出去向）"), Kind.TEXT, required=True, max_len=100),
        _F("region", N_("流向区域"), Kind.CHOICE, required=True, choices=MobileRegion),
        _F("direction", N_("外出流向"), Kind.CHOICE, choices=FlowDirection),
        _F("reason", N_("从事行业或流动原因"), Kind.CHOICE, required=True, choices=MobileIndustry),
        _F("reason_note", N_("具体说明（选“其他”时必填）"), Kind.TEXT, required=True, max_len=100),
        _F("occupation", N_("职业"), Kind.CHOICE, choices=MobileOccupation),
        _F("work_unit", N_("流入单位"), Kind.TEXT, max_len=100),
        _F("unit_has_org", N_("单位是否建有党组织"), Kind.YES_NO),
        _F("org_type", N_("党组织类型"), Kind.CHOICE, choices=PartyOrgType),
        _F("certificate_no", N_("流动党员活动证编号"), Kind.TEXT, max_len=40),
        _F("reported_branch", N_("在流入地报到的党支部"), Kind.TEXT, max_len=100),
        _F("reported_contact", N_("报到党支部联系人"), Kind.TEXT, max_len=40),
        _F("reported_post", N_("联系人职务"), Kind.TEXT, max_len=40),
        _F("reported_phone", N_("联系电话"), Kind.PHONE, max_len=20),
        _F(
            "transferred_in_campaign",
            N_("是否在集中排查中转移了正式组织关系"),
            Kind.YES_NO,
            required=True,
        ),
    ),
    asks={
        "reason_note": lambda v: v.get("reason") == MobileIndustry.OTHER.value,
        "reported_contact": lambda v: bool(v.get("reported_branch")),
        "reported_post": lambda v: bool(v.get("reported_branch")),
        "reported_phone": lambda v: bool(v.get("reported_branch")),
    },
)

# 家庭主要成员及重要社会关系, one row (seed 001 附件1 note 8).
FAMILY = Questionnaire(
    name="family",
    fields=(
        _F("relation", N_("称谓"), Kind.CHOICE, required=True, choices=Relation),
        _F("name", N_("姓名"), Kind.TEXT, required=True, max_len=30),
        _F("work_unit", N_("工作单位"), Kind.TEXT, max_len=100),
        _F("phone", N_("联系电话"), Kind.PHONE, max_len=20),
    ),
)

QUESTIONNAIRES = {q.name: q for q in (FOUND, UNREACHABLE, MOBILE, FAMILY)}
