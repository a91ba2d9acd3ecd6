"""The registers through the database (SQLite and PostgreSQL): the collectors
of storage/services/form_data/registers.py behind ``exports.export_form``,
the workbook read back with openpyxl and python-calamine.

One invented committee with two branches:
- 甲 一支部: lost; an unreachable outcome later superseded by a found one; an
  attempt by phone corrected into an SMS (the phone row superseded).
- 乙 一支部: 经查找仍然无法取得联系, 党组织类别 ⑦ (社会组织 on 附件6).
- 丙 二支部: a mobile member in force (外出流动 / 流出).
- 丁 二支部: registered mobile but declared unreachable (a 口袋 mark): 失联, so not on 附件4.
- 戊 一支部: a 口袋 member (介绍信 2026-01-05, no 回执), asked the receiver once.
- 己 二支部: moved the relation during the campaign (Y of seed 003 附件2).
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook
from sqlalchemy import func, insert, select

from domain.errors import DataCheckFailed
from storage.db import write_tx
from storage.models import (
    ContactAttempt,
    Member,
    MobileRecord,
    Organisation,
    SearchOutcome,
    User,
)
from storage.services import search
from storage.services.access import Actor, Grant, Role
from storage.services.form_data import BranchRef, ExportContext
from storage.services.form_data.registers import COLLECTORS
from storage.services.roster_import import import_roster
from tests.conftest import both_backends
from tests.factories import member_values

TODAY = date(2026, 12, 4)
NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
CLERK = 77


def _member(i: int, branch_id: int, **kw: object) -> Member:
    values = member_values(i, **kw)
    return Member(branch_id=branch_id, **values)


@pytest.fixture
async def world(session):
    async with write_tx(session):
        session.add(User(id=CLERK, full_name="测试记录员"))
        committee = Organisation(name="测试党委", kind="committee")
        session.add(committee)
        await session.flush()
        one = Organisation(name="一支部", kind="branch", parent_id=committee.id)
        two = Organisation(name="二支部", kind="branch", parent_id=committee.id)
        session.add_all([one, two])
        await session.flush()
        old = date(2025, 3, 10)
        people = {
            "甲": _member(1, one.id, name="甲测试", last_org_life=old),
            "乙": _member(2, one.id, name="乙测试", last_dues=old),
            "丙": _member(3, two.id, name="丙测试", last_org_life=date(2026, 9, 1)),
            "丁": _member(4, two.id, name="丁测试", last_org_life=old),
            "戊": _member(
                5,
                one.id,
                name="戊测试",
                transfer_letter_date=date(2026, 1, 5),
                transfer_receiver="示范街道党工委",
            ),
            "己": _member(6, two.id, name="己测试", last_org_life=date(2026, 9, 1)),
        }
        session.add_all(people.values())
        await session.flush()
        ids = {k: m.id for k, m in people.items()}

        phone = ContactAttempt(
            member_id=ids["甲"], channel="phone", channel_group=1, result="not_reached",
            attempted_on=date(2026, 11, 2), recorded_by=CLERK,
        )  # fmt: skip
        session.add(phone)
        await session.flush()
        sms = ContactAttempt(
            member_id=ids["甲"], channel="sms", channel_group=1, result="not_reached",
            attempted_on=date(2026, 11, 2), recorded_by=CLERK, replaces_id=phone.id,
        )  # fmt: skip
        session.add(sms)
        await session.flush()
        phone.superseded_by_id = sms.id
        session.add_all(
            [
                ContactAttempt(
                    member_id=ids["甲"], channel="relative", channel_group=2, result="lead",
                    attempted_on=date(2026, 11, 6), contact_person="吴示例", recorded_by=CLERK,
                ),
                ContactAttempt(
                    member_id=ids["乙"], channel="police", channel_group=5,
                    result="not_reached", attempted_on=date(2026, 11, 8), recorded_by=CLERK,
                ),
                ContactAttempt(
                    member_id=ids["戊"], channel="receiver", channel_group=4,
                    result="not_reached", attempted_on=date(2026, 11, 9), recorded_by=CLERK,
                ),
            ]
        )  # fmt: skip
        common = {"lost_reason": "1", "occupation": "3", "recorded_by": CLERK}
        first = SearchOutcome(
            member_id=ids["甲"], kind="unreachable", decided_on=date(2026, 11, 10),
            org_category="8", **common,
        )  # fmt: skip
        session.add(first)
        await session.flush()
        found = SearchOutcome(
            member_id=ids["甲"], kind="found", decided_on=date(2026, 11, 20), org_category="7",
            had_misconduct=False, misconduct_check="letter", **common,
        )  # fmt: skip
        session.add(found)
        await session.flush()
        first.superseded_by_id = found.id
        session.add_all(
            [
                SearchOutcome(
                    member_id=ids["乙"], kind="unreachable", decided_on=date(2026, 11, 21),
                    org_category="7", lost_reason="7", lost_reason_note="随子女迁居",
                    occupation="8", recorded_by=CLERK,
                ),
                SearchOutcome(
                    member_id=ids["丁"], kind="unreachable", decided_on=date(2026, 11, 22),
                    org_category="1", lost_reason="1", occupation="3", recorded_by=CLERK,
                    is_pocket=True,
                ),
            ]
        )  # fmt: skip
        mobile = {
            "registered_on": date(2026, 11, 1), "left_on": date(2026, 3, 1), "region": "W",
            "direction": "3", "reason": "K", "occupation": "4", "work_unit": "示范工程公司",
            "unit_has_org": False, "org_type": "5", "destination": "示范省示范市示范县",
            "reported_branch":
            "示范社区党支部", "reported_contact": "冯示例", "reported_post": "书记",
            "recorded_by": CLERK,
        }  # fmt: skip
        session.add_all(
            [
                MobileRecord(member_id=ids["丙"], **mobile),
                MobileRecord(member_id=ids["丁"], **mobile),
                MobileRecord(member_id=ids["己"], transferred_in_campaign=True, **mobile),
            ]
        )
    actor = Actor(CLERK, (Grant(Role.COMMITTEE, committee.id), Grant(Role.SECRETARY, one.id)))
    return actor, {"委": committee.id, "一": one.id, "二": two.id}, ids


async def _export(session, actor, key: str, org_id: int) -> bytes:  # type: ignore[no-untyped-def]
    """As ``exports.export_form`` calls the collector (access already checked):
    a committee's export covers its branches by name; the job runs inline."""
    org = await session.get(Organisation, org_id)
    is_committee = org.kind == "committee"
    branches = (
        list(
            await session.scalars(
                select(Organisation)
                .where(Organisation.parent_id == org.id)
                .order_by(Organisation.name, Organisation.id)
            )
        )
        if is_committee
        else [org]
    )
    ctx = ExportContext(
        actor=actor,
        org_id=org.id,
        org_name=org.name,
        is_committee=is_committee,
        branches=tuple(BranchRef(b.id, b.name) for b in branches),
        campaign=None,
        today=TODAY,
        pocket_days=90,
        stamp=f"测试记录员 {NOW:%Y-%m-%d %H:%M} 导出",
    )
    job = await COLLECTORS[key](session, ctx)
    await session.commit()
    return job.render(*job.args)


