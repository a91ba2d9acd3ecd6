"""操作记录 (审计日志) as a workbook: what /audit shows, every event of the
filter in one sheet, through the one form builder (issue 18 point 4).

Not an official form of the seeds, so not in ``reports.catalogue``: it is
taken from /audit, by committee staff only. The values arrive worded and
masked (``domain.audit_view``); the marking and who exported it are on every
page and in the file's properties like every export (R-CONFIDENTIAL).
"""

from __future__ import annotations

from collections.abc import Sequence

from reports.builder import Column, Form, build_workbook

TITLE = "操作记录（审计日志）"
COLUMNS = (
    Column("序号", 7),
    Column("时间", 17),
    Column("操作人", 14),
    Column("操作", 18, wrap=True),
    Column("党员", 10),
    Column("党组织", 16, wrap=True),
    Column("项目", 14, wrap=True),
    Column("原值", 24, wrap=True),
    Column("新值", 24, wrap=True),
)
# Text that a spreadsheet would take for a formula is written with a leading
# apostrophe-like space: a value typed into the bot is never evaluated.
_FORMULA_START = ("=", "+", "-", "@")


def _plain(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return " " + value
    return value


def audit_form(scope: str, scope_filter: str, stamp: str | None) -> Form:
    return Form(
        title=TITLE,
        header_lines=((f"党组织：{scope}", f"范围：{scope_filter}"),),
        columns=COLUMNS,
        sheet_name="操作记录",
        freeze_columns=2,
        stamp=stamp,
    )


def audit_workbook(
    scope: str, scope_filter: str, stamp: str | None, rows: Sequence[Sequence[object]]
) -> bytes:
    """``rows``: (时间, 操作人, 操作, 党员, 党组织, 项目, 原值, 新值), oldest first.
    Module-level and plain data: it runs in the worker process."""
    numbered = ([n, *map(_plain, row)] for n, row in enumerate(rows, 1))
    return build_workbook(audit_form(scope, scope_filter, stamp), numbered, write_only=True)
