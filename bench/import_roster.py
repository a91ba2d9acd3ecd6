"""Bench: importing a 党员名册 of 10,000 and 100,000 invented members.

For each size it writes a filled-in register (openpyxl write-only, through the
one form builder), then, each in a fresh subprocess so that peak memory is the
run's own: the baseline — openpyxl read-only reading every cell — and
``import_roster`` into a fresh SQLite database. It prints seconds, rows/s,
peak RSS and the ratio import / baseline. It never asserts: figures only.
Targets (issue brief): ratio ≤ 2.5, peak RSS ≤ 300 MB at 100,000 rows.

    .venv/bin/python bench/import_roster.py [--sizes 10000 100000] [--dir /tmp/paicha-bench]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TODAY = date(2024, 6, 10)
_SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"
_GIVEN = ["测一", "示二", "样三", "例四", "虚五", "拟六", "演七", "练八", "假九", "设十"]
_DAYS = 18_000  # birth dates spread over ~49 years; with the order digits every ID is distinct


def invented_rows(count: int):  # type: ignore[no-untyped-def]
    """Rows in template column order; invented names, valid check digits, 1390000xxxx."""
    from domain.idcard import check_digit
    from domain.member_fields import FIELDS

    keys = [f.key for f in FIELDS]
    for i in range(count):
        birth = date(1950, 1, 1) + timedelta(days=i % _DAYS)
        male = i % 2 == 0
        first17 = f"410102{birth:%Y%m%d}{(i // _DAYS) * 2 + (1 if male else 0):03d}"
        values = {
            "name": _SURNAMES[i % len(_SURNAMES)] + _GIVEN[(i // len(_SURNAMES)) % len(_GIVEN)],
            "gender": "男" if male else "女",
            "birth": f"{birth:%Y-%m}",
            "joined": f"{birth.year + 22}-07",  # never after TODAY
            "member_type": "正式党员" if i % 10 else "预备党员",
            "id_number": first17 + check_digit(first17),
            "ethnicity": "汉族",
            "education": ("高中(中专)以下", "大专", "本科及以上")[i % 3],
            "marital_status": "已婚",
            "work_unit": f"示例单位{i % 100}",
            "work_unit_has_org": "是" if i % 3 else "否",
            "residence": f"示例市示例路{i % 500}号",
            "phone": f"1390000{i % 10000:04d}",
            "last_org_life": (TODAY - timedelta(days=i % 400)).isoformat(),
            "last_dues": (TODAY - timedelta(days=i % 300)).isoformat(),
        }
        yield [values.get(k) for k in keys]


def generate(path: Path, count: int) -> None:
    from reports.builder import write_workbook
    from reports.forms.roster import roster_form

    form = roster_form("示例第一党支部", TODAY, footer=False)
    write_workbook(form, invented_rows(count), path, write_only=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child_baseline(path: Path) -> dict[str, float]:
    from openpyxl import load_workbook

    start = time.perf_counter()
    book = load_workbook(path, read_only=True)
    cells = 0
    for row in book.worksheets[0].iter_rows(values_only=True):
        for value in row:
            cells += value is not None
    book.close()
    return {"seconds": time.perf_counter() - start, "rss_mb": peak_rss_mb(), "cells": cells}


def child_import(path: Path) -> dict[str, float]:
    return asyncio.run(_import(path.read_bytes()))  # 10 MB; reading it is not the import


async def _import(data: bytes) -> dict[str, float]:
    from storage import crypto
    from storage.db import create_engine, make_sessionmaker
    from storage.models import Base, Organisation
    from storage.services.access import Actor, Grant, Role
    from storage.services.roster_import import import_roster

    if crypto.installed() is None:  # personal data is encrypted: a throwaway key
        crypto.install(crypto.Keyring([crypto.new_key()]))
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp}/bench.sqlite3")
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        sessions = make_sessionmaker(engine)
        async with sessions() as session:
            session.add(Organisation(id=1, name="示例党委", kind="committee"))
            session.add(Organisation(id=2, name="示例第一党支部", kind="branch", parent_id=1))
            await session.commit()
        actor = Actor(user_id=1, grants=(Grant(Role.SECRETARY, 2),))
        start = time.perf_counter()
        async with sessions() as session:
            result = await import_roster(session, actor, 2, data, today=TODAY)
        seconds = time.perf_counter() - start
        await engine.dispose()
    return {
        "seconds": seconds,
        "rss_mb": peak_rss_mb(),
        "created": result.created,
        "errors": result.error_count,
    }


def run_child(kind: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "paicha-bench")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, file = args.child
        run = child_baseline if kind == "baseline" else child_import
        print(json.dumps(run(Path(file))))
        return

    args.dir.mkdir(parents=True, exist_ok=True)
    print(
        f"{'rows':>8} {'file MB':>8} {'read s':>8} {'import s':>9} {'rows/s':>8} "
        f"{'ratio':>6} {'read MB':>8} {'import MB':>10}"
    )
    for size in args.sizes:
        path = args.dir / f"roster_{size}.xlsx"
        if not path.exists():
            generate(path, size)
        base = run_child("baseline", path)
        imp = run_child("import", path)
        if imp["created"] != size or imp["errors"]:
            print(f"  !! import created {imp['created']} of {size}, {imp['errors']} errors")
        print(
            f"{size:>8} {path.stat().st_size / 2**20:>8.1f} {base['seconds']:>8.2f} "
            f"{imp['seconds']:>9.2f} {size / imp['seconds']:>8.0f} "
            f"{imp['seconds'] / base['seconds']:>6.2f} {base['rss_mb']:>8.0f} {imp['rss_mb']:>10.0f}"
        )


if __name__ == "__main__":
    main()
