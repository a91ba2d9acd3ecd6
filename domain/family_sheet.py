"""The roster template's second sheet, 家庭成员 (家庭主要成员及重要社会关系,
seed 001 附件1 note 8): one row per relative, tied to a member of the first
sheet by 党员身份证号, or by 党员姓名 where the name is unique. Pure: which
member a row means is decided by the importer, which knows the branch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from domain.errors import N_, InvalidInput
from domain.family import Relative
from domain.member_fields import FIELD_BY_KEY, FieldSpec
from domain.questionnaires import FAMILY
from domain.roster import (
    FOOTER_WORDS,
    HEADER_SCAN_ROWS,
    SAMPLE,
    RowError,
    cell_text,
    normalise_label,
    template_header,
)

SHEET = "家庭成员"
_MEMBER_NAME = FieldSpec("member_name", N_("党员姓名"), FIELD_BY_KEY["name"].kind, required=True)
_MEMBER_ID = FieldSpec("member_id_number", N_("党员身份证号"), FIELD_BY_KEY["id_number"].kind)
COLUMNS: tuple[FieldSpec, ...] = (_MEMBER_NAME, _MEMBER_ID, *FAMILY.fields)
HEADERS: tuple[str, ...] = tuple(template_header(spec) for spec in COLUMNS)
_BY_LABEL = {normalise_label(spec.label): spec for spec in COLUMNS}
SAMPLE_ROW: tuple[str, ...] = (
    SAMPLE["name"],
    SAMPLE["id_number"],
    "配偶",
    "李示例",
    "示例公司",
    "13900000001",
)


@dataclass(frozen=True)
class FamilyRow:
    row: int
    member_name: str
    member_id_number: str | None
    relative: Relative

    @property
    def member_key(self) -> tuple[str, str]:
        """Who the row is about, as the file says it: ("id", number) or ("name", name)."""
        if self.member_id_number:
            return ("id", self.member_id_number)
        return ("name", self.member_name)


@dataclass
class FamilyParse:
    rows: list[FamilyRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def error(row: int, label: str, problem: InvalidInput) -> RowError:
    return RowError(row, f"{SHEET}·{label}", problem.render(), sheet=SHEET)


def parse_family_sheet(rows: Iterable[tuple[int, Sequence[object]]], *, today: date) -> FamilyParse:
    result = FamilyParse()
    it = iter(rows)
    columns: dict[int, FieldSpec] | None = None
    for row_no, cells in it:
        found = {
            c: _BY_LABEL[normalise_label(t)]
            for c, t in enumerate(cells)
            if normalise_label(t) in _BY_LABEL
        }
        if {s.key for s in found.values()} >= {"member_name", "relation", "name"}:
            columns = found
            break
        if row_no >= HEADER_SCAN_ROWS:
            break
    if columns is None:
        result.errors.append(
            error(0, "", InvalidInput(N_("没有找到表头：请保留“党员姓名”“称谓”“姓名”等列标题。")))
        )
        return result
    for row_no, cells in it:
        texts = {c: _text(cells, c) for c in columns}
        if not any(texts.values()):
            continue
        first = next(t for t in texts.values() if t)
        if first.startswith(FOOTER_WORDS):
            break
        parsed = _parse_row(row_no, cells, columns, today)
        if isinstance(parsed, RowError):
            result.errors.append(parsed)
        elif parsed.member_id_number != SAMPLE["id_number"]:
            result.rows.append(parsed)
    return result


def _text(cells: Sequence[object], c: int) -> str:
    value = cells[c] if c < len(cells) else None
    return "" if value is None else str(value).strip()


def _parse_row(
    row_no: int, cells: Sequence[object], columns: dict[int, FieldSpec], today: date
) -> FamilyRow | RowError:
    values: dict[str, object] = {}
    for c, spec in columns.items():
        try:
            values[spec.key] = spec.parse(
                cell_text(cells[c] if c < len(cells) else None, spec), today=today
            )
        except InvalidInput as problem:
            return error(row_no, spec.label, problem)
    for spec in COLUMNS:
        if spec.required and not values.get(spec.key):
            return error(
                row_no, spec.label, InvalidInput(N_("“{label}”必须填写。"), label=spec.label)
            )
    return FamilyRow(
        row_no,
        str(values["member_name"]),
        str(values["member_id_number"]) if values.get("member_id_number") else None,
        Relative.of(values),
    )
