"""The one-member forms through the database and the export dispatcher, on
SQLite and PostgreSQL: the 党员基本信息表 (seed 001 附件1) and the 一人一档
(R-DOSSIER) read back with openpyxl and python-calamine — every attempt,
the corrected one marked, evidence counted, who recorded it by name, and
every audit event in order."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

from domain.family import Relative
from storage.db import write_tx
from storage.models import AuditEvent, User
from storage.services import exports, family, members, mobile, outcomes, search
from storage.services.access import AccessDenied, Actor, Grant, Role
from storage.services.form_data import member as collectors
from tests.conftest import both_backends
from tests.factories import member_values, org_tree, phone

NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
TODAY = date(2026, 12, 4)


async def _inline(job):  # type: ignore[no-untyped-def]
    return job.render(*job.args)


def calamine(data: bytes, index: int) -> list[list[object]]:
    return CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(index).to_python()


def numbered(rows: list[list[object]]) -> list[list[object]]:
    return [
        r for r in rows if isinstance(r[0], int | float) and not isinstance(r[0], bool) and r[0]
    ]


@pytest.fixture
async def world(session):
    ids = await org_tree(session, {"示例党委": ("一支部", "二支部")})
    async with write_tx(session):
        session.add(User(id=101, full_name="孙书记"))
        session.add(User(id=201, full_name="韩组织"))
    secretary = Actor(101, (Grant(Role.SECRETARY, ids["一支部"]),))
    person = await members.add_member(
        session,
        secretary,
        ids["一支部"],
        member_values(5, last_org_life=date(2025, 3, 10), phone=phone(5)),
    )
    await members.update_fields(session, secretary, person.id, {"marital_status": "已婚"})
    await family.add_relative(
        session, secretary, person.id, Relative("配偶", "钱示二", "某虚构公司", phone(6))
    )
    first = await search.log_attempt(
        session,
        secretary,
        person.id,
        channel="phone",
        result="not_reached",
        attempted_on=date(2026, 11, 2),
        today=TODAY,
    )
    await search.add_evidence(session, secretary, first.id, kind="photo", content=b"x" * 10)
    await search.add_evidence(session, secretary, first.id, kind="photo", content=b"y" * 10)
    await search.correct_attempt(session, secretary, first.id, today=TODAY, channel="sms")
    await search.log_attempt(
        session,
        secretary,
        person.id,
        channel="relative",
        result="reached",
        attempted_on=date(2026, 11, 10),
        today=TODAY,
        contact_person="钱示二",
        note="配偶转告，本人已回电",
    )
    await outcomes.record_found(
        session,
        secretary,
        person.id,
        {
            "decided_on": date(2026, 11, 10),
            "lost_reason": "6",
            "occupation": "3",
            "org_category": "7",
            "had_misconduct": False,
            "misconduct_check": "self",
            "attitude": "愿意接受组织管理",
        },
        today=TODAY,
    )
    await mobile.register_mobile(
        session,
        secretary,
        person.id,
        {"direction": "4", "reason": "J", "destination": "某省某市", "certificate_no": "LD-9"},
        today=TODAY,
    )
    return ids, secretary, person.id


async def _export(session, actor, form, member_id):  # type: ignore[no-untyped-def]
    return await exports.export_form(
        session,
        actor,
        form,
        member_id=member_id,
        today=TODAY,
        now=NOW,
        pocket_days=90,
        run=_inline,
    )


@both_backends
async def test_member_info_from_the_record_seed_001_attachment_1(session, world):
    _ids, secretary, member_id = world
    done = await _export(session, secretary, "member_info", member_id)
    assert done.filename.endswith(f"_一支部_{member_values(5)['name']}_党员基本信息表.xlsx")
    rows = calamine(done.content, 0)
    assert rows[0][0] == "党员基本信息表"
    flat = [c for r in rows for c in r]
    assert flat[flat.index("姓名") + 1] == member_values(5)["name"]
    assert flat[flat.index("婚姻状况") + 1] == "已婚"
    assert flat[flat.index("外出流向") + 1] == "跨省流动"
    assert flat[flat.index("流动党员活动证编号") + 1] == "LD-9"
    head = next(k for k, r in enumerate(rows) if r[0] == "称谓")
    assert rows[head + 1][:2] == ["配偶", "钱示二"]
    ws = load_workbook(io.BytesIO(done.content)).active
    assert ws.oddFooter.right.text.startswith("孙书记 2026-12-04")


@both_backends
async def test_dossier_every_attempt_outcome_and_event_R_DOSSIER(session, world):
    ids, secretary, member_id = world
    staff = Actor(201, (Grant(Role.COMMITTEE, ids["示例党委"]),))
    await _export(session, secretary, "member_info", member_id)  # an earlier export: an event too
    done = await _export(session, staff, "dossier", member_id)
    book = CalamineWorkbook.from_filelike(io.BytesIO(done.content))
    assert book.sheet_names == ["基本信息", "查找记录", "查找结果", "全部记录", "处置决定"]
    assert load_workbook(io.BytesIO(done.content)).sheetnames == book.sheet_names

    for attempts in (
        numbered(calamine(done.content, 1)),
        numbered(
            [
                list(r)
                for r in load_workbook(io.BytesIO(done.content))["查找记录"].iter_rows(
                    values_only=True
                )
            ]
        ),
    ):
        assert len(attempts) == 3  # the corrected attempt stays
        old, new, reached = attempts
        assert (old[1], old[3], old[7], old[8]) == ("2026-11-02", "打电话", 2, "孙书记")
        assert old[10] == "已更正（见第2条）"
        assert (new[3], new[10]) == ("发短信", "更正第1条")
        assert reached[3:7] == ["亲属", "钱示二", "取得联系", "配偶转告，本人已回电"]
        assert reached[9].startswith("2026-")
    lost = calamine(done.content, 1)[2]
    assert lost[0] == "与党组织失去联系时间：1年8个月" and "⑥居住地改变" in lost[6]

    (found,) = numbered(calamine(done.content, 2))
    assert found[1:5] == ["经查找取得联系", "2026-11-10", "⑥居住地改变", "③农村外出务工经商人员"]
    assert found[6] == "无" and found[9] == "愿意接受组织管理" and found[12] == "孙书记"

    events = numbered(calamine(done.content, 3))
    what = [e[3] for e in events]
    assert what[:2] == ["登记入册", "修改"]
    assert what.index("查找") < what.index("上传凭证") < what.index("更正查找记录")
    assert what.index("经查找取得联系") < what.index("登记为流动党员") < what.index("导出")
    assert [e[1] for e in events] == sorted(e[1] for e in events)
    assert {e[2] for e in events} == {"孙书记"}
    assert "更正查找记录 查找方式：打电话 → 发短信" in [e[7] for e in events]
    assert events[1][4:7] == ["婚姻状况", "", "已婚"]
    cases = calamine(done.content, 4)  # 处置情况: none yet (see test_dossier_dispositions)
    assert str(cases[0][0]).startswith("处置情况（") and "暂无" in [c for r in cases for c in r]


@both_backends
async def test_dossier_names_an_unknown_user_by_id_and_the_system_as_such(session, world):
    """Who = the user's full name; a user without one by their id (as the export
    stamp does); an event with no actor is the system's."""
    ids, secretary, member_id = world
    stranger = Actor(555, (Grant(Role.SECRETARY, ids["一支部"]),))
    await members.update_fields(session, stranger, member_id, {"ethnicity": "汉族"})
    async with write_tx(session):
        session.add(
            AuditEvent(
                entity="member",
                action="update",
                field="degree",
                new_value="学士",
                member_id=member_id,
            )
        )
    done = await _export(session, secretary, "dossier", member_id)
    events = numbered(calamine(done.content, 3))
    assert [e[2] for e in events[-2:]] == ["用户555", "系统"]


@both_backends
async def test_another_branchs_member_is_refused_R_ACL_BRANCH(session, world):
    ids, _secretary, member_id = world
    stranger = Actor(102, (Grant(Role.SECRETARY, ids["二支部"]),))
    with pytest.raises(AccessDenied):
        await _export(session, stranger, "dossier", member_id)
    assert set(collectors.COLLECTORS) == {"member_info", "dossier"}
