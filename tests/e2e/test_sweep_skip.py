"""下一位 ⏭ in /sweep (R-SWEEP): the walk moves on past the shown member
without answering for them, and the progress line still counts them as open.
Pins the button since “go” and “skip” share one handler (handlers/sweep.py)."""

from __future__ import annotations

from tests.e2e.test_sweep import _campaign, _clean_and_lost


async def test_next_skips_the_shown_member_without_answering_R_SWEEP(branch_world):
    await _clean_and_lost(branch_world)
    await _campaign(branch_world)
    sec = branch_world.user(101)
    await sec.send("/sweep")
    first = await sec.reply()
    assert "赵测一" in first.text and "进度：已核查0/2人" in first.text
    await sec.press("下一位")
    second = await sec.reply()
    assert "钱测一" in second.text and "已核查0/2人" in second.text
