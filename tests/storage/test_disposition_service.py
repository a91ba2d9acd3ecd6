"""Settling a case through the service, on a real database (SPEC §5, seed 002):
each outcome's refusal in words, R-PROCEDURE's order and who may do each step,
a decision taken once, the clocks stored on the disposition (R-SUSPEND-2Y,
R-DEADLINE-CORRECT, R-PROBATION, R-ABROAD-RETAIN), withdrawing, appeals,
/pending, the 回头看 (R-EXHAUSTED) and the dossier (R-DOSSIER)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from domain.dispositions import PLANS, Outcome, Side, Status, Step
from domain.errors import InvalidInput
from storage.db import write_tx
from storage.models import (
    AuditEvent,
    ContactAttempt,
    Disposition,
    DispositionAppeal,
    DispositionEvent,
    Member,
    RoleGrant,
    SearchOutcome,
    User,
)
from storage.services import dispositions as cases
from storage.services import members, outcomes, search
from storage.services.access import AccessDenied, Actor, Grant, Role
from tests.conftest import both_backends
from tests.factories import member_values, org_tree

TODAY = date(2026, 11, 25)
SEARCH_ENDED = date(2024, 3, 1)
VOTES = {"present": 20, "votes_for": 18, "votes_against": 1, "votes_abstain": 1, "signed": True}
FAILED = {"present": 20, "votes_for": 10, "votes_against": 9, "votes_abstain": 1, "signed": True}

# What each step records (R-PROCEDURE); extra keys are kept and ignored.
FACTS: dict[Step, dict[str, object]] = {
    Step.VERIFY: {"material": "与本人谈话记录", "opinion": "拟予处置", "ground": "1"},
    Step.TALK: {"note": "已谈话教育，本人愿意参加组织生活"},
    Step.BRANCH_COMMITTEE: {"opinion": "同意纳入正常管理"},
    Step.APPLICATION: {"note": "本人书面申请"},
    Step.UPPER_PRE_REVIEW: {"document_no": "示组预〔2026〕1号"},
    Step.RESOLUTION: VOTES,
    Step.UPPER_APPROVAL: {"document_no": "示组批〔2026〕2号"},
    Step.UPPER_FILING: {"document_no": "示组备〔2026〕3号"},
    Step.EDUCATION: {"measures": "结对帮扶，继续关心帮助"},  # notified on the day
    Step.END_REVIEW: {"corrected": True},
    Step.RECORD: {"receiver": "示例市某区某党委", "length": "1y"},
    Step.REFERRAL: {"referred_to": "区纪委"},
}


@pytest.fixture
async def world(session):
    """示例党委 over 一支部 and 二支部, and 他党委 over 三支部: a secretary of each
    of the first two branches, two committee users of 示例党委 (王组织, 赵组织)
    and one of 他党委 — all with names the bot knows and grants in force."""
    ids = await org_tree(session, {"示例党委": ("一支部", "二支部"), "他党委": ("三支部",)})
    people = {
        101: ("李书记", Role.SECRETARY, ids["一支部"]),
        102: ("周书记", Role.SECRETARY, ids["二支部"]),
        201: ("王组织", Role.COMMITTEE, ids["示例党委"]),
        202: ("赵组织", Role.COMMITTEE, ids["示例党委"]),
        301: ("钱组织", Role.COMMITTEE, ids["他党委"]),
    }
    async with write_tx(session):
        for uid, (name, _role, _org) in people.items():
            session.add(User(id=uid, full_name=name))
        await session.flush()
        for uid, (_name, role, org) in people.items():
            session.add(RoleGrant(user_id=uid, role=role.value, org_id=org))
    actors = {uid: Actor(uid, (Grant(role, org),)) for uid, (_n, role, org) in people.items()}
    return World(ids, actors)


class World:
    def __init__(self, ids: dict[str, int], actors: dict[int, Actor]) -> None:
        self.ids = ids
        self.sec, self.sec2 = actors[101], actors[102]
        self.com, self.com2, self.stranger = actors[201], actors[202], actors[301]
        self._n = 0

    def by_side(self, side: Side) -> Actor:
        return self.sec if side is Side.BRANCH else self.com

    async def member(self, session, *, probationary: bool = False, branch: str = "一支部") -> int:
        self._n += 1
        values = member_values(self._n, last_org_life=date(2023, 6, 1))
        if probationary:
            values["member_type"] = "预备"
        actor = self.sec if branch == "一支部" else self.sec2
        return (await members.add_member(session, actor, self.ids[branch], values)).id

    async def reached(
        self,
        session,
        member_id: int,
        actor: Actor | None = None,
        on: date = SEARCH_ENDED,
        *,
        abroad: bool = False,
    ) -> None:
        """经查找取得联系 (附件5) on ``on``; lost by going abroad (出国（境）) with ``abroad``."""
        found = {
            "decided_on": on,
            "lost_reason": "5" if abroad else "1",
            "occupation": "3",
            "org_category": "3",
            "had_misconduct": False,
            "misconduct_check": "self",
            "attitude": "愿意改正",
            "is_pocket": False,
        }
        await outcomes.record_found(session, actor or self.sec, member_id, found, today=on)

    async def unreachable(self, session, member_id: int) -> None:
        """经查找仍然无法取得联系, on a search that tried groups 1, 2, 3 and 5
        (R-EXHAUSTED) with four attempts."""
        for channel in ("phone", "relative", "hotline", "police"):
            await search.log_attempt(
                session,
                self.sec,
                member_id,
                channel=channel,
                result="not_reached",
                attempted_on=date(2024, 2, 1),
                today=SEARCH_ENDED,
            )
        values = {
            "decided_on": SEARCH_ENDED,
            "lost_reason": "6",
            "occupation": "8",
            "org_category": "8",
            "is_pocket": False,
        }
        await outcomes.record_unreachable(session, self.sec, member_id, values, today=SEARCH_ENDED)


async def _walk(
    session,
    w: World,
    case_id: int,
    day: date,
    *,
    until: Step | None = None,
    facts: dict[Step, dict[str, object]] | None = None,
) -> cases.CaseView:
    """Do each next step on ``day`` (the branch's by its secretary, the
    committee's by 王组织; a decision is 批准), until ``until`` is next."""
    view = await cases.case(session, w.sec, case_id)
    while view.standing.next is not None and view.standing.next.step is not until:
        rule = view.standing.next
        if rule.decision:
            view = await cases.decide_step(
                session,
                w.com,
                case_id,
                approve=True,
                expected=view.standing.position,
                reason="",
                today=day,
            )
        else:
            given = {**FACTS.get(rule.step, {}), **(facts or {}).get(rule.step, {})}
            if rule.step is Step.EDUCATION:
                given.setdefault("notified_on", day)
            view = await cases.record_step(
                session, w.by_side(rule.side), case_id, rule.step, day, given, day
            )
    return view


async def _open(session, w: World, member_id: int, outcome: Outcome, day: date = TODAY) -> int:
    return (await cases.open_case(session, w.sec, member_id, outcome, day)).disposition.id


async def _suspended(session, w: World, on: date) -> int:
    """A member suspended (停止党籍) by the committee's approval on ``on``."""
    member_id = await w.member(session)
    await w.unreachable(session, member_id)
    case_id = await _open(session, w, member_id, Outcome.SUSPEND, on)
    await _walk(session, w, case_id, on)
    return member_id


async def _refusals(session, w: World, member_id: int, day: date = TODAY) -> dict[Outcome, str]:
    """outcome → the refusal in words ('' when it may be opened)."""
    found = await cases.options(session, w.sec, member_id, day)
    return {o: (r.render() if r is not None else "") for o, r in found}


async def _rows(session, case_id: int) -> list[tuple]:
    rows = await session.scalars(
        select(DispositionEvent)
        .where(DispositionEvent.disposition_id == case_id)
        .order_by(DispositionEvent.seq)
    )
    return [(r.id, r.seq, r.kind, r.step, r.on, r.by, dict(r.facts or {})) for r in rows]


async def _count(session, model) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


# ---- every outcome's refusal, in words (SPEC §5) -----------------------------------------------


@both_backends
async def test_suspension_is_refused_for_a_reached_member_R_SUSPEND_2Y(session, world):
    member_id = await world.member(session)
    await world.reached(session, member_id)
    refused = await _refusals(session, world, member_id)
    assert "已经取得联系的党员不能停止党籍" in refused[Outcome.SUSPEND]
    assert refused[Outcome.NORMAL] == "" and refused[Outcome.CORRECT] == ""
    with pytest.raises(InvalidInput, match="停止党籍只适用于经查找仍然无法取得联系的党员"):
        await cases.open_case(session, world.sec, member_id, Outcome.SUSPEND, TODAY)
    assert await _count(session, Disposition) == 0


@both_backends
async def test_only_a_member_settled_abroad_may_be_suspended_once_reached_seed_002_section_4(
    session, world
):
    """重新取得联系的出国（境）定居的正式党员 (seed 002 §四): the record's 出国原因
    must be 定居; abroad to study is not enough (the notice wins over a looser
    reading of 出国（境）)."""
    member_id = await world.member(session)
    await world.reached(session, member_id, abroad=True)
    studying = (await _refusals(session, world, member_id))[Outcome.SUSPEND]
    assert "出国原因选为“定居”" in studying
    settle = update(Member).where(Member.id == member_id)
    await session.execute(settle.values(abroad_date="2023-05", abroad_reason="定居"))
    await session.commit()
    assert (await _refusals(session, world, member_id))[Outcome.SUSPEND] == ""
    await session.execute(settle.values(return_date="2026-01"))  # back: not 定居 abroad
    await session.commit()
    assert "定居" in (await _refusals(session, world, member_id))[Outcome.SUSPEND]


@both_backends
async def test_cancelling_probation_is_refused_for_a_full_member_R_PROBATION(session, world):
    full = await world.member(session)
    await world.reached(session, full)
    refused = await _refusals(session, world, full)
    for outcome in (Outcome.CANCEL_PROBATION, Outcome.EXTEND_PROBATION):
        assert "这名党员是正式党员" in refused[outcome]
        with pytest.raises(InvalidInput, match="只适用于预备党员"):
            await cases.open_case(session, world.sec, full, outcome, TODAY)
    probationary = await world.member(session, probationary=True)
    await world.unreachable(session, probationary)
    refused = await _refusals(session, world, probationary)
    assert refused[Outcome.CANCEL_PROBATION] == ""
    assert "应取消预备党员资格，而不是停止党籍" in refused[Outcome.SUSPEND]


@both_backends
async def test_lapse_is_refused_before_two_years_of_suspension_R_SUSPEND_2Y(session, world):
    approved = date(2024, 4, 10)
    member_id = await _suspended(session, world, approved)
    ends = date(2026, 4, 10)
    day_before = await _refusals(session, world, member_id, ends - timedelta(days=1))
    assert day_before[Outcome.LAPSE] == "停止党籍还不满2年（2026-04-10满2年），不能按自行脱党除名。"
    with pytest.raises(InvalidInput, match="还不满2年"):
        await cases.open_case(session, world.sec, member_id, Outcome.LAPSE, ends - timedelta(1))
    on_the_day = await _refusals(session, world, member_id, ends)
    assert on_the_day[Outcome.LAPSE] == ""
    # Nothing else is open to a suspended member but restoring (R-SUSPEND-2Y).
    assert "只能恢复党籍" in on_the_day[Outcome.NORMAL]
    # A member who was never suspended cannot lapse at all.
    other = await world.member(session)
    await world.unreachable(session, other)
    assert "只有被停止党籍满2年" in (await _refusals(session, world, other))[Outcome.LAPSE]


@both_backends
async def test_lapse_is_refused_for_a_suspended_member_reached_since_R_SUSPEND_2Y(session, world):
    """停止党籍2年后**确实无法取得联系的** (seed 002 §四): one the search reached
    after the suspension is not removed as 自行脱党."""
    member_id = await _suspended(session, world, date(2024, 4, 10))
    await world.reached(session, member_id, on=date(2025, 6, 1))
    refused = await _refusals(session, world, member_id, date(2026, 5, 1))
    assert "仍无法取得联系的党员" in refused[Outcome.LAPSE]


@both_backends
async def test_no_disposition_while_the_search_is_not_closed(session, world):
    member_id = await world.member(session)
    refused = await _refusals(session, world, member_id)
    for outcome in Outcome:
        if outcome in (Outcome.RESTORE, Outcome.LAPSE):
            assert "只有被停止党籍" in refused[outcome]
        else:
            assert "查找还没有结束" in refused[outcome], outcome
    for outcome in (Outcome.CORRECT, Outcome.PERSUADE, Outcome.REMOVE, Outcome.SUSPEND):
        with pytest.raises(InvalidInput, match="请先在卡片上“结束查找”"):
            await cases.open_case(session, world.sec, member_id, outcome, TODAY)


@both_backends
async def test_one_case_in_procedure_at_a_time_but_a_referral_may_overlap(session, world):
    member_id = await world.member(session)
    await world.reached(session, member_id)
    await _open(session, world, member_id, Outcome.CORRECT)
    refused = await _refusals(session, world, member_id)
    assert refused[Outcome.DISCIPLINE] == ""  # 纪律处分 runs beside 组织处置
    for outcome in (Outcome.NORMAL, Outcome.PERSUADE, Outcome.REMOVE, Outcome.TRANSFER):
        assert refused[outcome] == "这名党员的“限期改正”正在办理：请先办完或撤回。"
    with pytest.raises(InvalidInput, match="正在办理"):
        await cases.open_case(session, world.sec, member_id, Outcome.REMOVE, TODAY)
    referral = await _open(session, world, member_id, Outcome.DISCIPLINE)
    assert (await _walk(session, world, referral, TODAY)).standing.status is Status.DONE
    # The referral open or done never blocks the sanction, nor the sanction it.
    assert (await _refusals(session, world, member_id))[Outcome.DISCIPLINE] == ""


@both_backends
async def test_nothing_is_settled_after_removal(session, world):
    member_id = await world.member(session)
    await world.reached(session, member_id)
    removal = await _open(session, world, member_id, Outcome.REMOVE)
    assert (await _walk(session, world, removal, TODAY)).standing.status is Status.DONE
    refused = await _refusals(session, world, member_id)
    for outcome in Outcome:
        assert refused[outcome] == "这名党员已按“除名”办结，不再是党员，不能再处置。"
    with pytest.raises(InvalidInput, match="不再是党员"):
        await cases.open_case(session, world.sec, member_id, Outcome.DISCIPLINE, TODAY)


# ---- R-PROCEDURE: 限期改正, 劝退, 除名 ----------------------------------------------------------

SANCTIONS = pytest.mark.parametrize(
    "outcome", [Outcome.CORRECT, Outcome.PERSUADE, Outcome.REMOVE], ids=lambda o: o.value
)
CORRECT_FACTS = {Step.RESOLUTION: {**VOTES, "deadline": TODAY + timedelta(days=90)}}


async def _sanction(session, w: World, outcome: Outcome) -> int:
    member_id = await w.member(session)
    await w.reached(session, member_id)
    return await _open(session, w, member_id, outcome)


@SANCTIONS
async def test_a_step_before_the_one_it_depends_on_is_refused_R_PROCEDURE(session, world, outcome):
    case_id = await _sanction(session, world, outcome)
    with pytest.raises(InvalidInput, match="现在应办理“核实情况”，不能先办“党员大会决议”"):
        await cases.record_step(session, world.sec, case_id, Step.RESOLUTION, TODAY, VOTES, TODAY)
    await _walk(session, world, case_id, TODAY, until=Step.PRE_REVIEW)
    with pytest.raises(InvalidInput, match="现在应办理“基层党委预审”"):
        await cases.record_step(session, world.sec, case_id, Step.RESOLUTION, TODAY, VOTES, TODAY)
    await _walk(session, world, case_id, TODAY, until=Step.EDUCATION, facts=CORRECT_FACTS)
    with pytest.raises(InvalidInput, match="现在应办理“教育帮扶”"):
        await cases.record_step(
            session, world.sec, case_id, Step.END_REVIEW, TODAY, {"corrected": True}, TODAY
        )
    view = await cases.case(session, world.sec, case_id)  # a refusal rolled back: read again
    expected = [r.step.value for r in PLANS[outcome]]
    assert [e.step for e in view.events] == expected[: view.standing.position]


@SANCTIONS
async def test_the_branch_cannot_approve_R_PROCEDURE(session, world, outcome):
    case_id = await _sanction(session, world, outcome)
    await _walk(session, world, case_id, TODAY, until=Step.PRE_REVIEW)
    with pytest.raises(AccessDenied):
        await cases.decide_step(
            session, world.sec, case_id, approve=True, expected=1, reason="", today=TODAY
        )
    with pytest.raises(InvalidInput, match="“基层党委预审”不由您这一方办理"):
        await cases.record_step(session, world.sec, case_id, Step.PRE_REVIEW, TODAY, {}, TODAY)
    if outcome is not Outcome.CORRECT:  # the upper department's pre-review: the committee's
        await _walk(session, world, case_id, TODAY, until=Step.UPPER_PRE_REVIEW)
        with pytest.raises(InvalidInput, match="不由您这一方办理"):
            await cases.record_step(
                session,
                world.sec,
                case_id,
                Step.UPPER_PRE_REVIEW,
                TODAY,
                FACTS[Step.UPPER_PRE_REVIEW],
                TODAY,
            )
    view = await _walk(session, world, case_id, TODAY, until=Step.APPROVAL, facts=CORRECT_FACTS)
    with pytest.raises(AccessDenied):
        await cases.decide_step(
            session,
            world.sec,
            case_id,
            approve=True,
            expected=view.standing.position,
            reason="",
            today=TODAY,
        )
    view = await cases.case(session, world.sec, case_id)
    assert view.standing.next is not None and view.standing.next.step is Step.APPROVAL
    assert all(e.by == world.com.user_id for e in view.events if e.kind == "approved")


@SANCTIONS
async def test_committee_staff_of_another_committee_cannot_act_R_PROCEDURE_R_ACL_BRANCH(
    session, world, outcome
):
    case_id = await _sanction(session, world, outcome)
    await _walk(session, world, case_id, TODAY, until=Step.PRE_REVIEW)
    for attempt in (
        cases.decide_step(
            session, world.stranger, case_id, approve=True, expected=1, reason="", today=TODAY
        ),
        cases.record_step(session, world.stranger, case_id, Step.PRE_REVIEW, TODAY, {}, TODAY),
        cases.case(session, world.stranger, case_id),
        cases.withdraw(session, world.stranger, case_id, "不是本党委的", TODAY),
    ):
        with pytest.raises(AccessDenied):
            await attempt
    assert len(await _rows(session, case_id)) == 1
    assert await cases.pending(session, world.stranger, TODAY) == []


@SANCTIONS
async def test_a_meeting_that_does_not_pass_it_leaves_it_not_adopted_R_PROCEDURE(
    session, world, outcome
):
    case_id = await _sanction(session, world, outcome)
    view = await _walk(session, world, case_id, TODAY, until=Step.RESOLUTION)
    member_id = view.member.id
    failed = {**FAILED, "deadline": TODAY + timedelta(days=90)}
    view = await cases.record_step(
        session, world.sec, case_id, Step.RESOLUTION, TODAY, failed, TODAY
    )
    assert view.standing.status is Status.NOT_ADOPTED and view.standing.next is None
    assert (view.events[-1].kind, view.events[-1].step) == ("not_adopted", "resolution")
    assert view.disposition.status == "not_adopted" and view.disposition.effective_on is None
    with pytest.raises(InvalidInput, match="已经办结"):
        await cases.record_step(session, world.sec, case_id, Step.RESOLUTION, TODAY, VOTES, TODAY)
    with pytest.raises(InvalidInput, match="失效"):
        await cases.decide_step(
            session,
            world.com,
            case_id,
            approve=True,
            expected=view.standing.position,
            reason="",
            today=TODAY,
        )
    # Not adopted is not in procedure: the branch may propose again.
    refused = await _refusals(session, world, member_id)
    assert refused[outcome] == ""


@SANCTIONS
async def test_the_five_steps_recorded_in_order_with_who_and_when_R_PROCEDURE(
    session, world, outcome
):
    case_id = await _sanction(session, world, outcome)
    view = await _walk(session, world, case_id, TODAY, facts=CORRECT_FACTS, until=Step.END_REVIEW)
    if outcome is Outcome.CORRECT:
        view = await _walk(session, world, case_id, TODAY + timedelta(days=90))
    assert view.standing.status is Status.DONE
    plan = PLANS[outcome]
    assert [(e.seq, e.step) for e in view.events] == [
        (i, r.step.value) for i, r in enumerate(plan, 1)
    ]
    for event, rule in zip(view.events, plan, strict=True):
        assert event.kind == ("approved" if rule.decision else "recorded")
        assert event.by == world.by_side(rule.side).user_id
    assert view.disposition.effective_on == TODAY


# ---- who approves, as SPEC §5's table says -----------------------------------------------------

# outcome → the steps the committee does (批准 marked True), in order; the rest
# is the branch's. 基层党委 approves 纳入正常管理, 延长预备期, 取消预备党员资格,
# 限期改正; the 上级党委组织部门 approves 劝退/除名 (recorded by committee staff);
# 退党 is the 党员大会's, filed with the 基层党委; transfers need nobody.
APPROVER = {
    Outcome.NORMAL: [(Step.APPROVAL, True)],
    Outcome.TRANSFER: [],
    Outcome.REISSUE: [],
    Outcome.RETAIN_ABROAD: [],
    Outcome.EXTEND_PROBATION: [(Step.APPROVAL, True)],
    Outcome.CANCEL_PROBATION: [(Step.APPROVAL, True)],
    Outcome.CORRECT: [(Step.PRE_REVIEW, True), (Step.APPROVAL, True)],
    Outcome.PERSUADE: [
        (Step.PRE_REVIEW, True),
        (Step.UPPER_PRE_REVIEW, False),
        (Step.APPROVAL, True),
        (Step.UPPER_APPROVAL, False),
    ],
    Outcome.REMOVE: [
        (Step.PRE_REVIEW, True),
        (Step.UPPER_PRE_REVIEW, False),
        (Step.APPROVAL, True),
        (Step.UPPER_APPROVAL, False),
    ],
    Outcome.WITHDRAW: [(Step.COMMITTEE_FILING, False)],
    Outcome.DISCIPLINE: [],
    Outcome.SUSPEND: [(Step.APPROVAL, True), (Step.UPPER_FILING, False)],
    Outcome.RESTORE: [(Step.APPROVAL, True), (Step.UPPER_APPROVAL, False)],
    Outcome.LAPSE: [(Step.APPROVAL, True), (Step.UPPER_FILING, False)],
}


async def _ready(session, w: World, outcome: Outcome) -> tuple[int, date]:
    """A member for whom ``outcome`` may be opened, and the day to open it."""
    if outcome is Outcome.RESTORE:  # suspended, then in contact again (seed 002 §四)
        member_id = await _suspended(session, w, date(2025, 1, 10))
        await w.reached(session, member_id)
        return member_id, TODAY
    if outcome is Outcome.LAPSE:
        return await _suspended(session, w, date(2024, 4, 10)), TODAY
    probationary = outcome in (Outcome.EXTEND_PROBATION, Outcome.CANCEL_PROBATION)
    member_id = await w.member(session, probationary=probationary)
    if outcome is Outcome.SUSPEND:
        await w.unreachable(session, member_id)
    else:
        await w.reached(session, member_id, abroad=outcome is Outcome.RETAIN_ABROAD)
    return member_id, TODAY


@pytest.mark.parametrize("outcome", list(Outcome), ids=lambda o: o.value)
async def test_the_approver_follows_the_table_of_SPEC_5_R_PROCEDURE(session, world, outcome):
    member_id, day = await _ready(session, world, outcome)
    case_id = await _open(session, world, member_id, outcome, day)
    facts = {
        Step.RESOLUTION: {
            **VOTES,
            **({"months": 6} if outcome is Outcome.EXTEND_PROBATION else {}),
            **({"deadline": day + timedelta(days=30)} if outcome is Outcome.CORRECT else {}),
        }
    }
    committee: list[tuple[Step, bool]] = []
    view = await cases.case(session, world.sec, case_id)
    while (rule := view.standing.next) is not None:
        if rule.step is Step.END_REVIEW:
            day += timedelta(days=30)
        if rule.side is Side.COMMITTEE:
            committee.append((rule.step, rule.decision))
            # The branch can never do the committee's part.
            with pytest.raises((AccessDenied, InvalidInput)):
                if rule.decision:
                    await cases.decide_step(
                        session,
                        world.sec,
                        case_id,
                        approve=True,
                        expected=view.standing.position,
                        reason="",
                        today=day,
                    )
                else:
                    given = {**FACTS.get(rule.step, {})}
                    await cases.record_step(session, world.sec, case_id, rule.step, day, given, day)
            if rule.decision:
                assert await cases.approvers(session, case_id) == [201, 202]
        view = await _walk(
            session, world, case_id, day, facts=facts, until=_after(outcome, rule.step)
        )
    assert committee == APPROVER[outcome]
    assert view.standing.status is Status.DONE
    for event in view.events:
        side = next(r.side for r in PLANS[outcome] if r.step.value == event.step)
        assert event.by == world.by_side(side).user_id


def _after(outcome: Outcome, step: Step) -> Step | None:
    steps = [r.step for r in PLANS[outcome]]
    i = steps.index(step)
    return steps[i + 1] if i + 1 < len(steps) else None


# ---- a decision is taken once ------------------------------------------------------------------


@both_backends
async def test_a_decision_is_taken_once_the_second_answer_names_who_decided(session, world):
    member_id = await world.member(session)
    await world.unreachable(session, member_id)
    case_id = await _open(session, world, member_id, Outcome.SUSPEND)
    await cases.record_step(session, world.sec, case_id, Step.RESOLUTION, TODAY, VOTES, TODAY)
    await cases.decide_step(
        session, world.com, case_id, approve=True, expected=1, reason="", today=TODAY
    )
    before = await _rows(session, case_id)
    with pytest.raises(InvalidInput) as late:
        await cases.decide_step(
            session, world.com2, case_id, approve=False, expected=1, reason="票数不对", today=TODAY
        )
    assert late.value.render() == f"这一步已由王组织于{TODAY.isoformat()}批准，按钮已失效。"
    with pytest.raises(InvalidInput, match="王组织"):  # the same button, pressed again
        await cases.decide_step(
            session, world.com, case_id, approve=True, expected=1, reason="", today=TODAY
        )
    assert await _rows(session, case_id) == before
    assert [k for _i, _s, k, *_ in before].count("approved") == 1


@both_backends
async def test_a_returned_decision_goes_back_and_a_replay_names_who_returned_it(session, world):
    member_id = await world.member(session)
    await world.unreachable(session, member_id)
    case_id = await _open(session, world, member_id, Outcome.SUSPEND)
    await cases.record_step(session, world.sec, case_id, Step.RESOLUTION, TODAY, VOTES, TODAY)
    with pytest.raises(InvalidInput, match="退回请写明原因"):
        await cases.decide_step(
            session, world.com2, case_id, approve=False, expected=1, reason=" ", today=TODAY
        )
    view = await cases.decide_step(
        session, world.com2, case_id, approve=False, expected=1, reason="签字情况不清", today=TODAY
    )
    assert view.standing.next.step is Step.RESOLUTION and view.standing.position == 0
    assert view.events[-1].facts == {"reason": "签字情况不清"}
    with pytest.raises(InvalidInput, match=r"已由赵组织于.*退回"):
        await cases.decide_step(
            session, world.com, case_id, approve=True, expected=1, reason="", today=TODAY
        )


# ---- the clocks, stored on the disposition -----------------------------------------------------


@both_backends
async def test_suspension_ends_two_years_after_its_approval_R_SUSPEND_2Y(session, world):
    member_id = await world.member(session)
    await world.unreachable(session, member_id)
    resolved, approved = date(2024, 2, 26), date(2024, 2, 29)
    case_id = await _open(session, world, member_id, Outcome.SUSPEND, resolved)
    view = await _walk(session, world, case_id, resolved, until=Step.APPROVAL)
    assert view.disposition.effective_on is None and view.disposition.ends_on is None
    view = await _walk(session, world, case_id, approved, until=Step.UPPER_FILING)
    # In force from the approval, still in procedure until filed upward.
    assert view.standing.status is Status.IN_PROGRESS
    assert (view.disposition.effective_on, view.disposition.ends_on) == (
        approved,
        date(2026, 2, 28),  # 29 Feb + 24 months, clamped to the month's end
    )
    view = await _walk(session, world, case_id, date(2024, 3, 5))
    row = await session.get(Disposition, case_id)
    assert (row.status, row.position, row.effective_on, row.ends_on) == (
        "done",
        3,
        approved,
        date(2026, 2, 28),
    )


@both_backends
async def test_correction_runs_to_its_deadline_and_is_reviewed_only_then_R_DEADLINE_CORRECT(
    session, world
):
    member_id = await world.member(session)
    await world.reached(session, member_id)
    case_id = await _open(session, world, member_id, Outcome.CORRECT, date(2026, 1, 5))
    with pytest.raises(InvalidInput, match="改正期限要在决议日期之后"):
        await _walk(
            session,
            world,
            case_id,
            date(2026, 1, 5),
            facts={Step.RESOLUTION: {**VOTES, "deadline": date(2026, 1, 5)}},
        )
    with pytest.raises(InvalidInput, match="改正期限"):
        await cases.record_step(
            session, world.sec, case_id, Step.RESOLUTION, date(2026, 1, 5), VOTES, TODAY
        )
    deadline = date(2026, 7, 5)
    view = await _walk(
        session,
        world,
        case_id,
        date(2026, 1, 5),
        until=Step.END_REVIEW,
        facts={Step.RESOLUTION: {**VOTES, "deadline": deadline}},
    )
    assert (view.disposition.effective_on, view.disposition.ends_on) == (date(2026, 1, 5), deadline)
    early = deadline - timedelta(days=1)
    with pytest.raises(InvalidInput, match="限期改正到2026-07-05才期满，期满后再评定"):
        await cases.record_step(
            session, world.sec, case_id, Step.END_REVIEW, early, {"corrected": False}, early
        )
    view = await cases.record_step(
        session, world.sec, case_id, Step.END_REVIEW, deadline, {"corrected": False}, deadline
    )
    assert view.standing.status is Status.DONE and view.disposition.ends_on == deadline
    # 劝退 after an uncorrected 限期改正 only once its deadline has passed.
    on_the_day = await _refusals(session, world, member_id, deadline)
    assert "限期改正到2026-07-05才期满，期满前不能劝退" in on_the_day[Outcome.PERSUADE]
    after = await _refusals(session, world, member_id, deadline + timedelta(days=1))
    assert after[Outcome.PERSUADE] == ""


@both_backends
async def test_extended_probation_ends_months_after_the_approval_R_PROBATION(session, world):
    member_id = await world.member(session, probationary=True)
    await world.reached(session, member_id)
    approved = date(2026, 8, 31)
    case_id = await _open(session, world, member_id, Outcome.EXTEND_PROBATION, approved)
    for months in (5, 13):
        with pytest.raises(InvalidInput, match="预备期只能延长6至12个月"):
            await cases.record_step(
                session,
                world.sec,
                case_id,
                Step.RESOLUTION,
                approved,
                {**VOTES, "months": months},
                approved,
            )
    view = await _walk(
        session, world, case_id, approved, facts={Step.RESOLUTION: {**VOTES, "months": 6}}
    )
    assert view.standing.status is Status.DONE
    assert (view.disposition.effective_on, view.disposition.ends_on) == (
        approved,
        date(2027, 2, 28),
    )


@pytest.mark.parametrize(
    ("length", "until", "ends"),
    [
        ("3m", None, date(2026, 4, 30)),
        ("1y", None, date(2027, 1, 31)),
        ("3y", None, date(2029, 1, 31)),
        ("3y+", date(2031, 6, 30), date(2031, 6, 30)),
        ("3y+", None, None),
    ],
)
async def test_retention_abroad_ends_after_its_length_R_ABROAD_RETAIN(
    session, world, length, until, ends
):
    member_id = await world.member(session)
    await world.reached(session, member_id)
    refused = (await _refusals(session, world, member_id))[Outcome.RETAIN_ABROAD]
    assert "只适用于出国（境）的党员" in refused  # lost for another reason
    await world.reached(session, member_id, abroad=True)
    recorded = date(2026, 1, 31)
    case_id = await _open(session, world, member_id, Outcome.RETAIN_ABROAD, recorded)
    with pytest.raises(InvalidInput, match="保留党籍期限不对"):
        await cases.record_step(
            session, world.sec, case_id, Step.RECORD, recorded, {"length": "5y"}, recorded
        )
    facts = {"length": length, **({"until": until} if until else {})}
    view = await cases.record_step(
        session, world.sec, case_id, Step.RECORD, recorded, facts, recorded
    )
    assert view.standing.status is Status.DONE
    assert (view.disposition.effective_on, view.disposition.ends_on) == (recorded, ends)
    if until:  # a date fact goes in as ISO text and comes back a date
        assert view.events[-1].facts["until"] == until.isoformat()


# ---- restoring, within two years only ----------------------------------------------------------


@both_backends
async def test_restore_is_allowed_within_two_years_and_refused_after_R_SUSPEND_2Y(session, world):
    approved = date(2024, 4, 10)
    member_id = await _suspended(session, world, approved)
    ends = date(2026, 4, 10)
    unreached = await _refusals(session, world, member_id, ends - timedelta(1))
    assert "恢复党籍要本人已与党组织取得联系" in unreached[Outcome.RESTORE]
    await world.reached(session, member_id)
    assert (await _refusals(session, world, member_id, ends - timedelta(1)))[Outcome.RESTORE] == ""
    late = await _refusals(session, world, member_id, ends)
    assert late[Outcome.RESTORE] == "停止党籍已满2年，不能再恢复党籍，应按自行脱党予以除名。"
    with pytest.raises(InvalidInput, match="已满2年"):
        await cases.open_case(session, world.sec, member_id, Outcome.RESTORE, ends)

    day = ends - timedelta(days=30)
    case_id = await _open(session, world, member_id, Outcome.RESTORE, day)
    view = await _walk(session, world, case_id, day)
    assert view.standing.status is Status.DONE and view.disposition.effective_on == day
    # Restored: no longer suspended, so neither restored again nor lapsed.
    after = await _refusals(session, world, member_id, ends + timedelta(days=1))
    assert "只有被停止党籍的党员才能恢复党籍" in after[Outcome.RESTORE]
    assert "只有被停止党籍满2年" in after[Outcome.LAPSE]


# ---- withdrawing -------------------------------------------------------------------------------


@both_backends
async def test_the_branch_withdraws_a_proposal_before_it_takes_effect(session, world):
    member_id = await world.member(session)
    await world.unreachable(session, member_id)
    case_id = await _open(session, world, member_id, Outcome.SUSPEND)
    await cases.record_step(session, world.sec, case_id, Step.RESOLUTION, TODAY, VOTES, TODAY)
    with pytest.raises(InvalidInput, match="请写明撤回的原因"):
        await cases.withdraw(session, world.sec, case_id, "  ", TODAY)
    with pytest.raises(AccessDenied):  # the committee approves or returns; it does not withdraw
        await cases.withdraw(session, world.com, case_id, "重新查找", TODAY)
    with pytest.raises(AccessDenied):
        await cases.withdraw(session, world.sec2, case_id, "重新查找", TODAY)
    view = await cases.withdraw(session, world.sec, case_id, "已取得联系", TODAY)
    assert view.standing.status is Status.WITHDRAWN and view.disposition.status == "withdrawn"
    assert (view.events[-1].kind, view.events[-1].step, view.events[-1].facts) == (
        "withdrawn",
        None,
        {"reason": "已取得联系"},
    )
    with pytest.raises(InvalidInput, match="已经办结"):
        await cases.record_step(session, world.sec, case_id, Step.RESOLUTION, TODAY, VOTES, TODAY)
    with pytest.raises(InvalidInput, match="已经办结"):
        await cases.withdraw(session, world.sec, case_id, "再撤回一次", TODAY)
    # A withdrawn case is no longer in procedure: another may be opened.
    assert (await _refusals(session, world, member_id))[Outcome.SUSPEND] == ""


@both_backends
async def test_a_decision_in_force_cannot_be_withdrawn(session, world):
    """停止党籍 approved by the committee is in force before it is filed upward:
    the branch alone cannot undo it (WITHDRAWN is for proposals)."""
    member_id = await world.member(session)
    await world.unreachable(session, member_id)
    case_id = await _open(session, world, member_id, Outcome.SUSPEND)
    await _walk(session, world, case_id, TODAY, until=Step.UPPER_FILING)
    with pytest.raises(InvalidInput, match="“停止党籍”已于2026-11-25生效，不能撤回"):
        await cases.withdraw(session, world.sec, case_id, "已取得联系", TODAY)
    assert (await session.get(Disposition, case_id)).status == "in_progress"


# ---- appeals -----------------------------------------------------------------------------------


@both_backends
async def test_appeals_only_against_a_decision_taken_and_reviewed_once(session, world):
    member_id = await world.member(session)
    await world.reached(session, member_id)
    decided = date(2026, 3, 2)
    case_id = await _open(session, world, member_id, Outcome.REMOVE, decided)
    await _walk(session, world, case_id, decided, until=Step.EDUCATION)
    with pytest.raises(InvalidInput, match="只有已办结的处置才能登记申诉"):
        await cases.file_appeal(session, world.sec, case_id, decided, "不服", TODAY)
    await _walk(session, world, case_id, date(2026, 3, 9))
    with pytest.raises(InvalidInput, match="将来"):
        await cases.file_appeal(session, world.sec, case_id, TODAY + timedelta(1), "不服", TODAY)
    with pytest.raises(InvalidInput, match="不能早于处置生效的日期（2026-03-02）"):
        await cases.file_appeal(session, world.sec, case_id, date(2026, 3, 1), "不服", TODAY)
    with pytest.raises(InvalidInput, match="请写上内容"):
        await cases.file_appeal(session, world.sec, case_id, decided, "   ", TODAY)
    with pytest.raises(InvalidInput, match="最多500个字"):
        await cases.file_appeal(session, world.sec, case_id, decided, "申" * 501, TODAY)
    with pytest.raises(AccessDenied):
        await cases.file_appeal(session, world.sec2, case_id, decided, "不服", TODAY)
    filed_on = date(2026, 4, 1)
    appeal = await cases.file_appeal(
        session, world.sec, case_id, filed_on, " 本人对除名决定有异议 ", TODAY
    )
    assert (appeal.filed_on, appeal.text, appeal.filed_by) == (
        filed_on,
        "本人对除名决定有异议",
        101,
    )
    appeal_id = appeal.id  # the row expires when a refusal below rolls back

    with pytest.raises(AccessDenied):  # the branch does not review its own case
        await cases.review_appeal(session, world.sec, appeal_id, "维持", filed_on, TODAY)
    with pytest.raises(AccessDenied):
        await cases.review_appeal(session, world.stranger, appeal_id, "维持", filed_on, TODAY)
    with pytest.raises(InvalidInput, match="复查日期要在申诉日期（2026-04-01）之后"):
        await cases.review_appeal(session, world.com, appeal_id, "维持", date(2026, 3, 31), TODAY)
    with pytest.raises(InvalidInput, match="复查日期"):
        await cases.review_appeal(
            session, world.com, appeal_id, "维持", TODAY + timedelta(1), TODAY
        )
    reviewed = await cases.review_appeal(
        session, world.com, appeal_id, "经复查，维持原处置", date(2026, 5, 6), TODAY
    )
    assert (reviewed.result, reviewed.reviewed_on, reviewed.reviewed_by) == (
        "经复查，维持原处置",
        date(2026, 5, 6),
        201,
    )
    with pytest.raises(InvalidInput, match="复查结果已经记录过了"):
        await cases.review_appeal(session, world.com2, appeal_id, "撤销", TODAY, TODAY)
    view = await cases.case(session, world.sec, case_id)
    assert [(a.id, a.result) for a in view.appeals] == [(appeal_id, "经复查，维持原处置")]
    assert view.standing.status is Status.DONE  # an appeal changes no event


# ---- /pending: who waits for what --------------------------------------------------------------


@both_backends
async def test_pending_shows_each_side_its_own_next_step(session, world):
    first = await world.member(session)
    await world.unreachable(session, first)
    older = await _open(session, world, first, Outcome.SUSPEND, date(2026, 11, 1))
    second = await world.member(session)
    await world.reached(session, second)
    newer = await _open(session, world, second, Outcome.NORMAL, date(2026, 11, 2))
    elsewhere = await world.member(session, branch="二支部")
    await world.reached(session, elsewhere, world.sec2)
    theirs = (
        await cases.open_case(session, world.sec2, elsewhere, Outcome.TRANSFER, TODAY)
    ).disposition.id

    def shown(items) -> list[tuple[int, Step]]:
        return [(i.view.disposition.id, i.rule.step) for i in items]

    assert shown(await cases.pending(session, world.sec, TODAY)) == [
        (older, Step.RESOLUTION),
        (newer, Step.TALK),
    ]
    assert shown(await cases.pending(session, world.sec2, TODAY)) == [(theirs, Step.RECORD)]
    assert await cases.pending(session, world.com, TODAY) == []  # nothing to decide yet

    await cases.record_step(
        session, world.sec, older, Step.RESOLUTION, date(2026, 11, 20), VOTES, TODAY
    )
    assert shown(await cases.pending(session, world.sec, TODAY)) == [(newer, Step.TALK)]
    for staff in (world.com, world.com2):
        assert shown(await cases.pending(session, staff, TODAY)) == [(older, Step.APPROVAL)]
    assert await cases.pending(session, world.stranger, TODAY) == []
    await _walk(session, world, older, TODAY)  # approved and filed: waits for nobody
    assert await cases.pending(session, world.com, TODAY) == []


# ---- 回头看 (R-EXHAUSTED, seed 002) ------------------------------------------------------------


@both_backends
async def test_recheck_flags_a_suspension_on_a_thin_unexhausted_search_R_EXHAUSTED(session, world):
    clean = await world.member(session)
    await world.unreachable(session, clean)
    well_founded = await _open(session, world, clean, Outcome.SUSPEND)
    await _walk(session, world, well_founded, TODAY)

    thin = await world.member(session)
    await search.log_attempt(
        session,
        world.sec,
        thin,
        channel="phone",
        result="not_reached",
        attempted_on=date(2024, 2, 1),
        today=TODAY,
    )
    async with write_tx(session):  # closed outside the bot, as an old record would be
        session.add(SearchOutcome(member_id=thin, kind="unreachable", decided_on=SEARCH_ENDED))
    flagged = await _open(session, world, thin, Outcome.SUSPEND)
    await _walk(session, world, flagged, TODAY)

    with pytest.raises(AccessDenied):
        await cases.recheck(session, world.sec, TODAY)
    assert await cases.recheck(session, world.stranger, TODAY) == []
    items = await cases.recheck(session, world.com, TODAY)
    assert [i.view.disposition.id for i in items] == [flagged]
    problems = [p.render() for p in items[0].problems]
    assert any(
        p.startswith("查找未穷尽（R-EXHAUSTED），还缺：") and "部门协查" in p for p in problems
    )
    assert "查找记录只有1次，记录单薄。" in problems


@both_backends
async def test_recheck_flags_a_resolution_without_its_votes(session, world):
    member_id = await world.member(session)
    await world.unreachable(session, member_id)
    case_id = await _open(session, world, member_id, Outcome.SUSPEND)
    await _walk(session, world, case_id, TODAY)
    assert await cases.recheck(session, world.com, TODAY) == []
    async with write_tx(session):  # an old decision typed in without its votes
        row = await session.scalar(
            select(DispositionEvent).where(DispositionEvent.step == "resolution")
        )
        row.facts = {"signed": False}
    [item] = await cases.recheck(session, world.com, TODAY)
    assert [p.render() for p in item.problems] == [
        "党员大会决议没有记录表决票数。",
        "本人没有签字，也没有注明原因。",
    ]


# ---- R-DOSSIER and the audit log ---------------------------------------------------------------


@both_backends
async def test_events_are_only_appended_R_DOSSIER(session, world):
    member_id = await world.member(session)
    await world.reached(session, member_id)
    case_id = await _open(session, world, member_id, Outcome.NORMAL)
    seen: list[tuple] = []

    async def appended(n: int) -> None:
        rows = await _rows(session, case_id)
        assert len(rows) == len(seen) + n
        assert rows[: len(seen)] == seen  # earlier rows unchanged
        seen[:] = rows

    await _walk(session, world, case_id, TODAY, until=Step.APPROVAL)
    await appended(2)
    with pytest.raises(InvalidInput):  # refused: nothing written
        await cases.record_step(session, world.sec, case_id, Step.TALK, TODAY, {}, TODAY)
    with pytest.raises(InvalidInput):
        await cases.record_step(
            session, world.sec, case_id, Step.APPROVAL, TODAY - timedelta(1), {}, TODAY
        )
    await appended(0)
    await cases.decide_step(
        session, world.com, case_id, approve=False, expected=2, reason="谈话记录太简单", today=TODAY
    )
    await appended(1)  # 退回 is one more row; the opinion it sends back stays
    await cases.record_step(
        session, world.sec, case_id, Step.BRANCH_COMMITTEE, TODAY, {"opinion": "补充后同意"}, TODAY
    )
    await appended(1)
    await _walk(session, world, case_id, TODAY)
    await appended(1)
    assert [(s, k, st) for _i, s, k, st, *_ in seen] == [
        (1, "recorded", "talk"),
        (2, "recorded", "branch_committee"),
        (3, "returned", "approval"),
        (4, "recorded", "branch_committee"),
        (5, "approved", "approval"),
    ]
    assert [f.get("opinion") for *_x, f in seen if "opinion" in f] == [
        "同意纳入正常管理",
        "补充后同意",
    ]


@both_backends
async def test_every_change_is_in_the_audit_log(session, world):
    member_id = await world.member(session)
    await world.reached(session, member_id)
    case_id = await _open(session, world, member_id, Outcome.CORRECT)
    await _walk(session, world, case_id, TODAY, until=Step.PRE_REVIEW)
    await cases.decide_step(
        session, world.com, case_id, approve=False, expected=1, reason="材料不全", today=TODAY
    )
    await _walk(session, world, case_id, TODAY, until=Step.RESOLUTION)
    failed = {**FAILED, "deadline": TODAY + timedelta(days=90)}
    await cases.record_step(session, world.sec, case_id, Step.RESOLUTION, TODAY, failed, TODAY)
    second = await _open(session, world, member_id, Outcome.TRANSFER)
    await cases.withdraw(session, world.sec, second, "本人已在本地工作", TODAY)
    third = await _open(session, world, member_id, Outcome.DISCIPLINE)
    await _walk(session, world, third, TODAY)
    appeal = await cases.file_appeal(session, world.sec, third, TODAY, "不服", TODAY)
    await cases.review_appeal(session, world.com, appeal.id, "维持", TODAY, TODAY)

    rows = await session.scalars(
        select(AuditEvent).where(AuditEvent.entity == "disposition").order_by(AuditEvent.id)
    )
    found = [(r.entity_id, r.actor_id, r.action, r.field, r.new_value) for r in rows]
    assert found == [
        (case_id, 101, "open", "correct", "correct"),
        (case_id, 101, "recorded", "correct", "verify"),
        (case_id, 201, "returned", "correct", "pre_review"),
        (case_id, 101, "recorded", "correct", "verify"),
        (case_id, 201, "approved", "correct", "pre_review"),
        (case_id, 101, "not_adopted", "correct", "resolution"),
        (second, 101, "open", "transfer", "transfer"),
        (second, 101, "withdrawn", "transfer", ""),
        (third, 101, "open", "discipline", "discipline"),
        (third, 101, "recorded", "discipline", "referral"),
        (third, 101, "appeal", "discipline", TODAY.isoformat()),
        (third, 201, "appeal_review", "discipline", TODAY.isoformat()),
    ]
    members_logged = await session.scalars(
        select(AuditEvent.member_id).where(AuditEvent.entity == "disposition").distinct()
    )
    assert list(members_logged) == [member_id]
    assert await _count(session, DispositionAppeal) == 1
    assert await _count(session, ContactAttempt) == 0