def _cells(data: bytes, index: int = 0) -> list[list[object]]:
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return book.get_sheet_by_index(index).to_python()


def _names(cells: list[list[object]], column: int) -> set[str]:
    return {str(row[column]) for row in cells if row and str(row[column]).endswith("测试")}


@both_backends
async def test_found_and_unreachable_registers_seed_001_attachments_5_and_6(session, world):
    """A member whose unreachable outcome was superseded by a found one is on
    附件5 only; 附件6 writes 社会组织 as ⑦ and the ⑦ reason in 备注."""
    actor, orgs, _ = world
    found = _cells(await _export(session, actor, "found_register", orgs["委"]))
    unreachable = _cells(await _export(session, actor, "unreachable_register", orgs["委"]))
    assert found[0][0] == "经查找取得联系党员登记表" and found[1][0] == "党组织名称：测试党委"
    assert _names(found, 2) == {"甲测试"}
    assert _names(unreachable, 2) == {"乙测试", "丁测试"}
    row = next(r for r in unreachable if r[2] == "乙测试")
    assert row[1] == "一支部" and row[10] == "⑦" and row[11] == "⑦" and "随子女迁居" in row[-1]
    assert row[8] == "1年8个月又11天"  # 2025-03-10 → 2026-11-21
    丁 = next(r for r in unreachable if r[2] == "丁测试")
    assert 丁[-1] == "“口袋”党员" and row[-1] == "失去联系情形：随子女迁居"  # note 7
    甲 = next(r for r in found if r[2] == "甲测试")
    assert 甲[11] == "⑦" and 甲[12] == "2026-11-20" and 甲[13] == "无" and 甲[14] == "函询"
    branch = _cells(await _export(session, actor, "unreachable_register", orgs["一"]))
    assert branch[1][0] == "党支部名称：一支部" and _names(branch, 1) == {"乙测试"}
    sheet = load_workbook(io.BytesIO(await _export(session, actor, "found_register", orgs["一"])))
    assert "M3:O3" in {str(m) for m in sheet.active.merged_cells.ranges}


