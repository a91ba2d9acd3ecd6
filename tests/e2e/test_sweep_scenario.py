"""The first sweep from start to finish, through the chat only (issue “The first
sweep”, the end-to-end proof; SPEC §2a):

1. committee staff start a campaign with /campaign (template, name, branches);
2. the secretary fills /template with 30 invented members — clean, incomplete,
   lost (R-LOST-6M) and pocket (R-POCKET) — and sends it back;
3. the secretary walks /sweep to the end: a clean member in one tap (≤ 3,
   counted), the others check by check; the walk resumes at the same member
   after a restart (R-SWEEP);
4. the working group reviews the branch: 核查完成 refused while the sweep is
   open, a send-back reaches the secretary, 核查完成 accepted at the end; the
   answers, review marks and audit events are stored with who and when
   (R-DOSSIER).
"""

from __future__ import annotations

import functools
import re
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

import bot.runner
from bot.sender import Sender
from emulator import ChatUser
from emulator.models import BotMessage
from storage.models import (
    AuditEvent,
    BranchReview,
    Campaign,
    CampaignBranch,
    Member,
    SweepAnswer,
)
from tests.e2e.test_roster_upload import _fill, _template
from tests.factories import member_values, phone

CAMPAIGN = "2026年党员组织关系集中排查"
RECEIVER = "示例市某某区某某公司党委"  # invented
MEMBERS = 30
SEND_BACK = "请补齐联系电话等待完善信息，口袋党员尽快与接收单位联系"
PROBLEM_NOTES = {
    "lost": "超过6个月未参加组织生活、未交纳党费，按失联党员查找",
    "pocket": "介绍信开出后一直未收到回执",
}
# How the secretary answers each kind of member: button labels in order; a ✘
# is followed by its note.
PLAN = {
    "clean": ["全部符合"],
    "incomplete": ["1 待完善", "2 ✔", "3 ✔", "4 ✔", "5 ✔"],
    "lost": ["1 ✔", "2 ✔", "3 ✘", "4 ✔", "5 ✔"],
    "pocket": ["1 ✔", "2 ✔", "3 ✔", "4 ✘", "5 ✔"],
}
# What the bot must say about each kind before anyone answers (its own findings).
FINDING = {
    "incomplete": "“联系电话”未填写",
    "lost": "超过6个月未与党组织联系",
    "pocket": "为“口袋”党员",
}
Stored = dict[str, list[Any]]  # rows read back after the scenario, by table
PROGRESS = re.compile(r"已核查(\d+)/(\d+)人 · 待完善(\d+)项 · 发现问题(\d+)项")


