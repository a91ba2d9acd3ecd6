"""The relations the summary forms' notes state, and the bands they count by
(表间关系, R-TABLE-SUMS). Pure: figures in, Chinese problem lines out.

A summary row is checked before its workbook is rendered; every line returned
is one problem the user fixes in the records (``domain.errors.DataCheckFailed``).

Bands where a seed names a breakdown but not its bands (the 失联 汇总表 of seed
001 附件7 / seed 000 附件3 gives only its name and notes, SPEC §7): ages use the
bands of seed 003 附件2 (35岁以下 / 35岁至59岁 / 60岁及以上); the time lost
(与党组织失去联系时间, seed 001 附件3 note 2) is counted in whole years.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from domain.errors import N_

# 年龄 (seed 003 附件2 D–F): the lower limits of the upper two bands.
AGE_BANDS = ("35岁以下", "35岁至59岁", "60岁及以上")
AGE_LIMITS = (35, 60)

# 与党组织失去联系时间 in whole years: [0, 1), [1, 3), [3, 5), [5, ∞).
DURATION_BANDS = ("不满1年", "1年至不满3年", "3年至不满5年", "5年及以上")
DURATION_LIMITS = (1, 3, 5)

MISSING = N_("{count}名{who}未填写{what}：{names}，请先在其卡片中补全。")
NAMES_SHOWN = 10


def age_cutoff(today: date, years: int) -> str:
    """The ISO text a birth must be at or before for the member to be ``years``
    old on ``today``. Births are stored as ``YYYY-MM`` or ``YYYY-MM-DD``: a
    month-only birth is a prefix of every day of its month, so it sorts before
    them and the member counts as having had the birthday in the birth month.
    Text, not a date: 29 February of a year with none still sorts right."""
    return f"{today.year - years:04d}-{today.month:02d}-{today.day:02d}"


def age_on(birth: str, today: date) -> int:
    """Age in whole years on ``today`` (ages are as of the form's date), the
    same rule as ``age_cutoff``: the largest n with birth ≤ cutoff(n)."""
    year = int(birth[:4])
    age = today.year - year
    if birth > age_cutoff(today, age):
        age -= 1
    return age


def age_band(birth: str, today: date) -> int:
    """Index into ``AGE_BANDS``."""
    age = age_on(birth, today)
    return sum(1 for limit in AGE_LIMITS if age >= limit)


def whole_years(start: date, end: date) -> int:
    """Whole years from ``start`` to ``end`` (the anniversary of 29 February
    is 1 March in a year without one). The SQL of the summaries counts the same
    way: year difference, less one when (month, day) has not come round."""
    years = end.year - start.year
    if (end.month, end.day) < (start.month, start.day):
        years -= 1
    return years


def duration_band(last_contact: date, end: date) -> int:
    """Index into ``DURATION_BANDS``."""
    years = whole_years(last_contact, end)
    return sum(1 for limit in DURATION_LIMITS if years >= limit)


def relation_problems(
    where: str, whole_label: str, whole: int, parts: Sequence[tuple[str, Sequence[int]]]
) -> list[str]:
    """One line for each breakdown that does not add up to ``whole``.

    ``where`` names the row (a branch, or 合计), ``parts`` are (label, counts):
    e.g. ("性别（B+C）", (3, 2)) against ("流出党员人数（A）", 6)."""
    problems = []
    for label, counts in parts:
        total = sum(counts)
        if total != whole:
            problems.append(
                f"{where}：{label}合计{total}人，与{whole_label}{whole}人不等"
                f"（差{whole - total}人）。"
            )
    return problems


def outflow_problems(
    where: str,
    a: int,
    gender: Sequence[int],
    age: Sequence[int],
    education: Sequence[int],
    industry: Sequence[int],
    region: Sequence[int],
) -> list[str]:
    """R-TABLE-SUMS of 流出党员有关情况统计表 (seed 003 附件2 note 1):
    A = B+C = D+E+F = G+H+I = J+…+U = V+W+X. The seed prints it as
    “A=B+C+D+…+U=V+W+X”, which cannot hold (A would count each member five
    times); each group is a breakdown of A. Y is not counted in A (note 2)."""
    return relation_problems(
        where,
        "流出党员人数（A）",
        a,
        (
            ("性别（B+C）", gender),
            ("年龄（D+E+F）", age),
            ("文化程度（G+H+I）", education),
            ("从事行业或流动原因（J至U）", industry),
            ("流向区域（V+W+X）", region),
        ),
    )


def lost_problems(
    where: str,
    lost: int,
    found: int,
    unreachable: int,
    gender: Sequence[int],
    age: Sequence[int],
    duration: Sequence[int],
    reason: Sequence[int],
    occupation: Sequence[int],
) -> list[str]:
    """与党组织失去联系党员情况汇总表 (seed 001 附件7; 附件9 note 2): 失联 =
    经查找取得联系 + 经查找仍然无法取得联系, and each breakdown of 仍然无法取得联系
    adds up to it."""
    problems = relation_problems(
        where,
        "与党组织失去联系党员",
        lost,
        (("经查找取得联系与经查找仍然无法取得联系", (found, unreachable)),),
    )
    problems += relation_problems(
        where,
        "经查找仍然无法取得联系党员",
        unreachable,
        (
            ("性别", gender),
            ("年龄", age),
            ("失联时间", duration),
            ("失去联系情形", reason),
            ("职业", occupation),
        ),
    )
    return problems


def disposal_problems(
    where: str,
    lost: int,
    found: int,
    unreachable: int,
    managed: int,
    transferred: int,
    columns: Sequence[tuple[str, int]],
) -> list[str]:
    """与党组织失去联系党员管理及处置情况汇总表 (seed 001 附件9): note 2, 失联 =
    取得联系 + 仍无法取得联系; note 4, 纳入组织管理 counts those whose relation
    was transferred out (so it is at least 转出组织关系) and not 补转组织关系;
    no column counts more members than were lost. 组织处置 and 纪律处分 may
    overlap (note 6): no sum across them is checked."""
    problems = relation_problems(
        where,
        "与党组织失去联系党员",
        lost,
        (("经查找取得联系与经查找仍然无法取得联系", (found, unreachable)),),
    )
    if managed < transferred:
        problems.append(
            f"{where}：纳入组织管理{managed}人，少于其中的转出组织关系{transferred}人。"
        )
    for label, count in columns:
        if count > lost:
            problems.append(f"{where}：{label}{count}人，多于与党组织失去联系党员{lost}人。")
    return problems


def management_problems(where: str, found: int, managed: int, retransferred: int) -> list[str]:
    """与党组织失去联系党员管理及处置情况汇总表 (seed 001 附件9) note 4: 纳入组织管理
    counts members reached by the search (转出组织关系, 纳入原所在党组织正常管理),
    never one whose relation was 补转 — so 纳入组织管理 and 补转组织关系 (a
    measure for the reached too, SPEC §5) together are at most 经查找取得联系.
    The 组织处置 columns are not summed: a member may be 限期改正 and later
    劝退, and 组织处置 and 纪律处分 may overlap (note 6)."""
    if managed + retransferred <= found:
        return []
    return [
        f"{where}：纳入组织管理{managed}人与补转组织关系{retransferred}人合计"
        f"{managed + retransferred}人，多于经查找取得联系{found}人"
        "（纳入组织管理只计取得联系的党员，且不含补转组织关系的）。"
    ]


def missing_line(who: str, what: str, names: Sequence[str]) -> str:
    """“3名流出党员未填写流向区域：赵测一、钱示二、孙样三，请先在其卡片中补全。”"""
    shown = "、".join(names[:NAMES_SHOWN]) + ("……" if len(names) > NAMES_SHOWN else "")
    return MISSING.format(count=len(names), who=who, what=what, names=shown)
