"""处置 in the member's dossier (一人一档, R-DOSSIER), on SQLite and PostgreSQL:
a case walked through storage.services.dispositions — opened, the 党员大会
resolution recorded with its votes and why the member did not sign, 退回 with
the reason, recorded again, 批准, the 备案 with its 文号, an appeal and its
review, a second case withdrawn, another not adopted — reads back in order,
with the step's day, its facts and who, in the card's 档案 view and in the
exported workbook's 处置情况 (R-PROCEDURE)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import select

from bot.i18n import build_i18n
from domain.audit_words import ACTIONS
from domain.dispositions import Outcome, Step
from handlers.dossier import _describe, _messages
from storage.db import write_tx
from storage.models import SearchOutcome, User
from storage.services import dispositions as cases
from storage.services import exports, members
from storage.services.access import Actor, Grant, Role
from storage.services.dossier import PAGE_SIZE, dossier
from tests.conftest import both_backends
from tests.factories import member_values, org_tree

NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
TODAY = date(2026, 12, 4)

FIRST_VOTE = {
    "present": 20,
    "votes_for": 18,
    "votes_against": 1,
    "votes_abstain": 1,
    "signed": False,
    "unsigned_reason": "本人无法取得联系",
}
SECOND_VOTE = {**FIRST_VOTE, "present": 21, "votes_for": 19}
NOT_ENOUGH = {
    "present": 20,
    "votes_for": 8,
    "votes_against": 10,
    "votes_abstain": 2,
    "signed": True,
}


async def _inline(job):  # type: ignore[no-untyped-def]
    return job.render(*job.args)


async def _unreachable(session, secretary, branch_id, i, **values):  # type: ignore[no-untyped-def]
    person = await members.add_member(
        session, secretary, branch_id, member_values(i, last_org_life=date(2024, 3, 1), **values)
    )
    async with write_tx(session):
        session.add(
            SearchOutcome(
                member_id=person.id,
                kind="unreachable",
                decided_on=date(2026, 10, 30),
                recorded_by=101,
            )
        )
    return person.id


@pytest.fixture
async def world(session):
    ids = await org_tree(session, {"示例党委": ("一支部",)})
    async with write_tx(session):
        session.add(User(id=101, full_name="孙书记"))
        session.add(User(id=201, full_name="韩组织"))
    secretary = Actor(101, (Grant(Role.SECRETARY, ids["一支部"]),))
    committee = Actor(201, (Grant(Role.COMMITTEE, ids["示例党委"]),))
    member_id = await _unreachable(session, secretary, ids["一支部"], 7)

    view = await cases.open_case(session, secretary, member_id, Outcome.SUSPEND, date(2026, 11, 2))
    d = view.disposition.id
    await cases.record_step(
        session, secretary, d, Step.RESOLUTION, date(2026, 11, 5), FIRST_VOTE, date(2026, 11, 5)
    )
    await cases.decide_step(
        session,
        committee,
        d,
        approve=False,
        expected=1,
        reason="请补充调查核实材料",
        today=date(2026, 11, 6),
    )
    await cases.record_step(
        session, secretary, d, Step.RESOLUTION, date(2026, 11, 8), SECOND_VOTE, date(2026, 11, 8)
    )
    await cases.decide_step(
        session, committee, d, approve=True, expected=1, reason="", today=date(2026, 11, 10)
    )
    await cases.record_step(
        session,
        committee,
        d,
        Step.UPPER_FILING,
        date(2026, 11, 12),
        {"document_no": "示组〔2026〕3号"},
        date(2026, 11, 12),
    )
    appeal = await cases.file_appeal(
        session,
        secretary,
        d,
        date(2026, 11, 15),
        "家属代为申诉：本人在外地务工",
        date(2026, 11, 15),
    )
    await cases.review_appeal(
        session, committee, appeal.id, "维持原处置决定", date(2026, 11, 20), date(2026, 11, 20)
    )
    async with write_tx(session):  # in contact again: restoration may be asked for
        found = SearchOutcome(
            member_id=member_id, kind="found", decided_on=date(2026, 11, 21), recorded_by=101
        )
        session.add(found)
        await session.flush()
        for old in await session.scalars(
            select(SearchOutcome).where(
                SearchOutcome.member_id == member_id, SearchOutcome.id != found.id
            )
        ):
            old.superseded_by_id = found.id
    again = await cases.open_case(
        session, secretary, member_id, Outcome.RESTORE, date(2026, 11, 21)
    )
    await cases.record_step(
        session,
        secretary,
        again.disposition.id,
        Step.APPLICATION,
        date(2026, 11, 21),
        {"note": "本人来电要求恢复"},
        date(2026, 11, 21),
    )
    await cases.withdraw(
        session, secretary, again.disposition.id, "本人尚未回到本地", date(2026, 11, 22)
    )
    return ids, secretary, committee, member_id


@pytest.fixture
def zh():
    with build_i18n().context():
        yield


@both_backends
async def test_the_cards_dossier_shows_each_step_with_its_facts_R_DOSSIER(session, world, zh):
    """Every disposition event in the 档案 view: the outcome and step, the
    step's day, the votes, why the member did not sign, the 退回's reason, the
    文号, the appeal and its review, the withdrawal — and who (R-PROCEDURE)."""
    _ids, secretary, _committee, member_id = world
    page = await dossier(session, secretary, member_id, 0)
    events = [(e, who) for e, who in page.events if e.entity == "disposition"]
    assert page.total <= PAGE_SIZE
    lines = [(_describe(e, page.details.get(e.id)), who) for e, who in events]
    assert lines == [
        ("启动处置 停止党籍（2026-11-02）", "孙书记"),
        (
            "办理处置步骤 停止党籍·党员大会决议（2026-11-05）：到会20人，赞成18人，反对1人，"
            "弃权1人；本人未签字（本人无法取得联系）",
            "孙书记",
        ),
        ("退回 停止党籍·基层党委审批（2026-11-06）：原因：请补充调查核实材料", "韩组织"),
        (
            "办理处置步骤 停止党籍·党员大会决议（2026-11-08）：到会21人，赞成19人，反对1人，"
            "弃权1人；本人未签字（本人无法取得联系）",
            "孙书记",
        ),
        ("批准 停止党籍·基层党委审批（2026-11-10）", "韩组织"),
        (
            "办理处置步骤 停止党籍·报上一级党委组织部门备案（2026-11-12）：文号：示组〔2026〕3号",
            "韩组织",
        ),
        ("登记申诉 停止党籍（2026-11-15）：申诉内容：家属代为申诉：本人在外地务工", "孙书记"),
        ("记录复查结果 停止党籍（2026-11-20）：复查结果：维持原处置决定", "韩组织"),
        ("启动处置 恢复党籍（2026-11-21）", "孙书记"),
        ("办理处置步骤 恢复党籍·本人书面申请（2026-11-21）：情况说明：本人来电要求恢复", "孙书记"),
        ("撤回处置 恢复党籍（2026-11-22）：原因：本人尚未回到本地", "孙书记"),
    ]
    assert all("disposition:" not in line for line, _who in lines)


@both_backends
async def test_a_page_that_starts_inside_a_case_still_finds_each_events_facts(session, world, zh):
    """The facts of an event are found by its place among the case's events,
    also when the page starts in the middle of the case."""
    ids, secretary, committee, _member_id = world
    other = await _unreachable(session, secretary, ids["一支部"], 9)
    for k in range(PAGE_SIZE - 3):  # the case's first events end page 1
        await members.update_fields(session, secretary, other, {"remarks": f"备注{k}"})
    view = await cases.open_case(session, secretary, other, Outcome.SUSPEND, date(2026, 11, 2))
    d = view.disposition.id
    on = date(2026, 11, 5)
    await cases.record_step(session, secretary, d, Step.RESOLUTION, on, FIRST_VOTE, on)
    await cases.decide_step(
        session, committee, d, approve=False, expected=1, reason="票数有误", today=on
    )
    await cases.record_step(session, secretary, d, Step.RESOLUTION, on, SECOND_VOTE, on)
    first, second = [await dossier(session, secretary, other, p) for p in (0, 1)]
    assert (first.pages, [e.action for e, _who in second.events]) == (2, ["returned", "recorded"])
    assert [_describe(e, second.details.get(e.id)) for e, _who in second.events] == [
        "退回 停止党籍·基层党委审批（2026-11-05）：原因：票数有误",
        "办理处置步骤 停止党籍·党员大会决议（2026-11-05）：到会21人，赞成19人，反对1人，"
        "弃权1人；本人未签字（本人无法取得联系）",
    ]
    assert _describe(*[(e, first.details.get(e.id)) for e, _who in first.events][-1]) == (
        "办理处置步骤 停止党籍·党员大会决议（2026-11-05）：到会20人，赞成18人，反对1人，"
        "弃权1人；本人未签字（本人无法取得联系）"
    )


@both_backends
async def test_a_resolution_not_adopted_and_long_pages_split(session, world, zh):
    """党员大会未通过 is worded with its votes; a page whose facts are long is
    sent as several messages under Telegram's limit."""
    ids, secretary, _committee, _member_id = world
    other = await _unreachable(session, secretary, ids["一支部"], 8, member_type="预备")
    view = await cases.open_case(
        session, secretary, other, Outcome.CANCEL_PROBATION, date(2026, 11, 23)
    )
    await cases.record_step(
        session,
        secretary,
        view.disposition.id,
        Step.RESOLUTION,
        date(2026, 11, 24),
        NOT_ENOUGH,
        date(2026, 11, 24),
    )
    page = await dossier(session, secretary, other)
    last, _who = page.events[-1]
    assert _describe(last, page.details.get(last.id)) == (
        "党员大会未通过 取消预备党员资格·党员大会决议（2026-11-24）：到会20人，赞成8人，"
        "反对10人，弃权2人；本人已签字"
    )
    long = ["x" * 1500] * 6
    parts = _messages(["档案", *long])
    assert len(parts) > 1 and all(len(p) <= 4096 for p in parts)
    assert "\n".join(parts).count("x" * 1500) == 6


