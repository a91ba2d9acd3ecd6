"""The summaries' figures from invented records through the database (issue 15):
失联 (seed 001 附件7), 外出流动 (附件8), 口袋 (seed 000 附件8), 管理及处置 (附件9),
流出 A–Z (seed 003 附件2, R-TABLE-SUMS), each per branch with a 合计 row, and
the workbooks read back with openpyxl and python-calamine."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date
from typing import Any

import openpyxl
import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import select

from domain.errors import DataCheckFailed, InvalidInput
from storage.db import write_tx
from storage.models import (
    Campaign,
    CampaignBranch,
    Disposition,
    Escalation,
    Member,
    MobileRecord,
    SearchOutcome,
)
from storage.services.access import Actor, Grant, Role
from storage.services.form_data import BranchRef, CampaignRef, ExportContext
from storage.services.form_data import summaries as figures
from tests.conftest import both_backends
from tests.factories import member_values, org_tree

TODAY = date(2026, 12, 4)
USER = 700


def _member(i: int, branch_id: int, **values: object) -> Member:
    return Member(branch_id=branch_id, **member_values(i, **values))


async def _world(session) -> ExportContext:  # type: ignore[no-untyped-def]
    """Two branches of invented members, each case the forms count once."""
    ids = await org_tree(session, {"示例党委": ("一支部", "二支部")})
    one, two = ids["一支部"], ids["二支部"]
    async with write_tx(session):
        campaign = Campaign(
            committee_id=ids["示例党委"],
            name="2026年党员组织关系集中排查",
            template="school2016",
            starts=date(2026, 2, 1),
            ends=date(2026, 12, 31),
        )
        session.add(campaign)
        await session.flush()
        session.add_all([CampaignBranch(campaign_id=campaign.id, branch_id=b) for b in (one, two)])
        m = [
            _member(0, one, gender="男", birth="1990-05", last_org_life=date(2024, 1, 10)),
            _member(1, one, gender="女", birth="1995-12", last_dues=date(2020, 6, 1)),
            _member(2, one, gender="男", birth="1960-03", last_org_life=date(2025, 1, 15)),
            _member(3, one, last_org_life=date(2025, 1, 1)),  # lost, being searched
            _member(4, one, transfer_letter_date=date(2026, 1, 5)),  # 口袋
            _member(5, one, gender="女", birth="1985-07", education="大专"),
            _member(6, one, education="本科及以上"),  # transferred in the campaign: Y
            _member(7, one, last_org_life=date(2026, 11, 1)),
            _member(8, two, gender="男", birth="2000-01", education="本科及以上"),
            _member(9, two, last_org_life=date(2021, 12, 4)),
            _member(10, two, last_org_life=date(2026, 10, 1)),
            # 回执 back during the campaign: settled, not pocket
            _member(
                11,
                two,
                transfer_letter_date=date(2026, 2, 1),
                transfer_receipt_date=date(2026, 3, 1),
            ),
            # transferred out before the campaign: no longer on the roll
            _member(
                12,
                two,
                transfer_letter_date=date(2025, 12, 1),
                transfer_receipt_date=date(2026, 1, 10),
            ),
        ]
        session.add_all(m)
        await session.flush()

        def outcome(member: Member, kind: str, **values: object) -> SearchOutcome:
            return SearchOutcome(
                member_id=member.id,
                kind=kind,
                decided_on=values.pop("decided_on", date(2026, 11, 20)),
                recorded_by=USER,
                **values,
            )

        session.add(outcome(m[0], "found", lost_reason="1", occupation="3", org_category="2"))
        session.add(outcome(m[1], "unreachable", lost_reason="6", occupation="8", org_category="8"))
        session.add(
            outcome(
                m[2],
                "unreachable",
                lost_reason="7",
                occupation="4",
                org_category="4",
                is_pocket=True,
            )
        )
        old = outcome(m[9], "found", lost_reason="1", occupation="1", org_category="1")
        session.add(old)
        await session.flush()
        new = outcome(m[9], "unreachable", lost_reason="2", occupation="1", org_category="1")
        session.add(new)
        await session.flush()
        old.superseded_by_id = new.id
        # reached, then the relation transferred out
        m[0].transfer_letter_date = date(2026, 11, 25)
        m[0].transfer_receipt_date = date(2026, 11, 30)
        session.add(
            Escalation(
                campaign_id=campaign.id, member_id=m[2].id, kind="discipline", referred_to="纪委"
            )
        )

        def mobile(member: Member, **values: object) -> MobileRecord:
            return MobileRecord(
                member_id=member.id, registered_on=date(2026, 11, 10), recorded_by=USER, **values
            )

        session.add(
            mobile(
                m[5],
                region="W",
                reason="U",
                reason_note="照看孙辈",
                occupation="5",
                direction="3",
                certificate_no="LD-0001",
                reported_branch="示范社区党支部",
            )
        )
        session.add(
            mobile(
                m[6],
                region="V",
                reason="M",
                occupation="4",
                direction="1",
                transferred_in_campaign=True,
                ended_on=date(2026, 11, 30),
            )
        )
        session.add(mobile(m[8], region="X", reason="J", occupation="4", direction="4"))
    return ExportContext(
        actor=Actor(USER, (Grant(Role.COMMITTEE, ids["示例党委"]),)),
        org_id=ids["示例党委"],
        org_name="示例党委",
        is_committee=True,
        branches=(BranchRef(one, "一支部"), BranchRef(two, "二支部")),
        campaign=CampaignRef(campaign.id, campaign.name, campaign.starts, campaign.ends),
        today=TODAY,
        pocket_days=90,
        stamp="测试员 2026-12-04 09:00 导出",
    )


@pytest.fixture
async def ctx(session) -> ExportContext:  # type: ignore[no-untyped-def]
    return await _world(session)


@both_backends
async def test_lost_figures_count_every_member_and_split_the_lost(session, ctx):
    """seed 001 附件7: 排查前在册党员 counts every member (note 2); 失联 = 取得联系 +
    仍然无法取得联系 from the outcome in force; breakdowns as of the form's date."""
    one, two = await figures.lost_figures(session, ctx)
    assert (one.members, one.found.count, one.unreachable.count) == (8, 1, 2)
    assert (one.lost, one.searching, one.pocket) == (3, 1, 1)
    u = one.unreachable
    assert u.gender == (1, 1)
    assert u.age == (1, 0, 1)  # 31 and 66
    assert u.duration == (0, 1, 0, 1)  # 1 year 10 months; 6 years
    assert u.reason == (0, 0, 0, 0, 0, 1, 1)
    assert u.occupation == (0, 0, 0, 1, 0, 0, 0, 1)
    assert len(u.org_category) == 8 and u.org_category[3] == 1 and u.org_category[7] == 1
    assert u.pocket == 1
    assert one.found.age == (0, 1, 0) and len(one.found.org_category) == 9
    # the superseded 取得联系 no longer counts; 4 years and 11 months lost;
    # the member whose transfer completed before the campaign is not on the roll
    assert (two.members, two.found.count, two.unreachable.count) == (4, 0, 1)
    assert two.unreachable.duration == (0, 0, 1, 0)
    total = figures.LostRow.total([one, two])
    assert (total.branch, total.members, total.lost) == ("合计", 12, 4)
    assert total.unreachable.reason == (0, 1, 0, 0, 0, 1, 1)


