"""Invented people for tests (虚构人员). Names, ID numbers and phones here are
made up; ID numbers carry a valid GB 11643 check digit."""

from __future__ import annotations

import itertools
from datetime import date

from domain.idcard import check_digit

_SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"
_GIVEN = ["测一", "示二", "样三", "例四", "虚五", "拟六", "演七", "练八", "假九", "设十"]
_serial = itertools.count(1)


def id_number(
    birth: date = date(1985, 6, 15),
    *,
    male: bool = True,
    region: str = "410102",
    serial: int | None = None,
) -> str:
    """A valid 18-digit 身份证号 for an invented person; the same ``serial``
    gives the same number."""
    seq = (next(_serial) if serial is None else serial) % 500
    order = seq * 2 + (1 if male else 0)
    first17 = f"{region}{birth:%Y%m%d}{order:03d}"
    return first17 + check_digit(first17)


def name(i: int | None = None) -> str:
    i = next(_serial) if i is None else i
    return _SURNAMES[i % len(_SURNAMES)] + _GIVEN[(i // len(_SURNAMES)) % len(_GIVEN)]


def phone(i: int = 0) -> str:
    # 139 0000 xxxx: an invented range used only in tests and docs.
    return f"1390000{i % 10000:04d}"


def member_values(i: int = 0, **overrides: object) -> dict[str, object]:
    birth = date(1970 + i % 30, 1 + i % 12, 1 + i % 28)
    male = i % 2 == 0
    values: dict[str, object] = {
        "name": name(i),
        "gender": "男" if male else "女",
        "birth": birth.strftime("%Y-%m"),
        "joined": f"{birth.year + 25}-07",
        "member_type": "正式",
        "id_number": id_number(birth, male=male, serial=i),
    }
    values.update(overrides)
    return values


async def org_tree(session, tree: dict[str, tuple[str, ...]]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Committees and their branches (invented names) in one write; returns ids
    by name, e.g. ``org_tree(s, {"示例党委": ("一支部", "二支部")})``."""
    from storage.db import write_tx
    from storage.models import Organisation

    ids: dict[str, int] = {}
    async with write_tx(session):
        for committee, branches in tree.items():
            parent = Organisation(name=committee, kind="committee")
            session.add(parent)
            await session.flush()
            ids[committee] = parent.id
            for name in branches:
                branch = Organisation(name=name, kind="branch", parent_id=parent.id)
                session.add(branch)
                await session.flush()
                ids[name] = branch.id
    return ids
