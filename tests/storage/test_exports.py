"""The export dispatcher (storage/services/exports.py, issue 15): who may take
which form for which organisation (R-ACL-BRANCH), the campaign in force, the
file's name, the audit event of every export (R-CONFIDENTIAL), a stage's
forms in one .zip (SPEC §8), and a form whose records fail its checks left
out with the reason (R-TABLE-SUMS: never a silently wrong form)."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from domain.errors import DataCheckFailed, InvalidInput
from reports import pool
from reports.catalogue import find
from storage.db import write_tx
from storage.models import AuditEvent, User
from storage.services import campaigns, exports
from storage.services.access import AccessDenied, Actor, Grant, Role
from storage.services.form_data import ExportContext, RenderJob
from tests.conftest import both_backends
from tests.factories import org_tree

NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
TODAY = date(2026, 12, 4)
SEEN: list[ExportContext] = []


def render_echo(text: str) -> bytes:
    """A stand-in renderer: module level, so the worker process can import it."""
    return text.encode()


async def _echo(session, ctx: ExportContext) -> RenderJob:
    SEEN.append(ctx)
    names = ",".join(b.name for b in ctx.branches)
    return RenderJob(render_echo, (f"{ctx.org_name}|{names}|{ctx.stamp}",))


async def _fails(session, ctx: ExportContext) -> RenderJob:
    raise DataCheckFailed(["3名流出党员未填流向区域：赵测一、钱示二、孙样三"])


async def _inline(job: RenderJob) -> bytes:
    return job.render(*job.args)


@pytest.fixture
def fake_forms(monkeypatch):
    SEEN.clear()
    table = {
        "found_register": _echo,
        "lost_summary": _echo,
        "outflow_stats": _fails,
        "report": _echo,
        "branch_report": _echo,
        "dossier": _echo,
    }
    monkeypatch.setattr(exports, "COLLECTORS", table)
    return table


@pytest.fixture
async def ids(session):
    ids = await org_tree(session, {"示例党委": ("一支部", "二支部"), "别的党委": ("远支部",)})
    async with write_tx(session):
        session.add(User(id=201, full_name="韩组织"))
    return ids


def staff(ids) -> Actor:
    return Actor(201, (Grant(Role.COMMITTEE, ids["示例党委"]),))


def secretary(ids, branch="一支部") -> Actor:
    return Actor(101, (Grant(Role.SECRETARY, ids[branch]),))


async def _export(session, actor, form, **kw):
    return await exports.export_form(
        session, actor, form, today=TODAY, now=NOW, pocket_days=90, run=_inline, **kw
    )


@both_backends
async def test_a_committee_export_covers_every_branch_and_is_audited(session, ids, fake_forms):
    done = await _export(session, staff(ids), "lost_summary", org_id=ids["示例党委"])
    org, branches, stamp = done.content.decode().split("|")
    assert (org, branches) == ("示例党委", "一支部,二支部")
    assert stamp.startswith("韩组织 2026-12-04")
    assert done.filename == "2026-12-04_示例党委_与党组织失去联系党员情况汇总表.xlsx"
    event = await session.scalar(select(AuditEvent).where(AuditEvent.entity == "export"))
    assert (event.actor_id, event.field, event.new_value) == (201, "lost_summary", done.filename)


@both_backends
async def test_a_secretary_exports_only_their_branch_R_ACL_BRANCH(session, ids, fake_forms):
    done = await _export(session, secretary(ids), "found_register", org_id=ids["一支部"])
    assert done.content.decode().startswith("一支部|一支部|")
    for org in ("二支部", "远支部", "示例党委"):
        with pytest.raises(AccessDenied):
            await _export(session, secretary(ids), "found_register", org_id=ids[org])
    with pytest.raises(AccessDenied):
        await _export(session, staff(ids), "found_register", org_id=ids["远支部"])


@both_backends
async def test_committee_papers_are_the_committees_own(session, ids, fake_forms):
    """综合情况报告 and 核查情况报告: committee staff only (SPEC §7)."""
    with pytest.raises(AccessDenied):
        await _export(session, secretary(ids), "branch_report", org_id=ids["一支部"])
    done = await _export(session, staff(ids), "branch_report", org_id=ids["一支部"])
    assert done.filename.endswith("_一支部_核查情况报告.docx")
    branch = await session.get(exports.Organisation, ids["一支部"])
    offered = [f.key for f in exports.forms_for(branch, secretary(ids))]
    assert "report" not in offered and "branch_report" not in offered
    assert "branch_report" in [f.key for f in exports.forms_for(branch, staff(ids))]


@both_backends
async def test_unknown_form_and_one_member_forms_need_their_arguments(session, ids, fake_forms):
    with pytest.raises(InvalidInput):
        await _export(session, staff(ids), "no_such_form", org_id=ids["示例党委"])
    with pytest.raises(InvalidInput):
        await _export(session, staff(ids), "dossier", org_id=ids["一支部"])


@both_backends
async def test_a_failed_check_sends_nothing_and_names_the_members(session, ids, fake_forms):
    with pytest.raises(DataCheckFailed) as failed:
        await _export(session, staff(ids), "outflow_stats", org_id=ids["示例党委"])
    assert "赵测一" in failed.value.problems[0]
    events = await session.scalars(select(AuditEvent).where(AuditEvent.entity == "export"))
    assert list(events) == []


@both_backends
async def test_a_stage_comes_as_one_zip_with_what_was_left_out(session, ids, fake_forms):
    """全市 双查: 3月30日 上报排查情况 names the report, two registers, the
    汇总表 and the 统计表 (which fails its check here); one register has no
    collector in this test. The zip holds what was built and says why the
    rest is missing (SPEC §8)."""
    campaign = await campaigns.create_campaign(
        session, staff(ids), ids["示例党委"], template="dual_check", name="双查", year=2026
    )
    _, stages, _ = await campaigns.campaign_detail(session, staff(ids), campaign.id)
    stage = next(s for s in stages if s.key == "reports")
    bundle = await exports.export_stage(
        session,
        staff(ids),
        stage.id,
        ids["示例党委"],
        today=TODAY,
        now=NOW,
        pocket_days=90,
        run=_inline,
    )
    names = zipfile.ZipFile(io.BytesIO(bundle.content)).namelist()
    assert any(n.endswith("经查找取得联系党员登记表.xlsx") for n in names)
    assert any(n.endswith("与党组织失去联系党员情况汇总表.xlsx") for n in names)
    assert "未生成说明.txt" in names
    assert any(n.endswith("党员组织关系集中排查综合情况报告.docx") for n in names)
    skipped = dict(bundle.skipped)
    assert "经查找仍然无法取得联系党员登记表" in skipped
    assert "赵测一" in skipped["流动党员管理有关情况统计表"]
    assert SEEN[-1].campaign is not None and SEEN[-1].campaign.id == campaign.id


def test_the_catalogue_finds_forms_by_key_alias_and_seed_title():
    assert find("mobile_stats").key == "outflow_stats"
    assert find("“口袋”党员登记表（附件7）").key == "pocket_register"
    assert find("流出党员有关情况统计表").key == "outflow_stats"
    assert find("nothing") is None


async def test_the_worker_process_builds_the_file():
    """The workbook is built in another process (issue 15, known traps)."""
    try:
        data = await pool.render(RenderJob(render_echo, ("在另一个进程里",)))
    finally:
        pool.shutdown()
    assert data.decode() == "在另一个进程里"