@pytest.fixture(autouse=True)
def _unthrottled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk sends ~115 messages into one chat; the sender's per-chat bucket
    (Telegram's ~1 a second after a burst of 20) would make this test wait about
    a minute and a half for nothing it checks. As bench/log_attempts.py does, the
    bot gets a sender without that wait — for every start, the restart included."""
    unlimited = functools.partial(Sender, global_rate=10_000, chat_rate=10_000, chat_burst=10_000)
    monkeypatch.setattr(bot.runner, "Sender", unlimited)


# ---- 2. the roster: 30 invented members ------------------------------------


def _kind(i: int) -> str:
    """Mixed through the register so the walk meets every kind early and late."""
    return {0: "clean", 1: "incomplete", 2: "clean", 3: "lost", 4: "pocket"}[i % 5]


def _row(i: int, kind: str) -> dict[str, object]:
    complete: dict[str, object] = {
        "ethnicity": "汉族",
        "education": "大专",
        "phone": phone(100 + i),
        "last_org_life": "2026-11-05",
        "last_dues": "2026-11-05",
    }
    if kind == "incomplete":
        complete["phone"] = None
        if i % 10 == 6:
            complete["ethnicity"] = None
    elif kind == "lost":  # last contact before May 2026: over six months (R-LOST-6M)
        complete |= {"last_org_life": "2026-03-15", "last_dues": "2026-04-20"}
    elif kind == "pocket":  # letter 147 days ago, no 回执 (R-POCKET, 90 days)
        complete |= {
            # Six months without organisation life, dues paid: mobile-looking, but
            # a transferred relation is not a mobile member (SPEC §3).
            "last_org_life": "2026-05-20",
            "last_dues": "2026-10-20",
            "transfer_letter_date": "2026-07-01",
            "transfer_receiver": RECEIVER,
        }
    return member_values(i, **complete)


def _roster() -> tuple[list[dict[str, object]], dict[str, str]]:
    """The rows to type into the template, and each member's kind by name."""
    rows = [_row(i, _kind(i)) for i in range(MEMBERS)]
    return rows, {str(row["name"]): _kind(i) for i, row in enumerate(rows)}


async def _import(sec: ChatUser, rows: list[dict[str, object]]) -> BotMessage:
    await sec.upload("党员名册.xlsx", _fill(await _template(sec), rows))
    while True:  # “正在读取…”, maybe progress edits, then the result
        message = await sec.reply(timeout=20)
        if message.text.startswith(("✅", "❌")):
            return message


# ---- 1. the campaign, started with the real buttons ------------------------


async def _start_campaign(staff: ChatUser) -> None:
    await staff.send("/campaign")
    await staff.reply()
    await staff.press("新建排查")
    await staff.reply()
    await staff.press("流动党员 2023（2026）")
    await staff.reply()
    await staff.send(CAMPAIGN)
    picker = await staff.reply()
    assert "已选2/2个党支部" in picker.text  # every branch ticked by default
    await staff.press("确定")
    created, detail = await staff.replies(2)
    assert f"已创建：{CAMPAIGN}" in created.text
    assert "范围：2个党支部" in detail.text and "一支部、二支部" in detail.text


# ---- 3. the walk -----------------------------------------------------------


def _progress(view: BotMessage) -> tuple[int, int, int, int]:
    found = PROGRESS.search(view.text)
    assert found, view.text
    checked, total, pending, problems = map(int, found.groups())
    return checked, total, pending, problems


def _member(view: BotMessage, kinds: dict[str, str]) -> str:
    """The member a sweep view is about: the line “姓名（性别）”, under the
    progress line when there is one."""
    [name] = [n for n in kinds for line in view.text.split("\n")[:2] if line.startswith(n + "（")]
    return name


async def _tap(sec: ChatUser, label: str, kind: str) -> BotMessage:
    """One answer; returns the view the bot shows next."""
    await sec.press(label)
    if label == "全部符合":
        cleared, following = await sec.replies(2)
        assert cleared.edited and not cleared.buttons  # the answered view is closed
        return following
    if "✘" in label:
        assert "有什么问题" in (await sec.reply()).text
        await sec.send(PROBLEM_NOTES[kind])
    return await sec.reply()


async def _refused_while_open(staff: ChatUser, open_members: int) -> None:
    """The working group cannot mark 核查完成 before every member is checked."""
    await staff.send("/review")
    overview = await staff.reply()
    assert f"⏳ 一支部 · {MEMBERS - open_members}/{MEMBERS}" in overview.text
    await staff.press("一支部")
    await staff.reply()
    answer = await staff.callback_answer(await staff.press("核查完成"))
    assert answer.text == f"该支部还有{open_members}名党员没有完成五核查，暂不能标记核查完成。"


async def _walk(world, sec: ChatUser, staff: ChatUser, kinds: dict[str, str]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """/sweep to the end; returns the taps each member took. Once half the
    branch is checked, the bot restarts in the middle of a member's checks."""
    await sec.send("/sweep")
    view = await sec.reply()
    taps: dict[str, int] = {}
    restarted = False
    while "已核查完毕" not in view.text:
        name = _member(view, kinds)
        kind = kinds[name]
        assert name not in taps, f"{name} shown again after all five checks"
        checked = _progress(view)[0]
        assert ("全部符合" in " ".join(view.button_texts)) == (kind == "clean"), view.text
        if kind in FINDING:
            assert FINDING[kind] in view.text, view.text
        if kind == "pocket":  # relation transferred out: not a mobile member (SPEC §3)
            assert "可能是流动党员" not in view.text, view.text
        if kind == "incomplete":  # one tap to the missing field itself
            assert "✏️ 联系电话" in view.button_texts
        taps[name] = 0
        for step, label in enumerate(PLAN[kind]):
            view = await _tap(sec, label, kind)
            taps[name] += 1
            if step == 0 and len(PLAN[kind]) > 1 and checked >= MEMBERS // 2 and not restarted:
                restarted = True
                view = await _resumes_after_restart(world, sec, view, name)
                await _refused_while_open(staff, MEMBERS - checked)
        assert _progress(view)[0] == checked + 1, view.text
    assert restarted
    return taps


async def _resumes_after_restart(world, sec: ChatUser, before: BotMessage, name: str) -> BotMessage:  # type: ignore[no-untyped-def]
    """R-SWEEP: the answers are in the database, so /sweep after a restart
    shows the member that was on screen, as it was."""
    assert _member(before, {name: ""}) == name
    await world.restart()
    await sec.send("/sweep")
    resumed = await sec.reply()
    # The same message as before the restart: progress line, marks, findings.
    assert PROGRESS.search(resumed.text.split("\n")[0])
    assert resumed.text == before.text
    assert resumed.button_texts == before.button_texts
    return resumed


# ---- 4. the committee's review ---------------------------------------------


async def _open_branch(staff: ChatUser) -> str:
    await staff.send("/review")
    overview = (await staff.reply()).text
    await staff.press("一支部")
    await staff.reply()
    return overview


async def _stored(world) -> Stored:  # type: ignore[no-untyped-def]
    async with world.app.sessionmaker() as s:
        return {
            "campaigns": (await s.scalars(select(Campaign))).all(),
            "scope": (await s.scalars(select(CampaignBranch))).all(),
            "members": (await s.scalars(select(Member).order_by(Member.name))).all(),
            "answers": (await s.scalars(select(SweepAnswer))).all(),
            "reviews": (await s.scalars(select(BranchReview).order_by(BranchReview.id))).all(),
            "events": (await s.scalars(select(AuditEvent).order_by(AuditEvent.id))).all(),
        }


def _campaign_and_register_stored(stored: Stored, kinds: dict[str, str], one: int) -> int:
    [campaign] = stored["campaigns"]
    assert campaign.name == CAMPAIGN and len(stored["scope"]) == 2
    members = stored["members"]
    assert len(members) == MEMBERS and {m.branch_id for m in members} == {one}
    pocket = [m for m in members if kinds[m.name] == "pocket"]
    assert {
        (m.transfer_letter_date, m.transfer_receiver, m.transfer_receipt_date) for m in pocket
    } == {(date(2026, 7, 1), RECEIVER, None)}
    return int(campaign.id)


def _answers_stored(stored: Stored, kinds: dict[str, str], campaign_id: int) -> None:
    """Five standing answers per member, all by the secretary, each with its
    audit event on the member (the dossier reads those)."""
    answers = stored["answers"]
    assert len(answers) == MEMBERS * 5 and all(a.superseded_by_id is None for a in answers)
    assert {(a.answered_by, a.campaign_id) for a in answers} == {(101, campaign_id)}
    names = {m.id: m.name for m in stored["members"]}
    by_kind: dict[tuple[str, int], set[tuple[str, str | None]]] = {}
    for a in answers:
        by_kind.setdefault((kinds[names[a.member_id]], a.check_no), set()).add((a.answer, a.note))
    assert by_kind[("incomplete", 1)] == {("pending", None)}
    assert by_kind[("lost", 3)] == {("problem", PROBLEM_NOTES["lost"])}
    assert by_kind[("pocket", 4)] == {("problem", PROBLEM_NOTES["pocket"])}
    assert by_kind[("clean", 2)] == by_kind[("clean", 5)] == {("ok", None)}
    events = [e for e in stored["events"] if e.entity == "sweep"]
    assert sorted(e.entity_id for e in events) == sorted(a.id for a in answers)
    assert {(e.member_id, e.field) for e in events} == {
        (a.member_id, str(a.check_no)) for a in answers
    }
    assert all(e.actor_id == 101 and e.at for e in events)


def _review_trail_stored(stored: Stored, campaign_id: int, one: int) -> None:
    """The send-back and the 核查完成, each a BranchReview row and an audit event;
    the refused 核查完成 left nothing behind."""
    reviews = stored["reviews"]
    assert [(r.kind, r.text, r.reviewed_by, r.branch_id) for r in reviews] == [
        ("returned", SEND_BACK, 201, one),
        ("complete", None, 201, one),
    ]
    assert all(r.campaign_id == campaign_id and r.created_at for r in reviews)
    events = [e for e in stored["events"] if e.entity == "review"]
    assert [(e.action, e.actor_id, e.org_id, e.entity_id) for e in events] == [
        ("returned", 201, one, reviews[0].id),
        ("complete", 201, one, reviews[1].id),
    ]
    assert all(e.at for e in events)


# ---- the scenario ------------------------------------------------------------


async def test_campaign_roster_sweep_and_review_end_to_end_R_SWEEP_R_DOSSIER(branch_world):
    staff, sec = branch_world.user(201), branch_world.user(101)
    one = branch_world.orgs["一支部"]

    # 1. The committee starts the campaign.
    await _start_campaign(staff)

    # 2. The secretary imports the branch's register from the template.
    rows, kinds = _roster()
    imported = await _import(sec, rows)
    assert "导入完成：新增30人，更新0人，未变0人" in imported.text

    # 3. The secretary walks the sweep to the end, restarting halfway.
    taps = await _walk(branch_world, sec, staff, kinds)
    assert set(taps) == set(kinds)  # every member shown, each once through
    clean_taps = {taps[n] for n, k in kinds.items() if k == "clean"}
    assert max(clean_taps) <= 3 and clean_taps == {1}
    done = sec.last
    assert done is not None and "✅ 本支部全部党员已核查完毕" in done.text
    assert _progress(done) == (30, 30, 6, 12)  # 6 incomplete 待完善, 6 lost + 6 pocket ✘

    # 4. The working group sends the branch back, then marks it reviewed.
    overview = await _open_branch(staff)
    assert "☑️ 一支部 · 30/30 · 6 · 12" in overview
    await staff.press("退回整改")
    assert "支部书记会收到通知" in (await staff.reply()).text
    await staff.send(SEND_BACK)
    saved, after_return = await staff.replies(2)
    assert saved.text == "已记录。" and "↩️ 一支部 · 30/30 · 6 · 12" in after_return.text
    notice = await sec.reply()
    assert f"↩️ 党委核查退回整改：{SEND_BACK}" in notice.text and "/todo" in notice.text
    await sec.send("/todo")
    assert f"{CAMPAIGN} · 待办18项" in (await sec.reply()).text  # 待完善 and ✘ stay listed

    await _open_branch(staff)
    pressed = await staff.press("核查完成")
    saved, final = await staff.replies(2)
    assert not (await staff.callback_answer(pressed)).show_alert
    assert saved.text == "已记录。" and "✅ 一支部 · 30/30 · 6 · 12" in final.text

    # What is stored (R-DOSSIER): who answered and reviewed, and when.
    stored = await _stored(branch_world)
    campaign_id = _campaign_and_register_stored(stored, kinds, one)
    _answers_stored(stored, kinds, campaign_id)
    _review_trail_stored(stored, campaign_id, one)
