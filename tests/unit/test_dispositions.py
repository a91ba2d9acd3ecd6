"""The rules of settling a case (domain/dispositions.py, SPEC §5, seed 002)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from domain.dispositions import (
    PLANS,
    CaseFacts,
    Decide,
    Event,
    Outcome,
    Record,
    SearchState,
    Side,
    Status,
    Step,
    Withdraw,
    allowed,
    decide,
    refusal,
    standing,
    suspension_ends,
)
from domain.errors import InvalidInput

TODAY = date(2026, 12, 4)
VOTES = {"present": 20, "votes_for": 18, "votes_against": 1, "votes_abstain": 1, "signed": True}


def case(**kw) -> CaseFacts:
    values = {"search": SearchState.REACHED, "probationary": False, "today": TODAY, **kw}
    return CaseFacts(**values)


def test_suspension_only_for_unreachable_members_R_SUSPEND_2Y():
    assert "停止党籍只适用于" in refusal(Outcome.SUSPEND, case()).message
    assert refusal(Outcome.SUSPEND, case(search=SearchState.UNREACHABLE)) is None
    probationary = case(search=SearchState.UNREACHABLE, probationary=True)
    assert "取消预备党员资格" in refusal(Outcome.SUSPEND, probationary).message
    assert refusal(Outcome.CANCEL_PROBATION, probationary) is None


def test_probation_outcomes_refused_for_full_members_R_PROBATION():
    assert "正式党员" in refusal(Outcome.CANCEL_PROBATION, case()).message
    assert "正式党员" in refusal(Outcome.EXTEND_PROBATION, case()).message
    assert refusal(Outcome.EXTEND_PROBATION, case(probationary=True)) is None


def test_nothing_before_the_search_is_closed():
    for outcome in Outcome:
        if outcome not in (Outcome.RESTORE, Outcome.LAPSE):
            assert "查找还没有结束" in refusal(outcome, case(search=SearchState.OPEN)).message


def test_lapse_only_after_two_years_of_suspension_R_SUSPEND_2Y():
    suspended = date(2025, 1, 10)
    assert suspension_ends(suspended) == date(2027, 1, 10)
    early = case(search=SearchState.UNREACHABLE, suspended_on=suspended)
    assert "不满2年" in refusal(Outcome.LAPSE, early).render()
    # Restored only once the member is in contact again (seed 002 §四).
    assert "取得联系" in refusal(Outcome.RESTORE, early).render()
    assert refusal(Outcome.RESTORE, replace(early, search=SearchState.REACHED)) is None
    late = case(search=SearchState.UNREACHABLE, suspended_on=suspended, today=date(2027, 1, 10))
    assert refusal(Outcome.LAPSE, late) is None
    assert "已满2年" in refusal(Outcome.RESTORE, late).message
    assert allowed(late) == [Outcome.LAPSE]


def test_one_case_at_a_time_but_a_referral_may_overlap():
    busy = case(open_outcome=Outcome.CORRECT)
    assert refusal(Outcome.NORMAL, busy) is not None
    assert refusal(Outcome.DISCIPLINE, busy) is None


def _walk(outcome: Outcome, facts_by_step: dict[Step, dict]) -> list[Event]:
    events: list[Event] = []
    day = date(2026, 1, 5)
    for rule in PLANS[outcome]:
        if rule.decision:
            command = Decide(rule.step, True, day, 201, standing(outcome, events).position)
        else:
            command = Record(rule.step, rule.side, day, 101, facts_by_step.get(rule.step, {}))
        events.append(decide(outcome, events, command, TODAY))
    return events


def test_the_five_steps_in_order_R_PROCEDURE():
    steps = [r.step for r in PLANS[Outcome.REMOVE]]
    assert steps == [
        Step.VERIFY,
        Step.PRE_REVIEW,
        Step.UPPER_PRE_REVIEW,
        Step.RESOLUTION,
        Step.APPROVAL,
        Step.UPPER_APPROVAL,
        Step.EDUCATION,
    ]
    # A later step cannot come first.
    with pytest.raises(InvalidInput, match="现在应办理“核实情况”"):
        decide(Outcome.REMOVE, [], Record(Step.RESOLUTION, Side.BRANCH, TODAY, 101, VOTES), TODAY)
    events = _walk(
        Outcome.REMOVE,
        {
            Step.VERIFY: {"material": "谈话记录", "opinion": "拟除名", "ground": "1"},
            Step.UPPER_PRE_REVIEW: {"document_no": "示组预〔2026〕1号"},
            Step.RESOLUTION: VOTES,
            Step.UPPER_APPROVAL: {"document_no": "示组批〔2026〕2号"},
            Step.EDUCATION: {"notified_on": date(2026, 1, 5), "measures": "继续关心帮助"},
        },
    )
    assert standing(Outcome.REMOVE, events).status is Status.DONE


def test_a_decision_is_taken_once_a_replayed_button_is_refused():
    events = [
        decide(Outcome.SUSPEND, [], Record(Step.RESOLUTION, Side.BRANCH, TODAY, 101, VOTES), TODAY)
    ]
    button = standing(Outcome.SUSPEND, events).position
    events.append(
        decide(Outcome.SUSPEND, events, Decide(Step.APPROVAL, True, TODAY, 201, button), TODAY)
    )
    with pytest.raises(InvalidInput):
        decide(Outcome.SUSPEND, events, Decide(Step.APPROVAL, True, TODAY, 202, button), TODAY)


def test_returned_goes_back_to_the_step_before_and_needs_a_reason():
    events = [
        decide(Outcome.SUSPEND, [], Record(Step.RESOLUTION, Side.BRANCH, TODAY, 101, VOTES), TODAY)
    ]
    with pytest.raises(InvalidInput, match="退回请写明原因"):
        decide(Outcome.SUSPEND, events, Decide(Step.APPROVAL, False, TODAY, 201, 1), TODAY)
    events.append(
        decide(
            Outcome.SUSPEND, events, Decide(Step.APPROVAL, False, TODAY, 201, 1, "票数不对"), TODAY
        )
    )
    assert standing(Outcome.SUSPEND, events).next.step is Step.RESOLUTION


def test_votes_and_signature_are_checked():
    bad = {**VOTES, "votes_for": 30}
    with pytest.raises(InvalidInput, match="多于到会"):
        decide(Outcome.SUSPEND, [], Record(Step.RESOLUTION, Side.BRANCH, TODAY, 101, bad), TODAY)
    unsigned = {**VOTES, "signed": False}
    with pytest.raises(InvalidInput, match="注明原因"):
        decide(
            Outcome.SUSPEND, [], Record(Step.RESOLUTION, Side.BRANCH, TODAY, 101, unsigned), TODAY
        )
    failed = {**VOTES, "votes_for": 10, "votes_against": 9}
    event = decide(
        Outcome.SUSPEND, [], Record(Step.RESOLUTION, Side.BRANCH, TODAY, 101, failed), TODAY
    )
    assert standing(Outcome.SUSPEND, [event]).status is Status.NOT_ADOPTED


def test_correction_is_reviewed_only_when_its_deadline_comes_R_DEADLINE_CORRECT():
    resolution = {**VOTES, "deadline": date(2026, 6, 30)}
    facts = {
        Step.VERIFY: {"material": "谈话记录", "opinion": "限期改正"},
        Step.RESOLUTION: resolution,
        Step.EDUCATION: {"notified_on": date(2026, 1, 5), "measures": "结对帮扶"},
    }
    plan = PLANS[Outcome.CORRECT]
    events: list[Event] = []
    for rule in plan[:-1]:
        if rule.decision:
            command = Decide(
                rule.step, True, date(2026, 1, 5), 201, standing(Outcome.CORRECT, events).position
            )
        else:
            command = Record(rule.step, rule.side, date(2026, 1, 5), 101, facts.get(rule.step, {}))
        events.append(decide(Outcome.CORRECT, events, command, TODAY))
    early = Record(Step.END_REVIEW, Side.BRANCH, date(2026, 6, 1), 101, {"corrected": True})
    with pytest.raises(InvalidInput, match="期满后再评定"):
        decide(Outcome.CORRECT, events, early, TODAY)
    done = Record(Step.END_REVIEW, Side.BRANCH, date(2026, 7, 1), 101, {"corrected": True})
    events.append(decide(Outcome.CORRECT, events, done, TODAY))
    assert standing(Outcome.CORRECT, events).status is Status.DONE


def test_withdrawn_cases_take_nothing_more():
    events = [decide(Outcome.SUSPEND, [], Withdraw(TODAY, 101, "已取得联系"), TODAY)]
    assert standing(Outcome.SUSPEND, events).status is Status.WITHDRAWN
    with pytest.raises(InvalidInput, match="已经办结"):
        decide(
            Outcome.SUSPEND, events, Record(Step.RESOLUTION, Side.BRANCH, TODAY, 101, VOTES), TODAY
        )


def test_a_branch_cannot_record_a_committee_step():
    events = [
        decide(Outcome.SUSPEND, [], Record(Step.RESOLUTION, Side.BRANCH, TODAY, 101, VOTES), TODAY)
    ]
    events.append(
        decide(Outcome.SUSPEND, events, Decide(Step.APPROVAL, True, TODAY, 201, 1), TODAY)
    )
    filing = Record(Step.UPPER_FILING, Side.BRANCH, TODAY, 101, {"document_no": "x"})
    with pytest.raises(InvalidInput, match="不由您这一方"):
        decide(Outcome.SUSPEND, events, filing, TODAY)


def test_a_reached_member_settled_abroad_may_be_suspended_seed_002_section_4():
    """重新取得联系的出国（境）定居的正式党员: 停止党籍; a probationary one is not
    kept (取消预备党员资格); at home, a reached member is never suspended."""
    assert refusal(Outcome.SUSPEND, case(abroad=True, settled_abroad=True)) is None
    assert "出国（境）定居的正式党员除外" in refusal(Outcome.SUSPEND, case()).render()
    # Abroad to study, work or visit (not 定居): 保留组织关系, never 停止党籍.
    studying = refusal(Outcome.SUSPEND, case(abroad=True))
    assert studying is not None and "定居" in studying.render()
    settled_probationary = case(abroad=True, settled_abroad=True, probationary=True)
    assert refusal(Outcome.SUSPEND, settled_probationary) is not None
    assert refusal(Outcome.CANCEL_PROBATION, case(abroad=True, probationary=True)) is None


def test_retention_abroad_only_for_members_abroad_R_ABROAD_RETAIN():
    assert refusal(Outcome.RETAIN_ABROAD, case(abroad=True)) is None
    assert "出国（境）" in refusal(Outcome.RETAIN_ABROAD, case()).render()


def test_misconduct_is_referred_never_settled_by_management_or_correction():
    """纪律处分 is never replaced by 组织处置 (SPEC §5; seed 002 §二、§三: 失联期间无违纪违法行为)."""
    for outcome in (Outcome.NORMAL, Outcome.CORRECT):
        assert "纪检、公安" in refusal(outcome, case(misconduct=True)).render()
        assert refusal(outcome, case(misconduct=False)) is None
    assert refusal(Outcome.DISCIPLINE, case(misconduct=True)) is None
    assert refusal(Outcome.REMOVE, case(misconduct=True)) is None
