"""/recheck, the 回头看 of seed 002 (厦委组〔2017〕4号), end to end: committee
staff see the decisions of their branches that would not pass — a suspension
on a search that was not exhausted (R-EXHAUSTED) or on a thin record — with
what is missing and a button to the case; a well-founded one is not listed;
a secretary cannot use it."""

from __future__ import annotations

from datetime import date

from domain.channels import AttemptResult, Channel, ChannelGroup
from domain.dispositions import Outcome, Step
from storage.db import write_tx
from storage.models import ContactAttempt, Member, SearchOutcome
from storage.services import dispositions as cases
from storage.services.access import load_actor
from tests.e2e.conftest import World

RESOLUTION = {
    "present": 20,
    "votes_for": 18,
    "votes_against": 1,
    "votes_abstain": 1,
    "signed": False,
    "unsigned_reason": "本人无法取得联系",
}
# One channel of each group a search must cover (not a pocket member).
EXHAUSTING = (Channel.PHONE, Channel.RELATIVE, Channel.HOTLINE, Channel.POLICE)


async def _suspended(world: World, start: int, channels: tuple[Channel, ...]) -> int:
    """A member of 一支部 searched through ``channels``, declared unreachable
    and suspended by the branch and the committee through the service."""
    [member_id] = await world.members("一支部", 1, start=start)
    assert world.app is not None
    async with world.app.sessionmaker() as s, write_tx(s):
        member = await s.get(Member, member_id)
        assert member is not None
        member.last_org_life = date(2024, 10, 1)
        for i, channel in enumerate(channels):
            s.add(
                ContactAttempt(
                    member_id=member_id,
                    channel=channel.value,
                    channel_group=channel.group.value,
                    result=AttemptResult.NOT_REACHED.value,
                    attempted_on=date(2026, 10, 1 + i),
                    recorded_by=101,
                )
            )
        s.add(
            SearchOutcome(
                member_id=member_id,
                kind="unreachable",
                decided_on=date(2026, 11, 1),
                recorded_by=101,
            )
        )
    today = date(2026, 11, 25)
    async with world.app.sessionmaker() as s:
        secretary, committee = await load_actor(s, 101), await load_actor(s, 201)
        view = await cases.open_case(s, secretary, member_id, Outcome.SUSPEND, today)
        d = view.disposition.id
        await cases.record_step(
            s, secretary, d, Step.RESOLUTION, date(2026, 11, 10), RESOLUTION, today
        )
        await cases.decide_step(
            s, committee, d, approve=True, expected=1, reason="", today=date(2026, 11, 20)
        )
        await cases.record_step(
            s,
            committee,
            d,
            Step.UPPER_FILING,
            date(2026, 11, 24),
            {"document_no": "示组〔2026〕3号"},
            today,
        )
    return member_id


async def test_recheck_lists_a_suspension_on_a_thin_unexhausted_search_R_EXHAUSTED(branch_world):
    thin = await _suspended(branch_world, 0, (Channel.PHONE,))
    sound = await _suspended(branch_world, 1, EXHAUSTING)
    assert branch_world.app is not None
    async with branch_world.app.sessionmaker() as s:
        names = {m: (await s.get(Member, m)).name for m in (thin, sound)}  # type: ignore[union-attr]

    committee = branch_world.user(201)
    await committee.send("/recheck")
    [answer] = await committee.wait_idle()
    assert "回头看" in answer.text and "1件" in answer.text
    assert names[thin] in answer.text and names[sound] not in answer.text
    assert "查找未穷尽" in answer.text and "记录单薄" in answer.text
    for group in (ChannelGroup.INFORMANTS, ChannelGroup.HOTLINE_OR_ORIGIN):
        assert group.label in answer.text

    await committee.press(answer.button_texts[0], answer)
    [case] = await committee.wait_idle()
    assert names[thin] in case.text and "停止党籍" in case.text and "已办结" in case.text
    assert "满2年" in case.text


async def test_a_secretary_cannot_recheck(branch_world):
    await _suspended(branch_world, 0, (Channel.PHONE,))
    secretary = branch_world.user(101)
    await secretary.send("/recheck")
    replies = await secretary.wait_idle()
    assert replies and all("回头看" not in m.text for m in replies)