@both_backends
async def test_lost_time_spans_the_loss_after_the_member_is_back_in_organisation_life(
    session, world
):
    """附件5 note 3: from the last 组织生活/党费 before the search ended to its end,
    though the member has since attended a meeting (the old date from the audit)."""
    actor, orgs, ids = world
    await search.record_meeting(
        session,
        actor,
        orgs["一"],
        kind="both",
        held_on=date(2026, 11, 25),
        member_ids=[ids["甲"]],
        today=TODAY,
    )
    found = _cells(await _export(session, actor, "found_register", orgs["一"]))
    甲 = next(r for r in found if r[1] == "甲测试")
    assert 甲[7] == "1年8个月又10天"  # 2025-03-10 → 2026-11-20


@both_backends
async def test_outcome_register_with_missing_codes_is_refused(session, world):
    actor, orgs, ids = world
    async with write_tx(session):
        outcome = await session.scalar(
            select(SearchOutcome).where(SearchOutcome.member_id == ids["丁"])
        )
        outcome.lost_reason = None
    with pytest.raises(DataCheckFailed) as failed:
        await _export(session, actor, "unreachable_register", orgs["委"])
    assert failed.value.problems == ("1名党员的失去联系情形未填写：丁测试，请先在其卡片中补全。",)


@both_backends
async def test_attempt_log_shows_the_correction_not_the_superseded_attempt(session, world):
    """附件3: every member with attempts, each attempt once; a corrected
    attempt appears as its replacement (R-DOSSIER keeps the old row)."""
    actor, orgs, _ = world
    cells = _cells(await _export(session, actor, "attempt_log", orgs["一"]))
    assert cells[0][0] == "查找联系失联党员情况记录表"
    body = cells[4:]
    assert [r[1] for r in body if r[1] and str(r[1]).endswith("测试")] == [
        "甲测试",
        "乙测试",
        "戊测试",
    ]
    channels = [r[5] for r in body if r[4]]
    assert "发短信" in channels and "打电话" not in channels
    甲 = body[0]
    assert 甲[2] == "1年8个月又10天"  # to the contact date of the outcome in force
    assert 甲[3] == "外出务工经商" and 甲[9] == "测试记录员" and "函询" in 甲[10]
    assert body[1][5] == "亲属" and body[1][6] == "吴示例" and body[1][1] == ""


