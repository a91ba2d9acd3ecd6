"""/summary through the emulator (issue 15 item 6): a secretary reads their
branch at a glance; committee staff get the per-branch table in <pre> and a
PNG chart drawn in a CJK font (or the line saying none is installed); a
forged tap for another committee's campaign is refused (R-ACL-BRANCH). The
clock is the fixture's: 2026-11-25."""

from __future__ import annotations

from datetime import date

from handlers.summary import SummaryAct
from reports.chart import cjk_font
from storage.db import write_tx
from storage.models import ContactAttempt, SearchOutcome
from storage.services import campaigns
from storage.services.access import Actor, Grant, Role
from tests.e2e.test_search import _set

PNG = b"\x89PNG\r\n\x1a\n"


async def _campaign(world) -> int:
    committee = world.orgs["示例党委"]
    async with world.app.sessionmaker() as s:
        campaign = await campaigns.create_campaign(
            s,
            Actor(201, (Grant(Role.COMMITTEE, committee),)),
            committee,
            template="mobile_2023",
            name="流动党员排查",
            year=2026,
        )
        return campaign.id


async def _scene(world) -> None:
    """一支部: one in contact, one lost and searched, one reached; 二支部: one lost."""
    ones = await world.members("一支部", 3)
    (two,) = await world.members("二支部", 1, start=3)
    await _set(world, ones[0], last_org_life=date(2026, 11, 1))
    await _set(world, ones[1], last_org_life=date(2025, 1, 10))
    await _set(world, ones[2], last_org_life=date(2025, 2, 1))
    await _set(world, two, last_dues=date(2025, 3, 1))
    async with world.app.sessionmaker() as s, write_tx(s):
        s.add(
            ContactAttempt(
                member_id=ones[1],
                channel="phone",
                channel_group=1,
                result="not_reached",
                attempted_on=date(2026, 11, 20),
            )
        )
        s.add(SearchOutcome(member_id=ones[2], kind="found", decided_on=date(2026, 11, 21)))
    await _campaign(world)


async def test_a_secretary_sees_the_branch_at_a_glance(branch_world):
    await _scene(branch_world)
    sec = branch_world.user(101)
    await sec.send("/summary")
    shown = await sec.reply()
    text = shown.text
    assert "一支部" in text and "2026年11月25日" in text
    assert "党员3人：正常2 · 失联1 · 流动0 · 口袋0 · 待完善0" in text
    assert "失联党员查找（共2人）：取得联系1 · 仍无法取得联系0 · 查找中1 · 未开始查找0" in text
    assert "流动党员排查：已核查0/3人" in text
    assert "12月15日（还有20天）报告工作情况 已报送0/3项" in text
    assert "二支部" not in text


async def test_committee_staff_get_the_table_and_the_chart(branch_world):
    await _scene(branch_world)
    staff = branch_world.user(201)
    await staff.send("/summary")
    table = await staff.reply()
    assert "<pre>" in (table.raw_text or "")
    rows = {line.split()[0]: line.split()[1:] for line in table.text.splitlines() if line}
    # 在册 已核查 失联 取得联系 仍无法联系 已处置
    assert rows["一支部"] == ["3", "0", "2", "1", "0", "0"]  # no disposition done yet
    assert rows["二支部"] == ["1", "0", "1", "0", "0", "0"]
    assert rows["合计"] == ["4", "0", "3", "1", "0", "0"]
    assert "已处置：处置已办结的人数" in table.text
    chart = await staff.reply(timeout=60)  # the worker process starts on first use
    if cjk_font() is None:
        assert "未安装中文字体（如 fonts-wqy-microhei），图表略" in chart.text
        return
    assert chart.photo is not None, chart
    assert chart.photo.data.startswith(PNG) and len(chart.photo.data) > 5_000
    assert "流动党员排查 各党支部进展" in chart.text


async def test_a_forged_tap_for_another_committee_is_refused_R_ACL_BRANCH(branch_world):
    await _scene(branch_world)
    await branch_world.org("别的党委", "committee")
    await branch_world.org("远支部", "branch", "别的党委")
    await branch_world.grant(401, Role.COMMITTEE, "别的党委")
    campaign_id = await _campaign(branch_world)
    other = branch_world.user(401)
    await other.send("/summary")
    (nothing,) = await other.wait_idle()
    assert "目前没有进行中的排查" in nothing.text  # 别的党委 has no campaign
    callback_id = await other.press_data(SummaryAct(campaign_id=campaign_id).pack(), nothing)
    answer = await other.callback_answer(callback_id)
    assert answer.text == "无权限" and answer.show_alert
    assert await other.wait_idle() == []  # no figure of 示例党委 leaves


async def test_whoever_holds_several_taps_one_first(branch_world):
    await _scene(branch_world)
    await branch_world.grant(201, Role.SECRETARY, "二支部")
    staff = branch_world.user(201)
    await staff.send("/summary")
    menu = await staff.reply()
    assert menu.button_texts == ["🏛 流动党员排查（全党委）", "二支部"]
    await staff.press("二支部")
    branch = await staff.reply()
    assert "二支部" in branch.text and "党员1人：正常0 · 失联1" in branch.text
    await staff.press("🏛 流动党员排查（全党委）", menu)
    table = await staff.reply()
    assert "合计" in table.text
    await staff.wait_idle(timeout=60)
