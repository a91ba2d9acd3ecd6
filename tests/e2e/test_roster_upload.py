"""Roster import through the chat: /template, fill it, send it back."""

from __future__ import annotations

import io
from datetime import date

import openpyxl
from sqlalchemy import func, select

from domain.member_fields import FIELDS
from storage.models import Member
from tests.factories import id_number, member_values


def _fill(template: bytes, rows: list[dict[str, object]]) -> bytes:
    """Write rows under the template's header block, over its sample row."""
    book = openpyxl.load_workbook(io.BytesIO(template))
    sheet = book.worksheets[0]
    labels = {spec.label: spec.key for spec in FIELDS}
    top = next(
        r for r in range(1, 10) if any(str(c.value or "").strip("* ") == "姓名" for c in sheet[r])
    )
    # Group headers merge over two rows; the data starts below the whole block.
    bottom = max([top] + [m.max_row for m in sheet.merged_cells.ranges if m.min_row == top])
    keys = []
    for col in range(1, sheet.max_column + 1):
        texts = [str(sheet.cell(r, col).value or "") for r in range(top, bottom + 1)]
        label = next((t for t in reversed(texts) if t), "").replace("*", "").strip()
        keys.append(labels.get(label))
    for offset, values in enumerate(rows, start=1):
        for col, key in enumerate(keys, start=1):
            sheet.cell(bottom + offset, col, values.get(key) if key else None)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def _count(world) -> int:
    async with world.app.sessionmaker() as s:
        return await s.scalar(select(func.count()).select_from(Member))


async def _template(user) -> bytes:
    await user.send("/template")
    reply = await user.reply()
    assert reply.document is not None and reply.document.name.endswith(".xlsx")
    return reply.document.data


async def test_template_filled_and_sent_back_imports_all_rows(branch_world):
    sec = branch_world.user(101)
    rows = [member_values(i) for i in range(3)]
    data = _fill(await _template(sec), rows)
    await sec.upload("名册.xlsx", data)
    messages = await sec.wait_idle(quiet=0.5, timeout=20)
    assert "导入完成" in messages[-1].text and "新增3人" in messages[-1].text
    assert await _count(branch_world) == 3
    # The same file again: nobody twice (the ID number is the key).
    await sec.upload("名册.xlsx", data)
    messages = await sec.wait_idle(quiet=0.5, timeout=20)
    assert "新增0人" in messages[-1].text and "未变3人" in messages[-1].text
    assert await _count(branch_world) == 3


async def test_a_bad_row_imports_nothing_and_names_row_and_column(branch_world):
    sec = branch_world.user(101)
    bad = member_values(2, id_number=id_number(date(1990, 1, 1))[:-1] + "0")
    good = member_values(1)
    data = _fill(await _template(sec), [good, bad])
    await sec.upload("名册.xlsx", data)
    messages = await sec.wait_idle(quiet=0.5, timeout=20)
    report = next(m for m in messages if "没有导入任何数据" in m.text)
    assert "身份证号" in report.text and "行" in report.text
    assert any(m.document and "错误说明" in m.document.name for m in messages)
    assert await _count(branch_world) == 0


async def test_not_an_xlsx_is_refused_before_download(branch_world):
    sec = branch_world.user(101)
    await sec.upload("名册.xls", b"\xd0\xcf\x11\xe0old excel")
    assert "另存为" in (await sec.reply()).text
    await sec.upload("照片.jpg", b"\xff\xd8\xff")
    assert ".xlsx" in (await sec.reply()).text
    assert await _count(branch_world) == 0


async def test_a_corrupt_xlsx_is_refused_and_changes_nothing(branch_world):
    sec = branch_world.user(101)
    await sec.upload("名册.xlsx", b"PK\x03\x04 this is not really a workbook")
    messages = await sec.wait_idle(quiet=0.5, timeout=10)
    assert "没有导入任何数据" in messages[-1].text
    assert await _count(branch_world) == 0


async def test_committee_staff_cannot_import(branch_world):
    staff = branch_world.user(201)
    await staff.upload("名册.xlsx", b"PK\x03\x04")
    reply = await staff.reply()
    assert "导入" not in reply.text or "没有看懂" in reply.text
