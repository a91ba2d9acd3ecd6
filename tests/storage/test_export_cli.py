"""`paicha export` at a desk (issue 15 item 7): the list of forms, one a line,
key first; a form written from the same database as the bot — here the
sandbox's demo data — by key or title, for an org by name or id; bad requests
answered in Chinese with nothing written."""

from __future__ import annotations

import asyncio
import io

import openpyxl
import pytest

from bot.cli import main
from bot.demo import COMMITTEE, seed_demo
from reports.catalogue import find
from storage.db import create_engine, make_sessionmaker
from storage.migrate import upgrade_async


async def _seed(url: str) -> None:
    await upgrade_async(url)
    engine = create_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            from datetime import date

            await seed_demo(session, 900, date(2026, 12, 4))
    finally:
        await engine.dispose()


@pytest.fixture
def desk(tmp_path, monkeypatch, capsys):
    url = f"sqlite+aiosqlite:///{tmp_path / 'desk.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    asyncio.run(_seed(url))

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["export", *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_the_list_has_one_form_a_line_key_first(desk):
    code, out, _ = desk("--list")
    lines = out.strip().splitlines()
    assert code == 0 and lines
    for line in lines:
        key, title = line.split()[0], line.split()[1]
        assert key.isascii() and find(key) is not None and find(key).title == title


def test_a_summary_is_written_from_the_demo_database(desk, tmp_path):
    target = tmp_path / "汇总表.xlsx"
    code, out, err = desk(
        "与党组织失去联系党员情况汇总表",
        "--org",
        COMMITTEE,
        "--date",
        "2026-12-04",
        "-o",
        str(target),
    )
    assert code == 0, err
    assert str(target) in out
    book = openpyxl.load_workbook(io.BytesIO(target.read_bytes()))
    assert book.properties.subject == "内部资料 注意保密"
    assert "命令行" in (book.properties.creator or "")
    texts = [str(v) for row in book.active.iter_rows(values_only=True) for v in row if v]
    assert any("与党组织失去联系党员情况汇总表" in t for t in texts)
    assert "示范机关党委" in " ".join(texts) or "第一党支部" in " ".join(texts)


def test_a_register_by_key_for_a_branch_by_id_lands_under_its_own_name(desk, tmp_path):
    code, _out, err = desk("found_register", "--org", "2", "--date", "2026-12-04")
    assert code == 0, err
    written = list(tmp_path.glob("2026-12-04_*经查找取得联系党员登记表.xlsx"))
    assert len(written) == 1
    texts = [
        str(v)
        for row in openpyxl.load_workbook(written[0]).active.iter_rows(values_only=True)
        for v in row
        if v
    ]
    assert "钱示二" in texts


def test_bad_requests_are_answered_in_chinese_and_write_nothing(desk, tmp_path):
    before = set(tmp_path.iterdir())
    code, _, err = desk("no_such_form", "--org", COMMITTEE)
    assert code == 2 and "没有这张表" in err
    code, _, err = desk("lost_summary", "--org", "没有这个党委")
    assert code == 2 and "没有名为" in err
    code, _, err = desk("lost_summary")
    assert code == 2 and "用法" in err
    assert set(tmp_path.iterdir()) == before
