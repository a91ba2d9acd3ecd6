"""The summaries' relations and bands (domain.form_checks): R-TABLE-SUMS of the
流出党员有关情况统计表 (seed 003 附件2), 失联 = 取得联系 + 仍然无法取得联系 (seed
001 附件9 note 2), 纳入组织管理 ≥ 转出组织关系 (note 4), ages as of the form's date."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.errors import DataCheckFailed
from domain.form_checks import (
    AGE_BANDS,
    AGE_LIMITS,
    DURATION_BANDS,
    age_band,
    age_cutoff,
    age_on,
    disposal_problems,
    duration_band,
    lost_problems,
    missing_line,
    outflow_problems,
    relation_problems,
    whole_years,
)

days = st.dates(min_value=date(1920, 1, 1), max_value=date(2030, 12, 31))
counts = st.integers(min_value=0, max_value=50)


def _reference_age(birth: date, today: date, month_only: bool) -> int:
    if month_only:
        return today.year - birth.year - (1 if today.month < birth.month else 0)
    return (
        today.year - birth.year - (1 if (today.month, today.day) < (birth.month, birth.day) else 0)
    )


@given(birth=days, today=days, month_only=st.booleans())
def test_age_on_the_forms_date(birth: date, today: date, month_only: bool) -> None:
    """Ages as of the form's date; a month-only 出生年月 has its birthday in its month."""
    if birth > today:
        birth, today = today, birth
    text = f"{birth:%Y-%m}" if month_only else birth.isoformat()
    assert age_on(text, today) == _reference_age(birth, today, month_only)
    band = age_band(text, today)
    age = age_on(text, today)
    assert band == sum(1 for limit in AGE_LIMITS if age >= limit) and band < len(AGE_BANDS)


@given(birth=days, today=days, month_only=st.booleans())
def test_age_cutoff_is_a_text_comparison_sql_can_make(
    birth: date, today: date, month_only: bool
) -> None:
    """The SQL bands compare the stored text with ``age_cutoff``: SQLite's own
    comparison gives the same band as ``age_band``."""
    if birth > today:
        birth, today = today, birth
    text = f"{birth:%Y-%m}" if month_only else birth.isoformat()
    young, old = (age_cutoff(today, limit) for limit in AGE_LIMITS)
    row = sqlite3.connect(":memory:").execute(
        "SELECT CASE WHEN ? > ? THEN 0 WHEN ? > ? THEN 1 ELSE 2 END", (text, young, text, old)
    )
    assert row.fetchone()[0] == age_band(text, today)


def test_age_bands_at_the_edges() -> None:
    today = date(2026, 12, 4)
    assert age_band("1991-12-05", today) == 0  # 34 until tomorrow
    assert age_band("1991-12-04", today) == 1  # 35 today
    assert age_band("1991-12", today) == 1  # the birth month counts
    assert age_band("1967-01", today) == 1
    assert age_band("1966-12", today) == 2
    assert age_on("2000-02-29", date(2026, 2, 28)) == 25
    assert age_on("2000-02-29", date(2028, 2, 29)) == 28


@given(start=days, length=st.integers(min_value=0, max_value=30_000))
def test_whole_years_and_duration_bands(start: date, length: int) -> None:
    end = start + timedelta(days=length)
    years = whole_years(start, end)
    assert 0 <= years <= length // 365
    assert (end.year - start.year) - years in (0, 1)
    band = duration_band(start, end)
    assert 0 <= band < len(DURATION_BANDS)
    if years < 1:
        assert band == 0
    if years >= 5:
        assert band == 3


@given(
    gender=st.tuples(counts, counts),
    age=st.lists(counts, min_size=3, max_size=3),
    education=st.lists(counts, min_size=3, max_size=3),
    industry=st.lists(counts, min_size=12, max_size=12),
    region=st.lists(counts, min_size=3, max_size=3),
)
def test_r_table_sums_flags_exactly_the_groups_that_differ_from_a(
    gender: tuple[int, int],
    age: list[int],
    education: list[int],
    industry: list[int],
    region: list[int],
) -> None:
    """R-TABLE-SUMS: A = B+C = D+E+F = G+H+I = J+…+U = V+W+X (seed 003 附件2
    note 1, read as the grouped sums: the seed's “A=B+C+D+…+U=V+W+X” is a typo)."""
    a = sum(gender)
    problems = outflow_problems("一支部", a, gender, age, education, industry, region)
    groups = [age, education, industry, region]
    assert len(problems) == sum(1 for g in groups if sum(g) != a)
    assert all(p.startswith("一支部：") for p in problems)


def test_r_table_sums_names_the_group_and_the_gap() -> None:
    problems = outflow_problems(
        "合计", 5, (3, 2), (1, 2, 2), (5, 0, 0), (1,) * 5 + (0,) * 7, (1, 1, 1)
    )
    assert problems == ["合计：流向区域（V+W+X）合计3人，与流出党员人数（A）5人不等（差2人）。"]


@given(found=counts, unreachable=counts, extra=st.integers(min_value=-3, max_value=3))
def test_lost_is_found_plus_unreachable(found: int, unreachable: int, extra: int) -> None:
    """seed 001 附件9 note 2: 失联 = 经查找取得联系 + 经查找仍然无法取得联系; each
    breakdown of the unreachable adds up to them."""
    u = unreachable
    problems = lost_problems(
        "一支部",
        found + u + extra,
        found,
        u,
        (u, 0),
        (0, u, 0),
        (0, 0, 0, u),
        (u,) + (0,) * 6,
        (0,) * 7 + (u,),
    )
    assert (problems == []) == (extra == 0)


def test_lost_breakdown_that_misses_members_is_reported() -> None:
    problems = lost_problems(
        "一支部", 3, 1, 2, (1, 1), (1, 1, 0), (0, 2, 0, 0), (1,) + (0,) * 6, (1, 1) + (0,) * 6
    )
    assert problems == [
        "一支部：失去联系情形合计1人，与经查找仍然无法取得联系党员2人不等（差1人）。"
    ]


@given(found=counts, unreachable=counts, transferred=counts, normal=counts)
def test_disposal_managed_includes_transferred(
    found: int, unreachable: int, transferred: int, normal: int
) -> None:
    """note 4: 纳入组织管理 = 转出组织关系 + 纳入原所在党组织正常管理 (never 补转), so it
    is at least 转出; 组织处置 and 纪律处分 may overlap (note 6): not summed."""
    lost = found + unreachable
    managed = transferred + normal
    problems = disposal_problems(
        "一支部",
        lost,
        found,
        unreachable,
        managed,
        transferred,
        (("纳入组织管理", managed), ("停止党籍", unreachable), ("纪律处分", found)),
    )
    assert (problems == []) == (managed <= lost)
    assert disposal_problems("一支部", lost, found, unreachable, 0, 1, ()) == [
        "一支部：纳入组织管理0人，少于其中的转出组织关系1人。"
    ]


def test_relation_problems_and_missing_line_read_as_one_instruction_each() -> None:
    assert relation_problems("二支部", "外出流动党员", 2, (("职业", (1, 1)),)) == []
    names = [f"赵测{k}" for k in range(12)]
    line = missing_line("流出党员", "流向区域", names)
    assert line.startswith("12名流出党员未填写流向区域：赵测0、赵测1")
    assert line.endswith("……，请先在其卡片中补全。")
    failed = DataCheckFailed([line])
    assert failed.problems == (line,)
