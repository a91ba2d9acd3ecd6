"""What each exported form is filled with (报表数据): one collector per form key
of ``reports.catalogue``.

A collector reads the database (access already checked by
``storage.services.exports``) and returns a ``RenderJob``: a module-level
function of ``reports`` and its arguments, plain values only. The dispatcher
runs the job in a worker process, so building a 100,000-row workbook never
holds up the event loop (issue 15, “known traps”).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.services.access import Actor


@dataclass(frozen=True)
class BranchRef:
    id: int
    name: str


@dataclass(frozen=True)
class CampaignRef:
    id: int
    name: str
    starts: date
    ends: date


@dataclass(frozen=True)
class ExportContext:
    """Who asked for what. ``branches`` are the branches the export covers, in
    display order: one for a branch's export, every branch under the committee
    (or in the campaign's scope) for a committee's."""

    actor: Actor
    org_id: int  # the branch, or the committee
    org_name: str
    is_committee: bool
    branches: tuple[BranchRef, ...]
    campaign: CampaignRef | None
    today: date  # the form's date (填表日期); ages are as of this day
    pocket_days: int
    stamp: str  # “张三 2026-12-04 21:05 导出”: goes into the file (R-CONFIDENTIAL)
    member_id: int | None = None  # for the one-member forms
    requested_at: datetime | None = None

    @property
    def branch_ids(self) -> list[int]:
        return [b.id for b in self.branches]


@dataclass(frozen=True)
class RenderJob:
    """``render(*args)`` returns the file's bytes; it runs in a worker process,
    so it and its arguments must pickle (module-level function, plain data)."""

    render: Callable[..., bytes]
    args: tuple[Any, ...]


Collector = Callable[[AsyncSession, ExportContext], Awaitable[RenderJob]]