@both_backends
async def test_outflow_figures_a_to_z(session, ctx):
    """seed 003 附件2: A over registrations in force, Y apart (not in A), Z reported."""
    one, two = await figures.outflow_figures(session, ctx)
    assert (one.a, one.gender, one.age, one.education) == (1, (0, 1), (0, 1, 0), (0, 1, 0))
    assert one.industry[-1] == 1 and one.region == (0, 1, 0)
    assert (one.y, one.z, one.notes) == (1, 1, (("照看孙辈", 1),))
    assert (two.a, two.age, two.education, two.region) == (1, (1, 0, 0), (0, 0, 1), (0, 0, 1))
    assert two.industry[0] == 1 and (two.y, two.z) == (0, 0)
    total = figures.OutflowRow.total([one, two])
    assert (total.a, total.y, total.z) == (2, 1, 1)
    assert len(total.letters) == 26


@both_backends
async def test_mobile_pocket_and_disposal_figures(session, ctx):
    """seed 001 附件8 (累积数), seed 000 附件8 (口袋), seed 001 附件9 (管理及处置)."""
    one, two = await figures.mobile_figures(session, ctx)
    assert (one.count, one.still_away, one.female, one.certificate, one.reported) == (
        1,
        1,
        1,
        1,
        1,
    )
    assert one.occupation == (0, 0, 0, 0, 1) and one.direction == (0, 0, 1, 0, 0, 0)
    assert two.count == 1 and two.direction[3] == 1
    p1, p2 = await figures.pocket_figures(session, ctx)
    assert (p1.unreceipted, p1.pocket, p1.searching, p1.settled) == (1, 1, 1, 1)
    assert (p2.unreceipted, p2.pocket, p2.settled) == (0, 0, 1)
    d1, d2 = await figures.disposal_figures(session, ctx)
    assert (d1.found, d1.unreachable, d1.transferred, d1.discipline) == (1, 2, 1, 1)
    assert (d1.managed, d1.decided.suspended) == (1, 0)
    assert (d2.lost, d2.transferred) == (1, 0)


