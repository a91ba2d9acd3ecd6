"""A lost laptop with the database file exposes no member (issue 18's proof,
R-CONFIDENTIAL): after a roster import, /add (one finished, one half-way),
an edit and a search through the chat, the SQLite file opened with plain
sqlite3, without the key, holds no ID number, phone or address in clear."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

from domain.idcard import parse_id_number
from tests.e2e.conftest import add_full_member
from tests.e2e.test_roster_upload import _fill, _template
from tests.factories import id_number, member_values, phone


def _secrets(rows: list[dict[str, object]], added: str) -> set[str]:
    found = {added, *parse_id_number(added).equivalents}
    for row in rows:
        number = str(row["id_number"])
        found |= {number, *parse_id_number(number).equivalents}
        found |= {str(row["phone"]), str(row["residence"])}
    return found


async def _until(user, words: str) -> None:  # type: ignore[no-untyped-def]
    """Wait until a message with ``words`` arrives (a loaded machine may be slow)."""
    seen = []
    for _ in range(5):
        seen += [m.text or "" for m in await user.wait_idle(quiet=0.5, timeout=20)]
        if any(words in text for text in seen):
            return
    raise AssertionError(f"no message with {words!r}; the bot said: {seen}")


def _every_text(path: Path) -> list[str]:
    """Every text value of every table, read as anyone with the file could."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        values = []
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                values += [v for v in row if isinstance(v, str)]
                values += [v.decode("utf-8", "replace") for v in row if isinstance(v, bytes)]
        return values
    finally:
        conn.close()


async def test_the_database_file_holds_no_id_number_phone_or_address_in_clear(branch_world):
    # Arrange: a roster of three with phones and addresses
    sec = branch_world.user(101)
    rows = [
        member_values(i, phone=phone(40 + i), residence=f"示例市虚构区样例路{40 + i}号")
        for i in range(3)
    ]
    await sec.upload("名册.xlsx", _fill(await _template(sec), rows))
    await _until(sec, "新增3人")

    # Act: /add to the end, an edit of a phone, a search by the ID's last digits,
    # and a second /add left half-way (its conversation holds an ID number)
    added = id_number(date(1981, 2, 3), male=False, serial=77)
    await add_full_member(sec, "钱示七", added)
    await sec.press("保存")
    await _until(sec, "已保存")
    await sec.send(f"/members {str(rows[1]['id_number'])[-6:]}")
    page = await sec.reply()
    assert "共1人" in page.text
    await sec.send("/members")
    await sec.reply()
    await sec.press("1")
    await sec.reply()
    await sec.press("修改信息")
    await sec.reply()
    await sec.press("联系电话")
    await sec.reply()
    await sec.send(phone(49))
    await sec.wait_idle()
    half_way = id_number(date(1979, 4, 5), serial=78)
    await sec.send("/add")
    await sec.replies(2)
    await sec.send("孙示八")
    await sec.reply()
    await sec.send(half_way)
    await sec.replies(2)

    # Assert: the values the chat saw are nowhere in the file's tables
    path = Path(branch_world.settings.database_url.split("///", 1)[1])
    texts = "\n".join(_every_text(path))
    secrets = _secrets(rows, added) | {phone(49), half_way}
    assert [s for s in sorted(secrets) if s in texts] == []
    assert "v1:" in texts  # they are there, encrypted
    assert "钱示七" in texts  # names are not encrypted: the check would see clear text
