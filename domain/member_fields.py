"""The member record's fields (党员信息项, SPEC §2): one catalogue that /add,
the card's edit buttons, the roster template and the importer all read.

A field knows its label, its kind, whether it is required on creation, its
longest allowed text, and how to turn typed text into the stored value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from domain.abroad import (
    AbroadContact,
    AbroadPartyStatus,
    AbroadReason,
    OrgLifeRestored,
    returned_before_leaving,
)
from domain.codes import CodeList, Education, Gender, MaritalStatus, MemberType
from domain.dates import PartialDate, parse_date
from domain.errors import N_, InvalidInput
from domain.idcard import IdNumber, parse_id_number


class Kind(StrEnum):
    TEXT = "text"
    CHOICE = "choice"
    MONTH = "month"  # year-month is enough (出生年月, 入党时间)
    DAY = "day"  # a full date (clock dates)
    ID_NUMBER = "id_number"
    PHONE = "phone"
    YES_NO = "yes_no"
    # 人员类别: a choice from the committee's own list, which only the storage
    # layer knows; here it is text, checked against the list where it is saved.
    CATEGORY = "category"


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: str
    kind: Kind
    required: bool = False
    max_len: int = 50
    choices: type[CodeList] | None = None
    ask_on_add: bool = True  # the /add walk asks it; others are set from the card
    group: str = ""  # a block of the paper form the field sits in (ABROAD_GROUP)

    def parse(self, text: str, *, today: date) -> Any:
        """Typed text (or a cell's text) → the stored value; raises InvalidInput."""
        text = (text or "").strip()
        if not text:
            if self.required:
                raise InvalidInput(N_("“{label}”必须填写。"), label=self.label)
            return None
        if len(text) > self.max_len:
            raise InvalidInput(
                N_("“{label}”最多{max}个字，现在是{length}个字，请精简后再发。"),
                label=self.label,
                max=self.max_len,
                length=len(text),
            )
        return _PARSERS[self.kind](self, text, today)

    def display(self, value: Any) -> str:
        if value is None or value == "":
            return "—"
        if self.kind is Kind.CHOICE and self.choices:
            return self.choices.of(value).label
        if self.kind is Kind.YES_NO:
            return "是" if value else "否"
        if self.kind is Kind.MONTH:
            return PartialDate.from_iso(value).zh()
        if self.kind is Kind.DAY:
            return PartialDate.of(value).zh()
        return str(value)


def _text(spec: FieldSpec, text: str, today: date) -> str:
    return text


def _choice(spec: FieldSpec, text: str, today: date) -> str:
    assert spec.choices is not None
    item = spec.choices.by_label(text)
    if item is None:
        options = "、".join(c.label for c in spec.choices)
        raise InvalidInput(N_("“{label}”只能是：{options}。"), label=spec.label, options=options)
    return item.value


def _month(spec: FieldSpec, text: str, today: date) -> str:
    return parse_date(text, today=today, allow_month=True).iso()


def _day(spec: FieldSpec, text: str, today: date) -> date:
    return parse_date(text, today=today).first_day()


def _id_number(spec: FieldSpec, text: str, today: date) -> str:
    return parse_id_number(text).value


_PHONE = re.compile(r"^\+?[0-9][0-9\- ]{4,19}$")


def _phone(spec: FieldSpec, text: str, today: date) -> str:
    if not _PHONE.match(text):
        raise InvalidInput(N_("联系电话只能包含数字（可带区号和“-”），例如 13800000000。"))
    return text.replace(" ", "")


def _yes_no(spec: FieldSpec, text: str, today: date) -> bool:
    if text in ("是", "有", "Y", "y", "yes", "1", "true"):
        return True
    if text in ("否", "无", "没有", "N", "n", "no", "0", "false"):
        return False
    raise InvalidInput(N_("“{label}”请填“是”或“否”。"), label=spec.label)


_PARSERS = {
    Kind.TEXT: _text,
    Kind.CHOICE: _choice,
    Kind.MONTH: _month,
    Kind.DAY: _day,
    Kind.ID_NUMBER: _id_number,
    Kind.PHONE: _phone,
    Kind.YES_NO: _yes_no,
    Kind.CATEGORY: _text,
}

# 出国（境）情况 (seed 001 附件1 note 7): a block of its own on the card and the form.
ABROAD_GROUP = N_("出国（境）情况")

_F = FieldSpec
FIELDS: tuple[FieldSpec, ...] = (
    _F("name", N_("姓名"), Kind.TEXT, required=True, max_len=30),
    _F("gender", N_("性别"), Kind.CHOICE, required=True, choices=Gender),
    _F("birth", N_("出生年月"), Kind.MONTH, required=True),
    _F("joined", N_("入党时间"), Kind.MONTH, required=True),
    _F("member_type", N_("党员类别"), Kind.CHOICE, required=True, choices=MemberType),
    _F("id_number", N_("身份证号"), Kind.ID_NUMBER, max_len=20),
    _F("category", N_("人员类别"), Kind.CATEGORY, max_len=20),
    _F("ethnicity", N_("民族"), Kind.TEXT, max_len=20),
    _F("full_member_since", N_("转正时间"), Kind.MONTH),
    _F("education", N_("文化程度"), Kind.CHOICE, choices=Education),
    _F("marital_status", N_("婚姻状况"), Kind.CHOICE, choices=MaritalStatus),
    _F("work_start", N_("参加工作时间"), Kind.MONTH),
    _F("academic", N_("学历"), Kind.TEXT, max_len=20),
    _F("degree", N_("学位"), Kind.TEXT, max_len=20),
    _F("school", N_("毕业院校"), Kind.TEXT, max_len=60),
    _F("party_post", N_("现任党内职务"), Kind.TEXT, max_len=30),
    _F("work_unit", N_("现工作（学习）单位"), Kind.TEXT, max_len=100),
    _F("work_unit_has_org", N_("单位是否建有党组织"), Kind.YES_NO),
    _F("residence", N_("现居住地"), Kind.TEXT, max_len=100),
    _F("phone", N_("联系电话"), Kind.PHONE, max_len=20),
    _F("last_org_life", N_("最近一次参加组织生活日期"), Kind.DAY),
    _F("last_dues", N_("最近一次交纳党费日期"), Kind.DAY),
    _F("remarks", N_("备注"), Kind.TEXT, max_len=200),
    _F("transfer_letter_date", N_("介绍信开出日期"), Kind.DAY, ask_on_add=False),
    _F("transfer_receiver", N_("接收单位"), Kind.TEXT, max_len=100, ask_on_add=False),
    _F("transfer_receipt_date", N_("回执收到日期"), Kind.DAY, ask_on_add=False),
    _F("abroad_date", N_("出国日期"), Kind.MONTH, ask_on_add=False, group=ABROAD_GROUP),
    _F(
        "abroad_reason",
        N_("出国原因"),
        Kind.CHOICE,
        choices=AbroadReason,
        ask_on_add=False,
        group=ABROAD_GROUP,
    ),
    _F(
        "abroad_contact",
        N_("出国后与组织联系情况"),
        Kind.CHOICE,
        choices=AbroadContact,
        ask_on_add=False,
        group=ABROAD_GROUP,
    ),
    _F(
        "abroad_party_status",
        N_("党籍处理方式"),
        Kind.CHOICE,
        choices=AbroadPartyStatus,
        ask_on_add=False,
        group=ABROAD_GROUP,
    ),
    _F("return_date", N_("回国日期"), Kind.MONTH, ask_on_add=False, group=ABROAD_GROUP),
    _F(
        "org_life_restored",
        N_("恢复组织生活情况"),
        Kind.CHOICE,
        choices=OrgLifeRestored,
        ask_on_add=False,
        group=ABROAD_GROUP,
    ),
)
FIELD_BY_KEY: Mapping[str, FieldSpec] = {f.key: f for f in FIELDS}
REQUIRED = tuple(f for f in FIELDS if f.required)
ADD_FIELDS = tuple(f for f in FIELDS if f.ask_on_add)
ABROAD_FIELDS = tuple(f for f in FIELDS if f.group == ABROAD_GROUP)


def values_of(record: object) -> dict[str, Any]:
    """The catalogue's fields read off a stored member (or any object with them)."""
    return {f.key: getattr(record, f.key) for f in FIELDS}


def check_record(values: Mapping[str, Any]) -> list[InvalidInput]:
    """Rules across fields; an empty list means the record holds together."""
    problems: list[InvalidInput] = []
    birth = values.get("birth")
    parsed: IdNumber | None = None
    if values.get("id_number"):
        # A stored number that no longer passes (older data) is a problem to list, not a crash.
        try:
            parsed = parse_id_number(values["id_number"])
        except InvalidInput as problem:
            problems.append(problem)
    if parsed and birth:
        id_birth = parsed.birth
        stated = PartialDate.from_iso(birth)
        if (stated.year, stated.month) != (id_birth.year, id_birth.month) or (
            stated.day is not None and stated.day != id_birth.day
        ):
            problems.append(
                InvalidInput(
                    N_("出生年月{birth}与身份证号中的出生日期{id_birth}不一致。"),
                    birth=stated.zh(),
                    id_birth=PartialDate.of(id_birth).zh(),
                )
            )
    if parsed and values.get("gender"):
        if parsed.gender != values["gender"]:
            problems.append(
                InvalidInput(N_("性别与身份证号不一致（身份证号第17位单数为男、双数为女）。"))
            )
    joined = values.get("joined")
    if birth and joined and joined <= birth:
        problems.append(InvalidInput(N_("入党时间不能早于出生年月。")))
    full = values.get("full_member_since")
    if full and joined and full < joined:
        problems.append(InvalidInput(N_("转正时间不能早于入党时间。")))
    if full and values.get("member_type") == MemberType.PROBATIONARY.value:
        problems.append(
            InvalidInput(N_("预备党员还没有转正时间；已转正请把党员类别改为正式党员。"))
        )
    letter, receipt = values.get("transfer_letter_date"), values.get("transfer_receipt_date")
    if receipt and not letter:
        problems.append(InvalidInput(N_("有回执收到日期，却没有介绍信开出日期。")))
    if receipt and letter and receipt < letter:
        problems.append(InvalidInput(N_("回执收到日期不能早于介绍信开出日期。")))
    if returned_before_leaving(values.get("abroad_date"), values.get("return_date")):
        problems.append(InvalidInput(N_("回国日期不能早于出国日期。")))
    return problems