async def _dispositions(session, ctx) -> None:  # type: ignore[no-untyped-def]
    """Dispositions on top of ``_world``: five more members reached in 一支部 and
    one more unreachable in 二支部, and cases done, in procedure, withdrawn."""
    one, two = (b.id for b in ctx.branches)
    by_name = {m.name: m for m in await session.scalars(select(Member))}
    m = {i: by_name[member_values(i)["name"]] for i in (0, 1, 2, 3, 9)}
    async with write_tx(session):
        for i, branch, kind, letter in (
            (20, one, "found", date(2026, 11, 26)),  # re-sent: 补转, not 转出
            (21, one, "found", None),
            (22, one, "found", None),
            (23, one, "found", None),
            (24, one, "found", None),
            (25, two, "unreachable", None),
        ):
            member = _member(i, branch, transfer_letter_date=letter)
            session.add(member)
            await session.flush()
            m[i] = member
            session.add(
                SearchOutcome(
                    member_id=member.id, kind=kind, decided_on=date(2026, 11, 20), recorded_by=USER
                )
            )
        cases = [
            (0, "normal", "done"),
            (0, "normal", "done"),  # the same member twice: counted once
            (20, "transfer", "done"),
            (20, "reissue", "done"),
            (21, "normal", "done"),
            (21, "correct", "done"),
            (21, "persuade", "done"),
            (22, "retain_abroad", "done"),
            (22, "extend_probation", "done"),
            (23, "withdraw", "done"),  # 退党: 宣布除名
            (24, "remove", "in_progress"),
            (24, "discipline", "done"),
            (1, "suspend", "done"),
            (1, "restore", "done"),  # the suspension is no longer in force
            (2, "suspend", "done"),
            (2, "lapse", "done"),  # 自行脱党除名: a 除名, and the suspension ends
            (2, "discipline", "done"),  # referred by Escalation too: once
            (3, "normal", "done"),  # no search outcome yet: not on the registers
            (9, "suspend", "done"),
            (9, "suspend", "withdrawn"),
            (25, "cancel_probation", "done"),
        ]
        for k, (i, outcome, status) in enumerate(cases):
            session.add(
                Disposition(
                    member_id=m[i].id,
                    outcome=outcome,
                    opened_on=date(2026, 11, 21),
                    status=status,
                    effective_on=date(2026, 11, 22 + k // 10) if status == "done" else None,
                )
            )
            await session.flush()  # ids in the order above: a restore comes after


@both_backends
async def test_disposal_counts_dispositions_done_once_per_column(session, ctx):
    """seed 001 附件9: each column counts the members with such a disposition
    done, once; 纳入组织管理 = reached and 转出 or 纳入原所在党组织正常管理, never 补转
    (note 4); 自行脱党除名 and 退党 are 除名; 停止党籍 only while in force;
    纪律处分 from a referral or a 移交纪律处分, overlapping 组织处置 (note 6)."""
    await _dispositions(session, ctx)
    decided = await figures.disposition_counts(session, ctx)
    one, two = (decided[b.id] for b in ctx.branches)
    assert one == figures.Dispositions(
        normal=2,
        retransferred=1,
        retained=1,
        probation_extended=1,
        probation_cancelled=0,
        deadline_correct=1,
        persuaded=1,
        removed=2,
        suspended=0,
    )
    assert two == figures.Dispositions(suspended=1, probation_cancelled=1)
    d1, d2 = await figures.disposal_figures(session, ctx)
    assert (d1.found, d1.unreachable, d1.managed, d1.transferred, d1.discipline) == (6, 2, 2, 1, 2)
    assert (d2.found, d2.unreachable, d2.managed, d2.discipline) == (0, 2, 0, 0)
    assert figures.disposal_check(d1) == figures.disposal_check(d2) == []

    _sheet, values = _read(await _build(session, ctx, "disposal_summary"))
    rows = _data(values, 4, len(values[3]))
    # 合计 经查找取得联系 仍无法 纳入组织管理 其中转出 补转 保留 延长 取消 限期改正 劝退 除名 停止 纪律
    assert rows["一支部"] == [8, 6, 2, 2, 1, 1, 1, 1, 0, 1, 1, 2, 0, 2]
    assert rows["二支部"] == [2, 0, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0]
    _totals_add_up(rows)


@both_backends
async def test_disposal_check_managed_and_retransferred_within_the_reached(session, ctx):
    """note 4: 纳入组织管理 and 补转组织关系 are reached members, never both: a
    补转 recorded for a member whose search outcome in force is 仍无法取得联系
    fails the relation, named in Chinese."""
    member = await session.scalar(select(Member).where(Member.name == member_values(9)["name"]))
    async with write_tx(session):
        session.add(
            Disposition(
                member_id=member.id,
                outcome="reissue",
                opened_on=date(2026, 11, 21),
                status="done",
                effective_on=date(2026, 11, 22),
            )
        )
    with pytest.raises(DataCheckFailed) as failed:
        await figures.COLLECTORS["disposal_summary"](session, ctx)
    assert failed.value.problems == (
        "二支部：纳入组织管理0人与补转组织关系1人合计1人，多于经查找取得联系0人"
        "（纳入组织管理只计取得联系的党员，且不含补转组织关系的）。",
        "合计：纳入组织管理1人与补转组织关系1人合计2人，多于经查找取得联系1人"
        "（纳入组织管理只计取得联系的党员，且不含补转组织关系的）。",
    )


# ---------------------------------------------------------------- workbooks


def _read(content: bytes) -> tuple[Any, list[list[Any]]]:
    """The sheet through openpyxl, and its values through python-calamine."""
    sheet = openpyxl.load_workbook(io.BytesIO(content)).worksheets[0]
    calamine = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0)
    return sheet, calamine.to_python()


