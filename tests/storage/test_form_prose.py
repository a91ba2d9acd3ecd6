"""The prose reports through the database and the export dispatcher, on SQLite
and PostgreSQL: the 综合情况报告 (seed 000 二(六), seed 004 检查总结) and a
branch's 核查情况报告 (seed 004 二(二)2) read back with python-docx — the
headings, the figures matching the records (the summaries' own counts), the
sweep and review state, the names behind a branch's figures, and the marking
in the page header (R-CONFIDENTIAL)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from docx import Document

from domain.errors import InvalidInput
from domain.sweep import Answer, Check
from reports import prose as p
from reports.builder import MARKING
from storage.db import write_tx
from storage.models import Member, MobileRecord, SearchOutcome, User
from storage.services import campaigns, exports, search, sweep
from storage.services import review as reviews
from storage.services.access import Actor, Grant, Role
from tests.conftest import both_backends
from tests.factories import member_values, org_tree

NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
TODAY = date(2026, 12, 4)


async def _inline(job):  # type: ignore[no-untyped-def]
    return job.render(*job.args)


def _member(i: int, branch_id: int, **values: object) -> Member:
    return Member(branch_id=branch_id, **member_values(i, **values))


def _outcome(member: Member, kind: str, reason: str) -> SearchOutcome:
    return SearchOutcome(
        member_id=member.id,
        kind=kind,
        decided_on=date(2026, 11, 1),
        lost_reason=reason,
        occupation="3",
        org_category="3",
        is_pocket=False,
    )


@pytest.fixture
async def world(session):
    ids = await org_tree(session, {"示例党委": ("一支部", "二支部")})
    one, two = ids["一支部"], ids["二支部"]
    async with write_tx(session):
        session.add(User(id=201, full_name="韩组织"))
    staff = Actor(201, (Grant(Role.COMMITTEE, ids["示例党委"]),))
    campaign = await campaigns.create_campaign(
        session, staff, ids["示例党委"], template="mobile_2023", name="2026年排查", year=2026
    )
    async with write_tx(session):
        m = [
            _member(0, one, gender="男", last_org_life=date(2024, 1, 10)),  # found ①
            _member(1, one, gender="女", last_dues=date(2020, 6, 1)),  # unreachable ⑥
            _member(2, one, last_org_life=date(2025, 1, 1)),  # lost, being searched
            _member(3, one, last_org_life=date(2026, 11, 1)),  # mobile
            _member(4, one, transfer_letter_date=date(2026, 1, 5), transfer_receiver="某虚构党委"),
            _member(5, one, last_org_life=date(2026, 11, 1)),
            _member(6, two, gender="男", last_org_life=date(2024, 3, 1)),  # found ①
            _member(7, two, last_org_life=date(2026, 11, 1)),
        ]
        session.add_all(m)
        await session.flush()
        session.add_all(
            [
                _outcome(m[0], "found", "1"),
                _outcome(m[1], "unreachable", "6"),
                _outcome(m[6], "found", "1"),
            ]
        )
        session.add(
            MobileRecord(
                member_id=m[3].id,
                registered_on=date(2026, 11, 20),
                direction="4",
                occupation="4",
                destination="某省某市",
            )
        )
    secretary = Actor(101, (Grant(Role.SECRETARY, one),))
    everything = {c: Answer.ok for c in Check}
    await sweep.answer_checks(session, secretary, campaign.id, m[5].id, everything)
    await sweep.answer_checks(
        session, secretary, campaign.id, m[2].id, {Check.dues_and_life: Answer.pending}
    )
    for channel in ("phone", "relative"):
        await search.log_attempt(
            session,
            secretary,
            m[2].id,
            channel=channel,
            result="not_reached",
            attempted_on=date(2026, 11, 2),
            today=TODAY,
        )
    await reviews.record_review(
        session, staff, campaign.id, one, kind="finding", text="党费记录缺2025年", member_id=m[2].id
    )
    return ids, staff, campaign.id, [x.name for x in m]


async def _export(session, actor, form, org_id, campaign_id):  # type: ignore[no-untyped-def]
    done = await exports.export_form(
        session,
        actor,
        form,
        org_id=org_id,
        campaign_id=campaign_id,
        today=TODAY,
        now=NOW,
        pocket_days=90,
        run=_inline,
    )
    return done, Document(io.BytesIO(done.content))


def headings(doc) -> list[str]:  # type: ignore[no-untyped-def]
    return [x.text for x in doc.paragraphs if x.style.name.startswith("Heading")]


def table_after(doc, caption: str) -> list[list[str]]:  # type: ignore[no-untyped-def]
    found = False
    for child in doc.element.body.iterchildren():
        if child.tag.endswith("}p") and "".join(child.itertext()).startswith(caption):
            found = True
        elif found and child.tag.endswith("}tbl"):
            table = next(t for t in doc.tables if t._tbl is child)
            return [[c.text for c in r.cells] for r in table.rows]
    raise AssertionError(caption)


@both_backends
async def test_report_figures_match_the_records_seed_000_and_004(session, world):
    ids, staff, campaign_id, _names = world
    done, doc = await _export(session, staff, "report", ids["示例党委"], campaign_id)
    assert done.filename == "2026-12-04_示例党委_党员组织关系集中排查综合情况报告.docx"
    assert headings(doc) == list(p.REPORT_HEADINGS)
    assert doc.sections[0].header.paragraphs[0].text == MARKING
    assert doc.core_properties.author.startswith("韩组织 2026-12-04")
    branches = table_after(doc, "表2")
    assert branches[1][:6] == ["一支部", "6", "2", "1", "1", "1"]
    assert branches[2][:6] == ["二支部", "2", "1", "1", "0", "0"]
    assert branches[3][:7] == ["合计", "8", "3", "2", "1", "1", "1"]
    reason = table_after(doc, "表3")
    assert reason[1][:4] == ["①外出务工经商", "2", "0", "2"]
    assert reason[6][:4] == ["⑥居住地改变", "0", "1", "1"]
    sweep_rows = table_after(doc, "表1")
    assert sweep_rows[1] == ["一支部", "6", "1", "1", "0", "未核查"]
    direction = table_after(doc, "表8")
    assert ["④跨省流动", "1", "100.0%"] in direction


@both_backends
async def test_branch_report_names_and_findings_seed_004(session, world):
    ids, staff, campaign_id, names = world
    done, doc = await _export(session, staff, "branch_report", ids["一支部"], campaign_id)
    assert done.filename.endswith("_一支部_核查情况报告.docx")
    assert headings(doc) == list(p.BRANCH_HEADINGS)
    assert doc.sections[0].header.paragraphs[0].text == MARKING
    checks = table_after(doc, "表1")
    assert checks[3] == ["3. 党费和组织生活", "1", "0", "1", "4"]
    assert table_after(doc, "表2")[1] == [names[2], "党费记录缺2025年", "待整改"]
    assert table_after(doc, "表3")[1][:3] == [names[2], "3. 党费和组织生活", "待完善"]
    lost = {row[0]: row for row in table_after(doc, "表7")[1:]}
    assert set(lost) == {names[0], names[1], names[2]}
    assert lost[names[0]][1:4] == ["经查找取得联系", "2024年1月10日", "2年9个月又22天"]
    assert lost[names[0]][4:] == ["0", "—"]
    assert lost[names[2]][1] == "正在查找"
    assert lost[names[2]][4:] == ["2", "12371党建热线/原籍地组织部门、部门协查"]  # R-EXHAUSTED
    assert lost[names[1]][5] == "本人、知情人、12371党建热线/原籍地组织部门、部门协查"
    assert table_after(doc, "表4")[1] == [names[3], "跨省流动", "某省某市", "未报到"]
    assert table_after(doc, "表6")[1] == [names[4], "2026年1月5日", "某虚构党委", "正在查找"]


@both_backends
async def test_branch_report_of_the_committee_covers_each_branch(session, world):
    ids, staff, campaign_id, _names = world
    _done, doc = await _export(session, staff, "branch_report", ids["示例党委"], campaign_id)
    assert headings(doc).count(p.B_BASICS) == 2
    text = [x.text for x in doc.paragraphs]
    assert "一支部" in text and "二支部" in text


@both_backends
async def test_report_without_a_campaign_has_no_sweep_figures(session):
    """No campaign: the figures still come from the records; the 五核查 columns
    say “—” instead of a made-up zero."""
    ids = await org_tree(session, {"空党委": ("甲支部",), "无支部党委": ()})
    async with write_tx(session):
        session.add(_member(0, ids["甲支部"], last_org_life=date(2026, 11, 1)))
    staff = Actor(
        201, (Grant(Role.COMMITTEE, ids["空党委"]), Grant(Role.COMMITTEE, ids["无支部党委"]))
    )
    _done, doc = await _export(session, staff, "report", ids["空党委"], None)
    assert table_after(doc, "表1")[1] == ["甲支部", "1", "—", "—", "—", "—"]
    assert any("暂无五核查记录" in x.text for x in doc.paragraphs)
    with pytest.raises(InvalidInput, match="还没有党支部"):
        await _export(session, staff, "report", ids["无支部党委"], None)
