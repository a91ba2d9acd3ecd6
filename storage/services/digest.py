"""The daily digest (每日提醒, issue 14): who is told what. A secretary gets
their branch's members who newly crossed a clock of SPEC §3, committee staff
the counts per branch; the scan itself is ``storage.services.clock_scan``.

The clocks are ``CLOCKS``, one list in the order the digest shows them: the
register's (失联, 疑似流动, 口袋, 预备期满) and those a disposition starts (issue 16:
停止党籍满2年 and the warning before it, 限期改正期满, 延长预备期届满, 保留组织关系期满).
Each crossing is told once: a recipient gets what crossed after their last
digest that went out (the notification ledger, ``scheduler.jobs.digest_since``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import write_tx
from storage.models import Organisation, RoleGrant, User
from storage.services.access import Role
from storage.services.clock_scan import CLOCKS, DISPOSITION_CLOCKS, Crossing, crossings

__all__ = [
    "CLOCKS",
    "DISPOSITION_CLOCKS",
    "BranchCount",
    "Crossing",
    "Digest",
    "crossings",
    "digest_on",
    "digests_for_day",
    "set_digest",
]


@dataclass(frozen=True)
class BranchCount:
    """A committee digest's line: how many crossed each clock in one branch."""

    branch_id: int
    name: str
    counts: tuple[tuple[str, int], ...]  # (clock, n) in CLOCKS order, n > 0

    @property
    def total(self) -> int:
        return sum(n for _clock, n in self.counts)


@dataclass(frozen=True)
class Digest:
    """One recipient's digest for one organisation. ``subject`` is the
    notification ledger's subject ("branch:5", "committee:2")."""

    recipient: int
    locale: str | None
    subject: str
    kind: str  # "branch" | "committee"
    org_id: int
    org_name: str
    since: date
    today: date
    crossings: tuple[Crossing, ...] = ()  # kind "branch"
    branches: tuple[BranchCount, ...] = ()  # kind "committee"


# ---- who is told ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Recipient:
    user_id: int
    locale: str | None
    role: Role
    org_id: int
    org_name: str


async def _recipients(session: AsyncSession) -> list[_Recipient]:
    """Secretaries and committee staff with a grant in force, digest on, not blocked."""
    rows = await session.execute(
        select(User.id, User.locale, RoleGrant.role, Organisation.id, Organisation.name)
        .join(RoleGrant, RoleGrant.user_id == User.id)
        .join(Organisation, Organisation.id == RoleGrant.org_id)
        .where(
            RoleGrant.revoked_at.is_(None),
            RoleGrant.role.in_([Role.SECRETARY.value, Role.COMMITTEE.value]),
            or_(User.digest_off.is_(None), User.digest_off.is_(False)),
            User.blocked_at.is_(None),
        )
        .order_by(User.id, RoleGrant.role, Organisation.id)
    )
    seen: set[tuple[int, str, int]] = set()
    result = []
    for user_id, locale, role, org_id, org_name in rows:
        if (user_id, role, org_id) in seen:  # a grant given twice is one digest
            continue
        seen.add((user_id, role, org_id))
        result.append(_Recipient(user_id, locale, Role(role), org_id, org_name))
    return result


async def digests_for_day(
    session: AsyncSession,
    *,
    today: date,
    since_by_recipient: Mapping[int, date] | None = None,
    default_since: date | None = None,
    pocket_days: int,
) -> list[Digest]:
    """One digest per recipient and organisation with something new since their
    last digest: a secretary gets their branch's members, committee staff the
    counts per branch under their committee. Nobody with nothing new is in the
    list ("nothing is sent when nothing changed")."""
    fallback = default_since if default_since is not None else today - timedelta(days=1)
    since_of = dict(since_by_recipient or {})
    recipients = await _recipients(session)
    if not recipients:
        return []
    earliest = min(since_of.get(r.user_id, fallback) for r in recipients)
    # One scan from the earliest ``since``; each recipient then keeps what
    # crossed after their own.
    found = await crossings(session, since=earliest, today=today, pocket_days=pocket_days)
    if not found:
        return []
    by_branch: dict[int, list[Crossing]] = defaultdict(list)
    for c in found:
        by_branch[c.branch_id].append(c)

    committees = {r.org_id for r in recipients if r.role is Role.COMMITTEE}
    branches_of: dict[int, list[tuple[int, str]]] = defaultdict(list)
    if committees:
        rows = await session.execute(
            select(Organisation.parent_id, Organisation.id, Organisation.name)
            .where(Organisation.kind == "branch", Organisation.parent_id.in_(committees))
            .order_by(Organisation.name, Organisation.id)
        )
        for parent_id, branch_id, name in rows:
            if parent_id is not None:
                branches_of[parent_id].append((branch_id, name))

    digests = []
    for r in recipients:
        since = since_of.get(r.user_id, fallback)
        if r.role is Role.SECRETARY:
            mine = tuple(c for c in by_branch.get(r.org_id, ()) if c.crossed_on > since)
            if mine:
                digests.append(
                    Digest(
                        r.user_id,
                        r.locale,
                        f"branch:{r.org_id}",
                        "branch",
                        r.org_id,
                        r.org_name,
                        since,
                        today,
                        crossings=mine,
                    )
                )
            continue
        lines = []
        for branch_id, name in branches_of.get(r.org_id, ()):
            counts = Counter(c.clock for c in by_branch.get(branch_id, ()) if c.crossed_on > since)
            if counts:
                lines.append(
                    BranchCount(branch_id, name, tuple((k, counts[k]) for k in CLOCKS if counts[k]))
                )
        if lines:
            digests.append(
                Digest(
                    r.user_id,
                    r.locale,
                    f"committee:{r.org_id}",
                    "committee",
                    r.org_id,
                    r.org_name,
                    since,
                    today,
                    branches=tuple(lines),
                )
            )
    return digests


# ---- /notify ----------------------------------------------------------------------------------


async def digest_on(session: AsyncSession, user_id: int) -> bool:
    """Whether the user gets the daily digest (on unless they turned it off)."""
    off = await session.scalar(select(User.digest_off).where(User.id == user_id))
    return not off


async def set_digest(session: AsyncSession, user_id: int, on: bool) -> None:
    """/notify: turn the user's daily digest on or off."""
    async with write_tx(session):
        await session.execute(update(User).where(User.id == user_id).values(digest_off=not on))
