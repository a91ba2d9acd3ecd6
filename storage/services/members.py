"""The member register (党员名册): add, edit, list, find — each change audited."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.clocks import DEFAULT_POCKET_DAYS
from domain.errors import N_, InvalidInput
from domain.idcard import parse_id_number
from domain.member_fields import FIELD_BY_KEY, REQUIRED, check_record, values_of
from storage import crypto
from storage.db import write_tx
from storage.models import Member
from storage.services import audit, categories, sweep
from storage.services.access import Actor, require_branch, require_member

PAGE_SIZE = 10


@dataclass(frozen=True)
class MemberPage:
    members: list[Member]
    total: int
    page: int
    pages: int


def _raise_first(problems: list[InvalidInput]) -> None:
    if problems:
        raise problems[0]


async def _check_id_free(
    session: AsyncSession, id_number: str | None, member_id: int | None
) -> None:
    if not id_number:
        return
    forms = parse_id_number(id_number).equivalents
    # The stored numbers are encrypted: compare their HMACs (storage/crypto.py).
    other = await session.scalar(
        select(Member.id).where(
            Member.id_number_hmac.in_(crypto.id_hmacs(forms)), Member.id != (member_id or 0)
        )
    )
    if other is not None:
        # Do not say where: the other member may be outside this user's scope (R-ACL-BRANCH).
        raise InvalidInput(
            N_("这个身份证号已经登记过，不能重复登记。请在名册中查找，或联系上级党委核实。")
        )


async def add_member(
    session: AsyncSession, actor: Actor, branch_id: int, values: Mapping[str, Any]
) -> Member:
    """``values`` are already parsed by the field catalogue (FieldSpec.parse)."""
    unknown = set(values) - set(FIELD_BY_KEY)
    if unknown:
        raise ValueError(f"unknown member fields: {sorted(unknown)}")
    for spec in REQUIRED:
        if values.get(spec.key) in (None, ""):
            raise InvalidInput(N_("“{label}”必须填写。"), label=spec.label)
    _raise_first(check_record(values))
    async with write_tx(session):
        await require_branch(session, actor, branch_id, write=True)
        await _check_id_free(session, values.get("id_number"), None)
        categories.check(
            values.get("category"), await categories.names_for_branch(session, branch_id)
        )
        member = Member(branch_id=branch_id, **values)
        session.add(member)
        await session.flush()
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="member",
            entity_id=member.id,
            action="create",
            member_id=member.id,
            org_id=branch_id,
        )
    return member


async def update_fields(
    session: AsyncSession,
    actor: Actor,
    member_id: int,
    changes: Mapping[str, Any],
    *,
    today: date | None = None,
    pocket_days: int = DEFAULT_POCKET_DAYS,
) -> Member:
    """Change some fields; every changed value is an audit event with old and new.

    With ``today``, a sweep 待完善 that the change fills in closes by itself."""
    for key in changes:
        if key not in FIELD_BY_KEY:
            raise ValueError(f"unknown member field: {key}")
        spec = FIELD_BY_KEY[key]
        if spec.required and changes[key] in (None, ""):
            raise InvalidInput(N_("“{label}”必须填写，不能清空。"), label=spec.label)
    async with write_tx(session):
        member = await require_member(session, actor, member_id, write=True)
        merged = {**values_of(member), **changes}
        _raise_first(check_record(merged))
        if "id_number" in changes:
            await _check_id_free(session, changes["id_number"], member.id)
        if changes.get("category"):
            categories.check(
                changes["category"], await categories.names_for_branch(session, member.branch_id)
            )
        flagged = (
            await sweep.pending_flags(session, [member.id], today, pocket_days) if today else {}
        )
        for key, new in changes.items():
            old = getattr(member, key)
            if old == new:
                continue
            setattr(member, key, new)
            audit.record(
                session,
                actor_id=actor.user_id,
                entity="member",
                entity_id=member.id,
                action="update",
                field=key,
                old=old,
                new=new,
                member_id=member.id,
                org_id=member.branch_id,
            )
        if today is not None:
            await sweep.settle_filled(session, actor, flagged, today, pocket_days)
    return member


async def get_member(session: AsyncSession, actor: Actor, member_id: int) -> Member:
    return await require_member(session, actor, member_id)


async def list_members(
    session: AsyncSession,
    actor: Actor,
    branch_id: int,
    *,
    query: str = "",
    page: int = 0,
    page_size: int = PAGE_SIZE,
) -> MemberPage:
    await require_branch(session, actor, branch_id)
    where = [Member.branch_id == branch_id]
    query = query.strip()
    if len(query) > _QUERY_MAX:
        # Nothing longer can match, and the page would echo it back: 4,096
        # characters split over several messages (issue 18 §7).
        raise InvalidInput(
            N_("要查找的内容太长（{length}个字），最多{max}个字：请输入姓名或身份证号后几位。"),
            length=len(query),
            max=_QUERY_MAX,
        )
    if query:
        # % and _ are a name's own characters, not wildcards (issue 18 §6).
        escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        found = Member.name.like(f"%{escaped}%", escape="\\")
        tail = query[-6:].upper()
        if len(tail) >= _ID_TAIL_MIN and _ID_TAIL.fullmatch(tail):
            ids = await _id_number_ends(session, branch_id, tail)
            found = or_(found, Member.id.in_(ids)) if ids else found
        where.append(found)
    total = await session.scalar(select(func.count()).select_from(Member).where(*where)) or 0
    pages = max(1, -(-total // page_size))
    page = min(max(page, 0), pages - 1)
    rows = await session.scalars(
        select(Member)
        .where(*where)
        .order_by(Member.name, Member.id)
        .offset(page * page_size)
        .limit(page_size)
    )
    return MemberPage(list(rows), total, page, pages)


_QUERY_MAX = max(FIELD_BY_KEY["name"].max_len, 18)  # a whole name, or a whole ID number
_ID_TAIL = re.compile(r"[0-9X]+")
_ID_TAIL_MIN = 4  # "身份证号后几位": fewer would match most of a branch
_ID_TAIL_MAX_HITS = 1000


async def _id_number_ends(session: AsyncSession, branch_id: int, tail: str) -> list[int]:
    """The branch's members whose ID number ends with ``tail``. The numbers
    are encrypted, so SQL cannot match them: they are read and compared here
    (one branch's register)."""
    rows = await session.execute(
        select(Member.id, Member.id_number).where(
            Member.branch_id == branch_id, Member.id_number.is_not(None)
        )
    )
    hits = [mid for mid, number in rows if number.upper().endswith(tail)]
    return hits[:_ID_TAIL_MAX_HITS]


def probation_end(member: Member) -> date | None:
    """预备期 ends one year after 入党时间 (SPEC §2); unknown for month-only dates
    is taken as the first of the month."""
    if member.member_type != "预备" or not member.joined:
        return None
    from domain.dates import PartialDate, add_months

    return add_months(PartialDate.from_iso(member.joined).first_day(), 12)


async def require_writable(session: AsyncSession, actor: Actor, member_id: int) -> Member:
    """The member, if this actor may change them (their branch's secretary)."""
    return await require_member(session, actor, member_id, write=True)