@both_backends
async def test_mobile_register_excludes_lost_members_seed_001_attachment_4_note_6(session, world):
    actor, orgs, _ = world
    cells = _cells(await _export(session, actor, "mobile_register", orgs["委"]))
    assert cells[0][0] == "外出流动党员登记表"
    assert _names(cells, 2) == {"丙测试"}  # 丁 is unreachable, 己 moved the relation
    row = next(r for r in cells if r[2] == "丙测试")
    heads = [str(c) for c in cells[2]]
    assert row[heads.index("职业")] == "④" and row[heads.index("外出流向")] == "③"
    assert row[heads.index("党组织类型")] == "⑤"  # 非公企业, as recorded (附件4 note 5)


@both_backends
async def test_pocket_register_R_POCKET(session, world):
    actor, orgs, _ = world
    cells = _cells(await _export(session, actor, "pocket_register", orgs["一"]))
    assert cells[0][0] == "“口袋”党员登记表"
    rows = [r for r in cells if r[1] == "戊测试"]
    assert len(rows) == 1
    戊 = rows[0]
    assert 戊[7] == "2026-01-05" and 戊[8] == "示范街道党工委"
    assert 戊[9] == (TODAY - date(2026, 1, 5)).days - 90
    assert 戊[10] == "已查找1次，最近一次2026-11-09"


@both_backends
async def test_outflow_register_seed_003_attachment_1_one_sheet_per_branch(session, world):
    actor, orgs, _ = world
    data = await _export(session, actor, "outflow_register", orgs["委"])
    assert load_workbook(io.BytesIO(data)).sheetnames == ["一支部", "二支部"]
    assert _names(_cells(data, 0), 1) == set()
    second = _cells(data, 1)
    assert second[2][0] == "党支部名称：二支部"
    assert _names(second, 1) == {"丙测试", "丁测试"}  # 己 moved the relation (Y)
    丙 = next(r for r in second if r[1] == "丙测试")
    assert 丙[9] == "示范工程公司" and 丙[10] == "否" and 丙[13] == "在工程、建筑行业务工"
    assert 丙[15] == "冯示例 书记"


@both_backends
async def test_roster_export_imports_back_unchanged(session, world):
    """党员名册 (seed 001 附件2): the branch's export, uploaded again, changes nothing."""
    actor, orgs, _ = world
    data = await _export(session, actor, "roster", orgs["一"])
    cells = _cells(data)
    assert cells[0][0] == "党员名册" and _names(cells, 0) == {"甲测试", "乙测试", "戊测试"}
    before = await session.scalar(select(func.count()).select_from(Member))
    result = await import_roster(session, actor, orgs["一"], data, today=TODAY)
    assert not result.errors
    assert await session.scalar(select(func.count()).select_from(Member)) == before
    committee = load_workbook(io.BytesIO(await _export(session, actor, "roster", orgs["委"])))
    assert committee.sheetnames == ["一支部", "二支部"]


@both_backends
async def test_roster_streams_every_member_past_one_batch(session, world):
    """党员名册 for a large committee: rows come in keyset pages per branch;
    every member lands once, on their branch's sheet, in the order added."""
    actor, orgs, _ = world
    extra = 5_100
    async with write_tx(session):
        await session.execute(
            insert(Member),
            [
                {
                    **member_values(100 + i, id_number=f"9{i:017d}"),
                    "name": f"批量{i}",
                    "branch_id": orgs["一"] if i % 3 else orgs["二"],
                }
                for i in range(extra)
            ],
        )
    data = await _export(session, actor, "roster", orgs["委"])
    one, two = _cells(data, 0), _cells(data, 1)
    bulk_one = [r[0] for r in one if str(r[0]).startswith("批量")]
    bulk_two = [r[0] for r in two if str(r[0]).startswith("批量")]
    assert len(bulk_one) + len(bulk_two) == extra
    assert bulk_two[:3] == ["批量0", "批量3", "批量6"]
    assert len(_names(one, 0)) == 3 and len(_names(two, 0)) == 3
