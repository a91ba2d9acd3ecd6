"""The roster import's 家庭成员 sheet: which member each row means, checked
before anything is written (all or nothing, like the register), and the
members' relatives replaced after the register rows are in."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import N_, InvalidInput
from domain.family import MAX_ROWS, Relative
from domain.family_sheet import FamilyRow, error
from domain.roster import ParsedRow
from storage.models import Member
from storage.services import family
from storage.services.access import Actor

_NAME = N_("党员姓名")
_ID = N_("党员身份证号")


async def _branch(
    session: AsyncSession, branch_id: int
) -> tuple[dict[str, int], dict[str, set[int]]]:
    by_id: dict[str, int] = {}
    by_name: dict[str, set[int]] = defaultdict(set)
    query = select(Member.id, Member.name, Member.id_number).where(Member.branch_id == branch_id)
    for member_id, name, id_number in await session.execute(query):
        if id_number:
            by_id[id_number] = member_id
        by_name[name].add(member_id)
    return by_id, by_name


async def check_targets(
    session: AsyncSession, branch_id: int, rows: Sequence[ParsedRow], relatives: Sequence[FamilyRow]
) -> list:  # list[RowError]
    """Every 家庭成员 row must name one member of the branch or of the file."""
    if not relatives:
        return []
    by_id, by_name = await _branch(session, branch_id)
    file_ids = {r.values.get("id_number") for r in rows} - {None}
    # A file row is a new person by name only when nothing on file could be them.
    new_by_name: dict[str, int] = defaultdict(int)
    for r in rows:
        values = r.values
        number = values.get("id_number")
        if (number and number not in by_id) or (not number and values["name"] not in by_name):
            new_by_name[values["name"]] += 1
    errors = []
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for rel in relatives:
        counts[rel.member_key] += 1
        if rel.member_id_number:
            if rel.member_id_number not in by_id and rel.member_id_number not in file_ids:
                errors.append(
                    error(
                        rel.row,
                        _ID,
                        InvalidInput(N_("本支部名册和第一个工作表里都没有这个身份证号的党员。")),
                    )
                )
            continue
        people = len(by_name.get(rel.member_name, ())) + new_by_name.get(rel.member_name, 0)
        if people == 0:
            errors.append(
                error(
                    rel.row,
                    _NAME,
                    InvalidInput(
                        N_("本支部名册和第一个工作表里都没有叫“{name}”的党员。"),
                        name=rel.member_name,
                    ),
                )
            )
        elif people > 1:
            errors.append(
                error(
                    rel.row,
                    _NAME,
                    InvalidInput(
                        N_("有{n}名党员叫“{name}”，请填写党员身份证号以便区分。"),
                        n=people,
                        name=rel.member_name,
                    ),
                )
            )
    for rel in relatives:
        if counts[rel.member_key] > MAX_ROWS:
            errors.append(
                error(rel.row, _NAME, InvalidInput(N_("家庭成员最多登记{max}人。"), max=MAX_ROWS))
            )
            counts[rel.member_key] = 0  # once per member
    return errors


async def apply(
    session: AsyncSession, actor: Actor, branch_id: int, relatives: Sequence[FamilyRow]
) -> int:
    """After the register rows are written: replace each named member's
    relatives with the sheet's rows. Returns the members whose rows changed."""
    if not relatives:
        return 0
    by_id, by_name = await _branch(session, branch_id)
    grouped: dict[int, list[Relative]] = defaultdict(list)
    for rel in relatives:
        if rel.member_id_number:
            member_id = by_id[rel.member_id_number]
        else:
            (member_id,) = by_name[rel.member_name]  # checked unique by check_targets
        grouped[member_id].append(rel.relative)
    changed = 0
    for member_id, rows in grouped.items():
        changed += await family.replace_for(session, actor, member_id, branch_id, rows)
    return changed
