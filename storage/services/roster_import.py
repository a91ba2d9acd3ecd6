"""Importing a filled-in 党员名册 (导入党员名册), SPEC §2 and §7.

All or nothing: every row is checked first, and one bad row means nothing is
saved; the secretary gets the first errors in the chat and the whole upload
back with a 错误说明 column. A clean file is written in one transaction.

The key is the 身份证号 (unique per deployment), so importing the same file
twice creates nobody twice. A row without an ID number is matched by name and
birth month within the branch (see ``_match``). A blank cell never erases a
stored value: the import fills in and corrects, clearing is done on the card.

Reading the workbook is CPU work, so it runs in a worker thread and the bot
keeps answering other users; the rows are then written with bulk statements
(no ORM object per row) so 100,000 rows fit in memory and in minutes.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import re
import time
import zipfile
import zlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from openpyxl.utils import get_column_letter
from python_calamine import CalamineSheet, CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum
from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain import family_sheet
from domain.abroad import returned_before_leaving
from domain.clocks import DEFAULT_POCKET_DAYS
from domain.errors import N_, InvalidInput
from domain.family_sheet import parse_family_sheet
from domain.idcard import parse_id_number
from domain.member_fields import FIELD_BY_KEY, FIELDS, Kind
from domain.roster import (
    HEADER_SCAN_ROWS,
    HeaderMap,
    ParsedRow,
    RosterParse,
    RowError,
    find_header,
    parse_rows,
)
from reports.forms.roster import error_workbook
from storage import crypto
from storage.db import write_tx
from storage.models import AuditEvent, Member, Organisation
from storage.services import categories, family_import, sweep
from storage.services.access import Actor, Role, require_branch
from storage.services.audit import as_text

_T = TypeVar("_T")
Progress = Callable[[int, int], Awaitable[None]]
Report = Callable[[int, int], None]

SHOWN_ERRORS = 20  # the chat shows this many; the error workbook has them all
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # .xls, and any password-protected Office file
# A real register expands 5–15 times when unzipped; far more is a zip bomb
# that would exhaust memory once the reader inflates it.
_MAX_EXPANSION = 40
_BREATHE_EVERY = 200  # rows: about 40 ms of work in the worker thread
_SLACK_ROWS = 1000  # title, header block, header rows, footer and some blank rows
_MAX_COLUMNS = 60  # the template has 25; room for a few added columns
# The shared-strings table (every distinct text of the workbook) is read whole
# into memory before the first row: a real register's takes 200–300 bytes a
# row, so 1 KB a row allowed (about 100 MB at 100,000 rows) is generous; a
# file far under the zip-bomb ratio could otherwise still carry gigabytes.
_SHARED_BYTES_PER_ROW = 1024


@dataclass(frozen=True)
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    family_changed: int = 0  # members whose 家庭成员 rows the file replaced
    errors: tuple[RowError, ...] = ()  # the first SHOWN_ERRORS, in row order
    error_count: int = 0
    error_workbook: bytes | None = field(default=None, repr=False)
    unknown_columns: tuple[str, ...] = ()  # headers read past: tell the secretary
    sample_skipped: bool = False

    @property
    def saved(self) -> bool:
        return self.error_count == 0

    @property
    def more_errors(self) -> int:
        return self.error_count - len(self.errors)


async def import_roster(
    session: AsyncSession,
    actor: Actor,
    branch_id: int,
    data: bytes,
    *,
    today: date,
    max_rows: int = 100_000,
    max_bytes: int = 20 * 1024 * 1024,
    progress: Progress | None = None,
    pocket_days: int = DEFAULT_POCKET_DAYS,
) -> ImportResult:
    """Import ``data`` (.xlsx) into the branch; raises InvalidInput to refuse
    the whole file and AccessDenied for a branch the actor may not change.

    ``progress(done, total)`` is awaited about every 5%: each data row counts
    once when checked and once when saved, so ``total`` is twice the rows.
    """
    await require_branch(session, actor, branch_id, write=True)
    # End the read transaction (as write_tx would): none stays open while the file is read.
    await session.commit()
    parsed, estimate, sheet = await _in_thread(progress, _read, data, today, max_rows, max_bytes)
    source: CalamineSheet | bytes = sheet  # kept for the error workbook: no second inflating
    del sheet
    if parsed.errors:
        # Nothing will be saved; still look up the clean rows so that an ID
        # number already registered elsewhere is reported in the same round.
        plan = await _plan(session, actor, branch_id, parsed)
        await session.commit()  # only reads were made
    else:
        source = data  # frees the sheet's cells (~1 KB a row) before the rows are written
        async with write_tx(session):
            plan = await _plan(session, actor, branch_id, parsed)
            if not plan.errors:
                before = await sweep.pending_flags(
                    session, [mid for mid, _ in plan.updates], today, pocket_days
                )
                await _write(session, actor, branch_id, plan, _stepper(progress, estimate))
                plan.family_changed = await family_import.apply(
                    session, actor, branch_id, parsed.family
                )
                await sweep.settle_filled(session, actor, before, today, pocket_days)
    # The register's own rows first, then the 家庭成员 sheet's (sheet "" sorts first).
    errors = sorted([*parsed.errors, *plan.errors], key=lambda e: (e.sheet, e.row))
    if progress:
        await progress(2 * estimate, 2 * estimate)
    if not errors:
        return _result(parsed, plan, errors, None)
    parsed.rows.clear()  # nothing is saved: free the rows before the workbook is built
    plan.creates.clear()
    workbook = await asyncio.to_thread(_error_workbook, source, parsed.header, errors)
    return _result(parsed, plan, errors, workbook)


def _result(
    parsed: RosterParse, plan: _Plan, errors: list[RowError], workbook: bytes | None
) -> ImportResult:
    saved = not errors
    return ImportResult(
        created=len(plan.creates) if saved else 0,
        updated=len(plan.updates) if saved else 0,
        unchanged=plan.unchanged if saved else 0,
        family_changed=plan.family_changed if saved else 0,
        errors=tuple(errors[:SHOWN_ERRORS]),
        error_count=len(errors),
        error_workbook=workbook,
        unknown_columns=parsed.header.unknown,
        sample_skipped=parsed.sample_skipped,
    )


def _stepper(progress: Progress | None, estimate: int) -> Progress | None:
    """Writing reports (saved, to save); scale it into the second half of the bar."""
    if progress is None:
        return None

    async def step(done: int, count: int) -> None:
        await progress(estimate + done * estimate // max(1, count), 2 * estimate)

    return step


async def _in_thread(progress: Progress | None, func: Callable[..., Any], *args: Any) -> Any:
    """Run ``func(*args, report)`` in a worker thread, awaiting ``progress``
    for its reports here on the event loop, one at a time and in order."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()

    def report(done: int, total: int) -> None:
        if progress is not None:
            loop.call_soon_threadsafe(queue.put_nowait, (done, total))

    work = asyncio.ensure_future(asyncio.to_thread(func, *args, report))
    while not work.done():
        getter = asyncio.ensure_future(queue.get())
        try:
            await asyncio.wait({work, getter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not getter.done():
                getter.cancel()  # the work ended first (or we are cancelled): stop waiting
        if getter.done():
            assert progress is not None
            await progress(*getter.result())
    return work.result()


# --- in the worker thread ---


def _read(
    data: bytes, today: date, max_rows: int, max_bytes: int, report: Report
) -> tuple[RosterParse, int, CalamineSheet]:
    """Parse the upload; the sheet is returned for the error workbook, so that
    a file with errors is not inflated a second time (memory, not only time)."""
    _check_container(data, max_bytes, max_rows)
    sheet, family = _sheets(data)
    rows = enumerate(sheet.iter_rows(), 1)  # the reader numbers from row 1, blank rows too
    top = list(itertools.islice(rows, HEADER_SCAN_ROWS))
    header = find_header([cells for _, cells in top])
    estimate = max(1, sheet.height - header.row)
    feed = _counted(itertools.chain(top, rows), header.row, estimate, report)
    parsed = parse_rows(feed, header, today=today, max_rows=max_rows)
    if family is not None:
        result = parse_family_sheet(enumerate(family.iter_rows(), 1), today=today)
        parsed.family = result.rows
        parsed.errors.extend(result.errors)
    if not parsed.rows and not parsed.errors and not parsed.family:
        raise InvalidInput(
            N_("表格里没有要导入的党员：表头下面都是空行（示例行不导入）。请填写后再上传。")
        )
    return parsed, estimate, sheet


def _counted(
    rows: Iterator[tuple[int, Sequence[object]]], header_row: int, estimate: int, report: Report
) -> Iterator[tuple[int, Sequence[object]]]:
    step = max(1, estimate // 20)
    for item in _breathing(rows):
        below = item[0] - header_row
        if below > 0 and below % step == 0:
            report(min(below, estimate), 2 * estimate)
        yield item


def _breathing(rows: Iterator[_T]) -> Iterator[_T]:
    """Pause 1 ms every few hundred rows. A CPU-bound thread that also writes
    small chunks (openpyxl to its temp file) keeps re-taking the GIL and the
    event loop waits a second at a time (CPython's convoy effect); the pause
    hands the GIL over: the bot answers within tens of milliseconds."""
    for count, item in enumerate(rows, 1):
        if count % _BREATHE_EVERY == 0:
            time.sleep(0.001)
        yield item


def _check_container(data: bytes, max_bytes: int, max_rows: int) -> None:
    if len(data) > max_bytes:
        raise InvalidInput(
            N_(
                "文件太大（{size}MB），最大只能{max}MB。请删去无关的工作表和图片，或分成几个文件上传。"
            ),
            size=round(len(data) / 1024 / 1024, 1),
            max=round(max_bytes / 1024 / 1024, 1),
        )
    if data.startswith(_OLE_MAGIC):
        raise InvalidInput(
            N_(
                "这是旧版Excel（.xls）文件，或设置了打开密码。请在Excel中“另存为”.xlsx格式（不设密码）后再上传。"
            )
        )
    if not data.startswith(_ZIP_MAGIC):
        raise InvalidInput(
            N_("这不是Excel表格（.xlsx）文件。请上传用党员名册模板填写的.xlsx文件。")
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "xl/workbook.xml" not in names:
                raise InvalidInput(
                    N_("这不是Excel表格（.xlsx）文件。请上传用党员名册模板填写的.xlsx文件。")
                )
            _check_expansion(archive, _MAX_EXPANSION * max(len(data), max_bytes // 4))
            for name in sorted(n for n in names if n.startswith("xl/worksheets/sheet")):
                _check_extent(archive, name, max_rows)
            for name in sorted(n for n in names if n.lower().endswith("sharedstrings.xml")):
                _check_shared_strings(archive, name, max_rows)
    except InvalidInput:  # a ValueError too: let it through as it is
        raise
    except (zipfile.BadZipFile, zlib.error, ValueError, EOFError):
        raise _corrupt() from None


_ROW_REF = re.compile(rb'<row r="(\d+)"')
_WIDE_REF = re.compile(rb'<c r="([A-Z]{2,3})\d')
# A formula is a cell's first child <f> (<f>1+1</f>, <f t="shared" si="0"/>);
# <formula1> of a data validation is not one.
_FORMULA = re.compile(rb"<f[\s>/]")
_CELL_REF = re.compile(rb'<c r="([A-Z]{1,3})(\d+)"')


def _check_expansion(archive: zipfile.ZipFile, limit: int) -> None:
    """A zip bomb is refused before anything inflates: by the sizes the zip
    declares (a part that lies about its size fails as it is read)."""
    unzipped = sum(info.file_size for info in archive.infolist())
    if unzipped > limit:
        raise InvalidInput(
            N_(
                "文件解压后有{size}MB，超过了{limit}MB的上限（党员名册解压后一般只有文件本身的5至15倍大）。文件可能夹带了大量无关内容：请把党员名册复制到新的模板中再上传。"
            ),
            size=round(unzipped / 1024 / 1024, 1),
            limit=round(limit / 1024 / 1024, 1),
        )


def _check_extent(archive: zipfile.ZipFile, name: str, max_rows: int) -> None:
    """The reader allocates every cell of the sheet's bounding box: one stray
    value in row 1,048,576 or column XFD would take gigabytes, so the extent is
    measured in the XML first (about 0.6 s for 100,000 rows)."""
    last_row, last_column, tail = 0, 0, b""
    with archive.open(name) as part:
        while chunk := part.read(1 << 20):
            text = tail + chunk
            last_row = max([last_row, *(int(r) for r in _ROW_REF.findall(text))])
            last_column = max([last_column, *(_column_index(c) for c in _WIDE_REF.findall(text))])
            _refuse_formula(text)
            tail = text[-256:]  # a reference cut by the chunk edge is read whole next time
    if last_row > max_rows + _SLACK_ROWS:
        raise InvalidInput(
            N_(
                "表格第{row}行还有内容，超过了一次最多导入的{max}行。请删除下方多余的行，或分成几个文件上传。"
            ),
            row=last_row,
            max=max_rows,
        )
    if last_column > _MAX_COLUMNS:
        raise InvalidInput(
            N_("表格第{column}列还有内容，超出了党员名册的范围。请删除右侧多余的列后再上传。"),
            column=get_column_letter(last_column),
        )


def _refuse_formula(text: bytes) -> None:
    """The reader gives a formula's value as Excel last computed it: "=1+1"
    would be imported as 2 and =HYPERLINK(…) as its label, text nobody typed
    (issue 18). The import takes values only, so a formula refuses the file,
    naming its cell."""
    found = _FORMULA.search(text)
    if found is None:
        return
    cells = list(_CELL_REF.finditer(text, 0, found.start()))
    column, row = (cells[-1].group(1).decode(), cells[-1].group(2).decode()) if cells else ("", "")
    raise InvalidInput(
        N_(
            "表格里的{cell}单元格是公式（第{row}行）。导入不计算公式：请选中表格，复制后“选择性粘贴→数值”，去掉所有公式再上传。"
        ),
        cell=column + row,
        row=row,
    )


def _check_shared_strings(archive: zipfile.ZipFile, name: str, max_rows: int) -> None:
    """Counted as it inflates (the size the zip declares can lie), stopping
    at the limit."""
    limit = (max_rows + _SLACK_ROWS) * _SHARED_BYTES_PER_ROW
    size = 0
    with archive.open(name) as part:
        while chunk := part.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise InvalidInput(
                    N_(
                        "表格里的文字内容（共享字符串表）超过了{limit}MB的上限（一次最多导入{max}行）。文件可能夹带了大量无关内容：请把党员名册复制到新的模板中再上传。"
                    ),
                    limit=round(limit / 1024 / 1024, 1),
                    max=max_rows,
                )


def _column_index(letters: bytes) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + letter - 64
    return index


def _corrupt() -> InvalidInput:
    return InvalidInput(N_("文件已损坏，无法打开。请在Excel中打开并重新保存为.xlsx后再上传。"))


def _sheet(data: bytes) -> CalamineSheet:
    return _sheets(data)[0]


def _sheets(data: bytes) -> tuple[CalamineSheet, CalamineSheet | None]:
    """The first visible worksheet, read whole (the reader has no streaming
    mode), and the template's 家庭成员 sheet if the file has it (older files do
    not), from one opening of the workbook."""
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        visible = [
            (index, meta)
            for index, meta in enumerate(book.sheets_metadata)
            if meta.typ == SheetTypeEnum.WorkSheet and meta.visible == SheetVisibleEnum.Visible
        ]
        if not visible:
            raise InvalidInput(N_("文件里没有可见的工作表。请把党员名册放在第一个工作表。"))
        family = next((i for i, m in visible[1:] if m.name == family_sheet.SHEET), None)
        first = book.get_sheet_by_index(visible[0][0])
        return first, (book.get_sheet_by_index(family) if family is not None else None)
    except InvalidInput:
        raise
    except BaseException as exc:  # the Rust reader panics (BaseException) on some damage
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise _corrupt() from None


def _error_workbook(
    source: CalamineSheet | bytes, header: HeaderMap, errors: list[RowError]
) -> bytes:
    messages: dict[int, list[str]] = {}
    for error in (e for e in errors if not e.sheet):  # other sheets' problems are in the chat
        text = f"{error.column}：{error.message}" if error.column else error.message
        messages.setdefault(error.row, []).append(text)
    sheet = _sheet(source) if isinstance(source, bytes) else source
    joined = {row: "；".join(texts) for row, texts in messages.items()}
    return error_workbook(header, _breathing(enumerate(sheet.iter_rows(), 1)), joined)


# --- matching and writing (on the event loop, inside the transaction) ---

_KEYS = tuple(f.key for f in FIELDS)
_COLUMNS = (Member.id, Member.branch_id, *(getattr(Member, k) for k in _KEYS))
_LOOKUP_CHUNK = 500  # IN lists well under SQLite's and asyncpg's parameter limits
_WRITE_CHUNK = 1000
Changes = dict[str, tuple[Any, Any]]  # field → (old, new)


@dataclass
class _Plan:
    creates: list[ParsedRow] = field(default_factory=list)
    updates: list[tuple[int, Changes]] = field(default_factory=list)
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    family_changed: int = 0


async def _plan(session: AsyncSession, actor: Actor, branch_id: int, parsed: RosterParse) -> _Plan:
    rows = parsed.rows
    plan = _Plan()
    plan.errors += await _category_errors(session, branch_id, rows)
    plan.errors += await family_import.check_targets(session, branch_id, rows, parsed.family)
    claimed: dict[int, int] = {}  # member id → the row that matched it
    people: dict[tuple[str, str], list[tuple[int, str | None]]] | None = None
    for start in range(0, len(rows), _LOOKUP_CHUNK):
        chunk = rows[start : start + _LOOKUP_CHUNK]
        values = [r.values for r in chunk]
        found = await _by_id_number(session, [v["id_number"] for v in values if "id_number" in v])
        matched: list[tuple[int, dict[str, Any], int]] = []
        for parsed, row_values in zip(chunk, values, strict=True):
            hit = found.get(row_values.get("id_number"))
            if hit is not None and hit.branch_id != branch_id:
                plan.errors.append(await _elsewhere(session, actor, parsed.row, hit.branch_id))
                continue
            if hit is not None:
                member_id: int | None = hit.id
            else:
                if people is None:
                    people = await _people(session, branch_id)
                member_id, error = _match(parsed.row, row_values, people)
                if error:
                    plan.errors.append(error)
                    continue
            if member_id is None:
                plan.creates.append(parsed)
            elif member_id in claimed:
                plan.errors.append(_claimed_twice(parsed.row, claimed[member_id]))
            else:
                claimed[member_id] = parsed.row
                matched.append((parsed.row, row_values, member_id))
        by_id = {m.id: m for m in found.values()}
        missing = [mid for _, _, mid in matched if mid not in by_id]
        by_id.update({m.id: m for m in await _members(session, Member.id, missing)})
        for row, row_values, member_id in matched:
            changes = _changes(by_id[member_id], row_values)
            stored = by_id[member_id]._mapping
            if returned_before_leaving(
                row_values.get("abroad_date", stored["abroad_date"]),
                row_values.get("return_date", stored["return_date"]),
            ):
                # The row alone was checked; with the date already on file it
                # is the record's rule again (seed 001 附件1 note 7).
                problem = InvalidInput(N_("回国日期不能早于出国日期。"))
                plan.errors.append(
                    RowError(row, FIELD_BY_KEY["return_date"].label, problem.render())
                )
                continue
            if changes:
                plan.updates.append((member_id, changes))
            else:
                plan.unchanged += 1
    return plan


async def _by_id_number(session: AsyncSession, numbers: list[str]) -> dict[str, Row[Any]]:
    """Members on file by the file's ID numbers; a 15-digit number finds its
    18-digit upgrade and back (the same person, SPEC §2)."""
    asked = {form: n for n in numbers for form in parse_id_number(n).equivalents}
    # The stored numbers are encrypted: look up by their HMAC (storage/crypto.py).
    found = await _members(session, Member.id_number_hmac, crypto.id_hmacs(asked))
    return {asked[m.id_number]: m for m in found}


async def _category_errors(
    session: AsyncSession, branch_id: int, rows: list[ParsedRow]
) -> list[RowError]:
    """人员类别 must be on the committee's list (the template's drop-down)."""
    if not rows or "category" not in rows[0].keys:  # no 人员类别 column in this file
        return []
    allowed = await categories.names_for_branch(session, branch_id)
    at = rows[0].keys.index("category")  # one key tuple per file: no dict per row
    errors = []
    for row in rows:
        try:
            categories.check(row.data[at], allowed)
        except InvalidInput as problem:
            errors.append(RowError(row.row, FIELD_BY_KEY["category"].label, problem.render()))
    return errors


async def _members(session: AsyncSession, column: Any, keys: list[Any]) -> Sequence[Row[Any]]:
    if not keys:
        return []
    return (await session.execute(select(*_COLUMNS).where(column.in_(keys)))).all()


async def _people(
    session: AsyncSession, branch_id: int
) -> dict[tuple[str, str], list[tuple[int, str | None]]]:
    """The branch's members by (name, birth month), for rows matched without an ID."""
    people: dict[tuple[str, str], list[tuple[int, str | None]]] = {}
    query = select(Member.id, Member.name, Member.birth, Member.id_number).where(
        Member.branch_id == branch_id
    )
    for member_id, name, birth, id_number in await session.execute(query):
        people.setdefault((name, birth[:7]), []).append((member_id, id_number))
    return people


def _match(
    row: int, values: dict[str, Any], people: dict[tuple[str, str], list[tuple[int, str | None]]]
) -> tuple[int | None, RowError | None]:
    """A row whose ID number is not on file is the branch member with the same
    name and birth month, if there is exactly one — for a row with an ID number,
    only a member still without one (the ID is being added). Otherwise it is new."""
    candidates = people.get((values["name"], values["birth"][:7]), [])
    if "id_number" in values:
        candidates = [c for c in candidates if c[1] is None]
    if len(candidates) > 1:
        message = InvalidInput(
            N_("本支部有{count}名党员的姓名和出生年月都与此行相同，请填写身份证号以便区分。"),
            count=len(candidates),
        )
        return None, RowError(row, FIELD_BY_KEY["id_number"].label, message.render())
    return (candidates[0][0] if candidates else None), None


def _claimed_twice(row: int, first: int) -> RowError:
    message = InvalidInput(
        N_("与第{first}行对应本支部的同一名党员（姓名、出生年月相同），请合并为一行。"),
        first=first,
    )
    return RowError(row, FIELD_BY_KEY["name"].label, message.render())


async def _elsewhere(session: AsyncSession, actor: Actor, row: int, other: int) -> RowError:
    label = FIELD_BY_KEY["id_number"].label
    if other in actor.orgs(Role.SECRETARY):  # the actor may see their own other branch
        branch = await session.get(Organisation, other)
        message = InvalidInput(
            N_(
                "该身份证号已登记在您管理的“{branch}”。同一名党员只能在一个党支部登记，如属转入，请先在原支部办理转出。"
            ),
            branch=branch.name if branch else "",
        )
    else:  # R-ACL-BRANCH: never say which branch, nor anything about the member
        message = InvalidInput(
            N_(
                "该身份证号已登记在其他党支部。同一名党员只能在一个党支部登记，请核对号码；如属转入，请联系原支部或上级党委。"
            )
        )
    return RowError(row, label, message.render())


def _changes(existing: Row[Any], values: dict[str, Any]) -> Changes:
    stored = existing._mapping
    changes: Changes = {}
    for key, new in values.items():
        old = stored[key]
        if old == new:
            continue
        if FIELD_BY_KEY[key].kind is Kind.MONTH and isinstance(old, str) and old[:7] == new:
            continue  # the file gives the month; keep the day already on file
        if key == "id_number" and len(new) == 15 and old and len(old) == 18:
            continue  # the old 15-digit form of the number on file: keep the 18 digits
        changes[key] = (old, new)
    return changes


async def _write(
    session: AsyncSession, actor: Actor, branch_id: int, plan: _Plan, progress: Progress | None
) -> None:
    count, done = len(plan.creates) + len(plan.updates), 0

    async def advance(rows: int) -> None:
        nonlocal done
        before, done = done, done + rows
        if progress and done * 20 // count > before * 20 // count:  # a 5% mark was passed
            await progress(done, count)

    def audit(
        member_id: int, action: str, key: str | None = None, old: Any = None, new: Any = None
    ) -> dict[str, Any]:
        return {
            "actor_id": actor.user_id,
            "entity": "member",
            "entity_id": member_id,
            "action": action,
            "field": key,
            "old_value": as_text(old),
            "new_value": as_text(new),
            "member_id": member_id,
            "org_id": branch_id,
        }

    for start in range(0, len(plan.creates), _WRITE_CHUNK):
        chunk = plan.creates[start : start + _WRITE_CHUNK]
        # Every dict carries every column, so the driver runs one batched statement.
        params = [{"branch_id": branch_id, **dict.fromkeys(_KEYS), **r.values} for r in chunk]
        for row in params:  # bulk statements fire no ORM events: the HMAC by hand
            row["id_number_hmac"] = crypto.id_hmac(row["id_number"])
        # Ids in any order: each new member gets one "create" event, whichever row it was.
        statement = insert(Member).returning(Member.id)
        member_ids = (await session.scalars(statement, params)).all()
        await session.execute(insert(AuditEvent), [audit(m, "create") for m in member_ids])
        await advance(len(chunk))
    for start in range(0, len(plan.updates), _WRITE_CHUNK):
        chunk = plan.updates[start : start + _WRITE_CHUNK]
        # Rows changing the same fields go together: one executemany per shape.
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for member_id, changes in chunk:
            shape = tuple(sorted(changes))
            row = {"id": member_id, **{k: new for k, (_, new) in changes.items()}}
            if "id_number" in row:
                row["id_number_hmac"] = crypto.id_hmac(row["id_number"])
            shapes.setdefault(shape, []).append(row)
        for params in shapes.values():
            await session.execute(update(Member), params)
        events = [
            audit(mid, "update", key, old, new)
            for mid, changes in chunk
            for key, (old, new) in changes.items()
        ]
        await session.execute(insert(AuditEvent), events)
        await advance(len(chunk))