async def _build(session, ctx, key: str) -> bytes:  # type: ignore[no-untyped-def]
    job = await figures.COLLECTORS[key](session, ctx)
    return job.render(*job.args)


def _data(values: list[list[Any]], first: int, width: int) -> dict[str, list[float]]:
    """Rows from ``first`` (0-based) that name a branch or 合计 → their counts."""
    rows = {}
    for row in values[first:]:
        if row and row[0] in ("一支部", "二支部", "合计"):
            rows[row[0]] = [float(v) if v not in ("", None) else 0.0 for v in row[1:width]]
    return rows


def _totals_add_up(rows: dict[str, list[float]], skip: tuple[int, ...] = ()) -> None:
    for k, total in enumerate(rows["合计"]):
        if k not in skip:
            assert total == rows["一支部"][k] + rows["二支部"][k], k


@both_backends
async def test_lost_summary_workbook(session, ctx):
    """seed 001 附件7: title, 党组织名称 header, merged group headers, codes ①–⑦,
    a row per branch and 合计 = their sum; 失联 = 取得联系 + 仍然无法取得联系."""
    sheet, values = _read(await _build(session, ctx, "lost_summary"))
    assert sheet["A1"].value == values[0][0] == "与党组织失去联系党员情况汇总表"
    assert values[1][0] == "党组织名称：示例党委"
    heads, subs = values[2], values[3]
    assert heads[:3] == ["党组织名称", "排查前在册党员人数", "与党组织失去联系党员"]
    assert subs[2:5] == ["合计", "经查找取得联系党员", "经查找仍然无法取得联系党员"]
    assert "①外出务工经商" in subs and "⑦其他" in subs and "⑧其他" in subs
    assert {"性别", "年龄", "与党组织失去联系时间", "失去联系情形", "职业", "补充资料"} <= set(
        heads
    )
    merged = {str(r) for r in sheet.merged_cells.ranges}
    assert {"A3:A4", "B3:B4", "C3:E3"} <= merged
    rows = _data(values, 4, len(subs))
    assert rows["一支部"][:4] == [8, 3, 1, 2]
    _totals_add_up(rows)
    for row in rows.values():
        assert row[1] == row[2] + row[3]
    assert "填表日期：2026年12月4日" in [c for r in values[-2:] for c in r]