@both_backends
async def test_the_workbook_lists_every_case_step_decision_and_appeal_R_DOSSIER(session, world):
    """一人一档's 处置情况: each case's state above the table, then every event
    in order — day, outcome, step, what, facts, who."""
    _ids, secretary, _committee, member_id = world
    done = await exports.export_form(
        session,
        secretary,
        "dossier",
        member_id=member_id,
        today=TODAY,
        now=NOW,
        pocket_days=90,
        run=_inline,
    )
    book = CalamineWorkbook.from_filelike(io.BytesIO(done.content))
    assert book.sheet_names[-1] == "处置决定"
    sheet = book.get_sheet_by_index(4).to_python()
    assert str(sheet[0][0]).startswith("处置情况（")
    assert "1. 停止党籍：已办结（2026-11-10生效，至2028-11-10）" in sheet[2]
    assert "2. 恢复党籍：已撤回（2026-11-21启动）" in sheet[3]
    rows = [r[:7] for r in sheet if isinstance(r[0], int | float) and r[0]]
    assert [(r[1], r[2], r[3], r[4], r[6]) for r in rows] == [
        ("2026-11-02", "停止党籍", "", "启动处置", "孙书记"),
        ("2026-11-05", "停止党籍", "党员大会决议", "办理处置步骤", "孙书记"),
        ("2026-11-06", "停止党籍", "基层党委审批", "退回", "韩组织"),
        ("2026-11-08", "停止党籍", "党员大会决议", "办理处置步骤", "孙书记"),
        ("2026-11-10", "停止党籍", "基层党委审批", "批准", "韩组织"),
        ("2026-11-12", "停止党籍", "报上一级党委组织部门备案", "办理处置步骤", "韩组织"),
        ("2026-11-15", "停止党籍", "", "登记申诉", "孙书记"),
        ("2026-11-20", "停止党籍", "", "记录复查结果", "韩组织"),
        ("2026-11-21", "恢复党籍", "", "启动处置", "孙书记"),
        ("2026-11-21", "恢复党籍", "本人书面申请", "办理处置步骤", "孙书记"),
        ("2026-11-22", "恢复党籍", "", "撤回处置", "孙书记"),
    ]
    facts = [r[5] for r in rows]
    assert facts[1] == "到会20人，赞成18人，反对1人，弃权1人；本人未签字（本人无法取得联系）"
    assert facts[2] == "原因：请补充调查核实材料"
    assert facts[5] == "文号：示组〔2026〕3号"
    assert facts[6] == "申诉内容：家属代为申诉：本人在外地务工"
    assert facts[7] == "复查结果：维持原处置决定"
    assert facts[10] == "原因：本人尚未回到本地"
    # 全部记录: the audit events worded from the same table
    events = [r for r in book.get_sheet_by_index(3).to_python() if r and r[3] in ACTIONS.values()]
    summaries = [r[7] for r in events]
    assert "启动处置 停止党籍" in summaries
    assert "办理处置步骤 停止党籍·党员大会决议" in summaries
    assert "登记申诉 停止党籍（2026-11-15）" in summaries