@both_backends
async def test_outflow_stats_workbook_r_table_sums(session, ctx):
    """seed 003 附件2: columns A–Z as in the seed with the letter row, group
    headers 性别/年龄/文化程度/从事行业或流动原因/流向区域, the U 备注, 党支部名称:
    header, footer 审核领导/填表人/联系电话; R-TABLE-SUMS holds in every row."""
    sheet, values = _read(await _build(session, ctx, "outflow_stats"))
    assert values[0][0] == "流出党员有关情况统计表"
    assert values[1][0] == "党组织名称:示例党委"
    heads, subs, letters = values[2], values[3], values[4]
    assert [h for h in heads if h] == [
        "党支部名称",
        "流出党员人数",
        "性别",
        "年龄",
        "文化程度",
        "从事行业或流动原因",
        "流向区域",
        "在集中排查中, 经督促已转移正式组织关系的党员人数",
        "已向流入地党组织报到的党员人数",
    ]
    assert subs[2:5] == ["男", "女", "35岁以下"]
    assert subs[22] == "备注(如存在U栏情况, 请注明主要情形及相应人数)"
    assert letters[1:] == [*"ABCDEFGHIJKLMNOPQRSTU", "", *"VWXYZ"]
    merged = {str(r) for r in sheet.merged_cells.ranges}
    assert {"C3:D3", "E3:G3", "H3:J3", "K3:W3", "X3:Z3", "AA3:AA4"} <= merged
    rows = {r[0]: r[1:] for r in values[5:] if r and r[0] in ("一支部", "二支部", "合计")}
    assert rows["一支部"][21] == "照看孙辈1人"
    for name, row in rows.items():
        n = [int(v or 0) for k, v in enumerate(row) if k != 21]
        a = n[0]
        assert a == n[1] + n[2] == sum(n[3:6]) == sum(n[6:9]) == sum(n[9:21]), name
        assert a == sum(n[21:24]), name
    assert int(rows["合计"][0]) == 2 and int(rows["合计"][-2]) == 1  # Y apart from A
    footer = [c for r in values[-2:] for c in r]
    assert {"审核领导:", "填表人:", "联系电话:"} <= set(footer)


@both_backends
async def test_outflow_stats_names_members_with_missing_values(session, ctx):
    """R-TABLE-SUMS fails on a member with no 流向区域: the check names them."""
    async with write_tx(session):
        record = await session.scalar(select(MobileRecord).where(MobileRecord.reason == "J"))
        record.region = None
    with pytest.raises(DataCheckFailed) as failed:
        await figures.COLLECTORS["outflow_stats"](session, ctx)
    name = member_values(8)["name"]
    assert failed.value.problems == (f"1名流出党员未填写流向区域：{name}，请先在其卡片中补全。",)


@both_backends
async def test_mobile_pocket_disposal_workbooks(session, ctx):
    """seed 001 附件8, seed 000 附件8, seed 001 附件9: headers, 合计 = sum of rows."""
    _sheet, values = _read(await _build(session, ctx, "mobile_summary"))
    assert values[0][0] == "外出流动党员情况汇总表"
    assert "①企业解除劳动关系人员" in values[3] and "⑥无固定地点" in values[3]
    rows = _data(values, 4, len(values[3]))
    assert rows["一支部"][0] == 1
    _totals_add_up(rows)

    _sheet, values = _read(await _build(session, ctx, "pocket_summary"))
    assert values[0][0] == "“口袋”党员情况汇总表"
    rows = _data(values, 4, len(values[3]))
    assert rows["一支部"][:2] == [1, 1]
    _totals_add_up(rows)

    _sheet, values = _read(await _build(session, ctx, "disposal_summary"))
    assert values[0][0] == "与党组织失去联系党员管理及处置情况汇总表"
    heads = [h for h in values[2] if h]
    assert [h for h in values[3] if h][:4] == [
        "合计",
        "经查找取得联系",
        "经查找仍然无法取得联系",
        "纳入组织管理",
    ]
    assert {"规范管理", "组织处置", "纪律处分"} <= set(heads)
    assert any("可以有交叉" in str(c) for r in values[-3:] for c in r)
    rows = _data(values, 4, len(values[3]))
    assert rows["一支部"][:5] == [3, 1, 2, 1, 1] and rows["一支部"][-1] == 1
    _totals_add_up(rows)


@both_backends
async def test_survey_stats_needs_a_campaign(session, ctx):
    """seed 000 附件9 counts the campaign's sweep: none chosen, a Chinese error."""
    with pytest.raises(InvalidInput):
        await figures.COLLECTORS["survey_stats"](session, replace(ctx, campaign=None))
    _sheet, values = _read(await _build(session, ctx, "survey_stats"))
    assert values[0][0] == "党员摸底核查情况统计表"
    assert values[2][0] == "人员类别"
    total = next(r for r in values if r and r[0] == "合计")
    assert int(total[1]) == 13  # every member record the sweep covers
    # a branch's export: the same counts over that branch alone
    one = replace(ctx, is_committee=False, branches=ctx.branches[:1], org_name="一支部")
    _sheet, values = _read(await _build(session, one, "survey_stats"))
    assert values[1][0] == "党支部名称：一支部"
    total = next(r for r in values if r and r[0] == "合计")
    assert int(total[1]) == 8 and int(total[5]) == 3  # m1, m2 unreachable and m3 searched
