"""Properties of the rules of settling a case (domain/dispositions.py, SPEC §5):
random sequences of commands — good next steps, steps out of order or from the
wrong side, forged and replayed 批准/退回 buttons, withdrawals, dates in the
past and the future, missing and malformed facts — applied through
``decide``, and what must hold whatever the sequence (R-PROCEDURE,
R-DOSSIER, R-DEADLINE-CORRECT); and what ``refusal`` never allows
(R-SUSPEND-2Y, R-PROBATION)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import event as tally
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.dates import add_months
from domain.dispositions import (
    EFFECTIVE_STEP,
    FACT_LABELS,
    LEAVING,
    PLANS,
    CaseFacts,
    Command,
    Decide,
    Event,
    EventKind,
    Outcome,
    Record,
    RemovalGround,
    RetainLength,
    SearchState,
    Side,
    Standing,
    Status,
    Step,
    StepRule,
    Withdraw,
    allowed,
    correction_deadline,
    decide,
    ends_on,
    passed,
    refusal,
    standing,
    suspension_ends,
)
from domain.errors import InvalidInput

START = date(2026, 1, 1)
TODAY = date(2028, 12, 31)
SETTINGS = settings(max_examples=200, deadline=None)
TERMINAL = {Status.DONE, Status.WITHDRAWN, Status.NOT_ADOPTED}

ANY_DAY = st.dates(min_value=date(2025, 1, 1), max_value=TODAY + timedelta(days=60))
TEXT = st.sampled_from(["", " ", "谈话记录", "同意", "示组批〔2026〕2号", "区纪委"])
FACT_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 60), TEXT, ANY_DAY, st.sampled_from(["1", "6m"])
)
RANDOM_FACTS = st.dictionaries(st.sampled_from(sorted(FACT_LABELS)), FACT_VALUE, max_size=8)
# How a stray command spoils the good one (the likelier twice).
SPOILS = [
    *("button", "side", "early", "withdraw") * 2,
    *("step", "future", "facts", "any"),
]


# ---- commands ----------------------------------------------------------------------------------


def _votes(data: st.DataObject) -> dict[str, object]:
    # The simplest draw is a good value; the odd one (nobody present) comes second.
    present = data.draw(st.one_of(st.integers(1, 40), st.just(0)), label="present")
    carried = data.draw(st.sampled_from([True, True, True, False]), label="carried")
    low = present // 2 + 1 if carried and present else 0
    votes_for = data.draw(st.integers(min(low, present), present), label="for")
    against = data.draw(st.integers(0, present - votes_for), label="against")
    abstain = data.draw(st.integers(0, present - votes_for - against), label="abstain")
    signed = data.draw(st.booleans(), label="signed")
    votes: dict[str, object] = {
        "present": present,
        "votes_for": votes_for,
        "votes_against": against,
        "votes_abstain": abstain,
        "signed": signed,
    }
    if not signed:
        votes["unsigned_reason"] = data.draw(st.sampled_from(["本人拒不签字", ""]))
    return votes


def _good_facts(data: st.DataObject, rule: StepRule, day: date) -> dict[str, object]:
    """The facts the step asks for, mostly well formed (a few not: an
    extension of 5 months, a 5-year retention, a deadline on the day)."""
    facts: dict[str, object] = {}
    if "present" in rule.needs:
        facts.update(_votes(data))
    for key in rule.needs:
        if key in facts:
            continue
        if key == "months":
            facts[key] = data.draw(
                st.one_of(st.integers(6, 12), st.sampled_from([5, 13])), label="months"
            )
        elif key == "length":
            codes = [r.value for r in RetainLength]
            facts[key] = data.draw(st.sampled_from([*codes, "5y"]), label="length")
            if facts[key] == RetainLength.OVER_3Y.value:
                facts["until"] = day + timedelta(days=2000)
        elif key == "deadline":
            days = data.draw(st.one_of(st.integers(1, 200), st.just(0)), label="deadline")
            facts[key] = day + timedelta(days=days)
        elif key == "notified_on":
            facts[key] = day
        elif key == "ground":
            facts[key] = data.draw(st.sampled_from([g.value for g in RemovalGround]))
        elif key == "corrected":
            facts[key] = data.draw(st.booleans())
        else:
            facts[key] = "情况属实"
    return facts


def _next_command(data: st.DataObject, outcome: Outcome, events: list[Event]) -> Command:
    """A command for the step the case waits for, on a day not before the last."""
    now = standing(outcome, events)
    plan = PLANS[outcome]
    rule = now.next or plan[min(now.position, len(plan) - 1)]
    day = min(
        TODAY, (now.last_on or START) + timedelta(days=data.draw(st.integers(0, 60), label="gap"))
    )
    if rule.step is Step.END_REVIEW and data.draw(st.booleans(), label="wait for the deadline"):
        day = max(day, correction_deadline(events) or day)
    if rule.decision:
        approve = data.draw(st.sampled_from([True, True, True, False]), label="approve")
        reason = "" if approve else data.draw(st.sampled_from(["材料不全", " "]), label="reason")
        return Decide(rule.step, approve, day, 201, now.position, reason)
    return Record(rule.step, rule.side, day, 101, _good_facts(data, rule, day))


def _stray_command(
    data: st.DataObject, outcome: Outcome, events: list[Event], seen: list[int]
) -> Command:
    """The good next command spoilt one way — a replayed or forged button, the
    other side, another step, a day out of order, a withdrawal, missing or
    malformed facts — or anything at all."""
    good = _next_command(data, outcome, events)
    last = standing(outcome, events).last_on or START
    how = data.draw(st.sampled_from(SPOILS), label="spoilt")
    if how == "button":
        # A replayed button carries a position the case had; a forged one anything.
        expected = data.draw(st.one_of(st.sampled_from(seen), st.integers(-2, 12)), label="exp")
        approve = data.draw(st.booleans(), label="approve")
        return Decide(good.step, approve, good.on, 202, expected, data.draw(TEXT))
    if how == "side" and isinstance(good, Record):
        other = Side.BRANCH if good.side is Side.COMMITTEE else Side.COMMITTEE
        return Record(good.step, other, good.on, 102, good.facts)
    if how == "side" and isinstance(good, Decide):  # a decision typed in as a step
        side = data.draw(st.sampled_from(list(Side)), label="side")
        return Record(good.step, side, good.on, 202, data.draw(RANDOM_FACTS, label="facts"))
    if how == "step" and not isinstance(good, Withdraw):
        step = data.draw(st.sampled_from(list(Step)), label="step")
        if isinstance(good, Decide):
            return Decide(step, good.approve, good.on, 202, good.expected, good.reason)
        return Record(step, good.side, good.on, 102, good.facts)
    if how in ("early", "future") and not isinstance(good, Withdraw):
        day = last - timedelta(days=1) if how == "early" else TODAY + timedelta(days=1)
        if isinstance(good, Decide):
            return Decide(good.step, good.approve, day, 202, good.expected, good.reason)
        return Record(good.step, good.side, day, 102, good.facts)
    if how == "withdraw":
        gap = timedelta(days=data.draw(st.integers(0, 30), label="gap"))
        reason = data.draw(st.sampled_from(["已取得联系", "重新查找", " "]), label="reason")
        return Withdraw(min(TODAY, last + gap), 101, reason)
    if how == "facts" and isinstance(good, Record):
        return Record(good.step, good.side, good.on, 102, data.draw(RANDOM_FACTS, label="facts"))
    day = data.draw(ANY_DAY, label="day")
    step = data.draw(st.sampled_from(list(Step)), label="step")
    if data.draw(st.booleans(), label="decide"):
        expected = data.draw(st.integers(-2, 12), label="exp")
        return Decide(step, data.draw(st.booleans()), day, 202, expected, data.draw(TEXT))
    side = data.draw(st.sampled_from(list(Side)), label="side")
    return Record(step, side, day, 102, data.draw(RANDOM_FACTS, label="facts"))


# ---- what must hold ----------------------------------------------------------------------------


def _passed_steps(events: list[Event]) -> list[tuple[EventKind, Step | None, date]]:
    """The steps in force after the events: each recorded or approved one,
    less those a 退回 sent back."""
    stack: list[tuple[EventKind, Step | None, date]] = []
    for event in events:
        if event.kind is EventKind.RETURNED:
            stack.pop()
        elif event.kind in (EventKind.RECORDED, EventKind.APPROVED):
            stack.append((event.kind, event.step, event.on))
    return stack


def _check_case(outcome: Outcome, events: list[Event], now: Standing) -> None:
    plan = PLANS[outcome]
    assert 0 <= now.position <= len(plan)
    # R-PROCEDURE: the steps in force are the plan's first ones, in order, each
    # decision passed by 批准 and every other step recorded.
    passed_steps = _passed_steps(events)
    expected = [
        (EventKind.APPROVED if r.decision else EventKind.RECORDED, r.step)
        for r in plan[: now.position]
    ]
    assert [(k, s) for k, s, _on in passed_steps] == expected
    if now.status is Status.DONE:
        assert now.position == len(plan) and len(passed_steps) == len(plan)
    elif now.status is Status.IN_PROGRESS:
        assert now.next is plan[now.position]
    else:
        assert now.next is None
    ended = [e for e in events if e.kind in (EventKind.WITHDRAWN, EventKind.NOT_ADOPTED)]
    assert len(ended) <= 1 and (not ended or ended[0] is events[-1])
    # Dates never go backwards, and none is in the future.
    days = [e.on for e in events]
    assert days == sorted(days) and all(d <= TODAY for d in days)
    assert now.last_on == (days[-1] if days else None)
    # The outcome takes effect the day its effective step passed, and a case
    # in force is never withdrawn.
    effective = [on for _k, step, on in passed_steps if step is EFFECTIVE_STEP[outcome]]
    assert now.effective_on == (effective[0] if effective else None)
    if now.status is Status.WITHDRAWN:
        assert now.effective_on is None
    clock = ends_on(outcome, now.effective_on, events)
    if outcome is Outcome.SUSPEND and now.effective_on is not None:
        assert clock == add_months(now.effective_on, 24) == suspension_ends(now.effective_on)
    if outcome is Outcome.CORRECT and now.status is Status.DONE:
        assert clock is not None and clock == correction_deadline(events)
        assert events[-1].step is Step.END_REVIEW and events[-1].on >= clock  # R-DEADLINE-CORRECT


def _check_answer(command: Command, before: Standing, event: Event, events: list[Event]) -> None:
    """What an accepted command must have been."""
    assert before.status is Status.IN_PROGRESS and before.next is not None
    assert (event.on, event.by) == (command.on, command.by)
    assert event.on <= TODAY and (before.last_on is None or event.on >= before.last_on)
    if isinstance(command, Withdraw):
        assert event.kind is EventKind.WITHDRAWN and command.reason.strip()
        assert before.effective_on is None
        return
    assert command.step is before.next.step is event.step
    if isinstance(command, Decide):
        # A decision is taken only by the button made for this very position.
        assert before.next.decision and command.expected == before.position
        assert event.kind is (EventKind.APPROVED if command.approve else EventKind.RETURNED)
        if event.kind is EventKind.RETURNED:  # 退回 always says why
            assert str(event.facts.get("reason") or "").strip()
    else:
        assert not before.next.decision and command.side is before.next.side
        assert all(event.facts.get(k) not in (None, "") for k in before.next.needs)
        if event.step is Step.RESOLUTION:  # 党员大会: carried by more than half of those present
            present, votes_for = event.facts["present"], event.facts["votes_for"]
            carried = (
                isinstance(present, int) and isinstance(votes_for, int) and votes_for > present / 2
            )
            assert carried == passed(event.facts)
            assert event.kind is (EventKind.RECORDED if carried else EventKind.NOT_ADOPTED)
        else:
            assert event.kind is EventKind.RECORDED
        if event.step is Step.END_REVIEW:  # R-DEADLINE-CORRECT: only once it has run out
            deadline = correction_deadline(events)
            assert deadline is not None and event.on >= deadline


@SETTINGS
@given(outcome=st.sampled_from(list(Outcome)), data=st.data())
def test_any_sequence_of_commands_keeps_the_procedure_R_PROCEDURE_R_DOSSIER(outcome, data):
    events: list[Event] = []
    seen = [0]  # positions the case has had: what a replayed button carries
    after_the_end = 0
    for _ in range(data.draw(st.integers(1, 40), label="commands")):
        if standing(outcome, events).status in TERMINAL:
            after_the_end += 1
            if after_the_end > 3:  # test_after_done_… tries the rest
                break
        choice = data.draw(st.sampled_from(["next", "stray"]), label="choice")
        if choice == "next":
            command = _next_command(data, outcome, events)
        else:
            command = _stray_command(data, outcome, events, seen)
        before = standing(outcome, events)
        given_events = list(events)
        try:
            event = decide(outcome, given_events, command, TODAY)
        except InvalidInput as refused:
            assert refused.render()  # a refusal in words
            assert given_events == events  # and nothing appended
            if isinstance(command, Decide) and before.status is Status.IN_PROGRESS:
                assert (
                    command.expected != before.position
                    or command.step is not before.next.step
                    or not before.next.decision
                    or command.on > TODAY
                    or (before.last_on is not None and command.on < before.last_on)
                    or (not command.approve and not command.reason.strip())
                )
        else:
            # R-DOSSIER: decide only answers; the caller appends, nothing else changes.
            assert given_events == events
            assert before.status not in TERMINAL
            _check_answer(command, before, event, events)
            events.append(event)
        now = standing(outcome, events)
        seen.append(now.position)
        _check_case(outcome, events, now)
    tally(f"ended {standing(outcome, events).status.value}")
    tally(f"returned: {any(e.kind is EventKind.RETURNED for e in events)}")


def _accepted(outcome: Outcome, events: list[Event], command: Command) -> Event | None:
    try:
        return decide(outcome, events, command, TODAY)
    except InvalidInput:
        return None


@SETTINGS
@given(outcome=st.sampled_from(list(Outcome)), data=st.data())
def test_at_every_point_of_a_walk_only_the_right_command_passes_R_PROCEDURE(outcome, data):
    """Walked with good commands; before each, every button position, both
    sides and a withdrawal are tried on the same day: a decision passes only
    by the button made for this position, a step only from its own side, a
    withdrawal only before the outcome takes effect."""
    plan = PLANS[outcome]
    events: list[Event] = []
    for _ in range(40):
        now = standing(outcome, events)
        if now.next is None:
            break
        command = _next_command(data, outcome, events)
        day, rule = command.on, now.next
        for expected in range(-1, len(plan) + 2):
            for approve in (True, False):
                button = Decide(rule.step, approve, day, 202, expected, "材料不全")
                passed_ = _accepted(outcome, events, button) is not None
                assert passed_ == (rule.decision and expected == now.position)
        facts = command.facts if isinstance(command, Record) else {}
        for side in Side:
            typed = _accepted(outcome, events, Record(rule.step, side, day, 102, facts))
            if typed is not None:
                assert side is rule.side and not rule.decision
        withdrawn = _accepted(outcome, events, Withdraw(day, 101, "已取得联系"))
        assert (withdrawn is not None) == (now.effective_on is None)
        if now.last_on is not None:
            early = now.last_on - timedelta(days=1)
            assert (
                _accepted(outcome, events, Record(rule.step, rule.side, early, 101, facts)) is None
            )
            early_button = Decide(rule.step, True, early, 202, now.position)
            assert _accepted(outcome, events, early_button) is None
        answer = _accepted(outcome, events, command)
        if answer is not None:
            events.append(answer)
    tally(f"ended {standing(outcome, events).status.value}")


@SETTINGS
@given(data=st.data())
def test_a_correction_is_reviewed_on_or_after_its_deadline_only_R_DEADLINE_CORRECT(data):
    """限期改正 walked to its 期满评定, which is tried on any day around the deadline."""
    outcome, events = Outcome.CORRECT, []
    for _ in range(40):
        now = standing(outcome, events)
        if now.next is None or now.next.step is Step.END_REVIEW:
            break
        try:
            events.append(decide(outcome, events, _next_command(data, outcome, events), TODAY))
        except InvalidInput:
            pass
    if now.next is None or now.next.step is not Step.END_REVIEW:
        return
    deadline = correction_deadline(events)
    assert deadline is not None and deadline > events[-3].on  # set after the resolution's day
    assert ends_on(outcome, now.effective_on, events) == deadline
    day = deadline + timedelta(days=data.draw(st.integers(-60, 60), label="review day"))
    review = Record(Step.END_REVIEW, Side.BRANCH, day, 101, {"corrected": data.draw(st.booleans())})
    tally(f"reviewed {'before' if day < deadline else 'on or after'} the deadline")
    try:
        answer = decide(outcome, events, review, TODAY)
    except InvalidInput:
        assert day < deadline or day < (now.last_on or day) or day > TODAY
    else:
        assert deadline <= day <= TODAY
        assert standing(outcome, [*events, answer]).status is Status.DONE


@SETTINGS
@given(outcome=st.sampled_from(list(Outcome)), data=st.data())
def test_after_done_withdrawn_or_not_adopted_every_command_is_refused(outcome, data):
    """Walk with good commands only until the case ends, then anything."""
    events: list[Event] = []
    for _ in range(60):
        if standing(outcome, events).status in TERMINAL:
            break
        if data.draw(st.integers(0, 9), label="withdraw now?") == 0:
            command: Command = Withdraw(
                standing(outcome, events).last_on or START, 101, "已取得联系"
            )
        else:
            command = _next_command(data, outcome, events)
        try:
            events.append(decide(outcome, events, command, TODAY))
        except InvalidInput:
            pass
    end = standing(outcome, events)
    tally(f"ended {end.status.value}")
    if end.status not in TERMINAL:
        return
    for _ in range(data.draw(st.integers(1, 8), label="after")):
        kind = data.draw(st.sampled_from(["next", "withdraw", "stray"]), label="late")
        if kind == "next":
            late = _next_command(data, outcome, events)
        elif kind == "withdraw":
            late = Withdraw(TODAY, 101, "撤回")
        else:
            late = _stray_command(data, outcome, events, [end.position])
        try:
            decide(outcome, events, late, TODAY)
        except InvalidInput as refused:
            assert refused.message.startswith("这项处置已经办结")
        else:
            raise AssertionError(f"{late!r} accepted after {end.status}")


# ---- refusal() ---------------------------------------------------------------------------------

CASE_DAYS = st.dates(min_value=date(2020, 1, 1), max_value=date(2032, 12, 31))
CASES = st.builds(
    CaseFacts,
    search=st.sampled_from(list(SearchState)),
    probationary=st.booleans(),
    today=CASE_DAYS,
    abroad=st.booleans(),
    settled_abroad=st.booleans(),
    misconduct=st.sampled_from([None, False, True]),
    open_outcome=st.one_of(st.none(), st.sampled_from(list(Outcome))),
    suspended_on=st.one_of(st.none(), CASE_DAYS),
    correction_deadline=st.one_of(st.none(), CASE_DAYS),
    left_by=st.one_of(st.none(), st.sampled_from(sorted(LEAVING))),
)


@SETTINGS
@given(case=CASES)
def test_refusal_never_allows_what_the_rules_forbid_R_SUSPEND_2Y_R_PROBATION(case):
    free = allowed(case)
    assert free == [o for o in Outcome if refusal(o, case) is None]
    for outcome in Outcome:
        reason = refusal(outcome, case)
        assert reason is None or reason.render()
    if case.left_by is not None:  # a member who left: nothing at all
        assert free == []
        assert case.left_by.label in refusal(Outcome.DISCIPLINE, case).render()
        return
    if case.search is not SearchState.UNREACHABLE and not case.settled_abroad:
        # A reached member is never suspended, unless settled abroad (seed 002 §四):
        # abroad to study or work is not enough.
        assert Outcome.SUSPEND not in free
    if not case.abroad:
        assert Outcome.RETAIN_ABROAD not in free
    if case.misconduct:  # 纪律处分 is never replaced by 组织处置
        assert not {Outcome.NORMAL, Outcome.CORRECT} & set(free)
    if case.suspended_on is None or case.today < suspension_ends(case.suspended_on):
        assert Outcome.LAPSE not in free  # never before 24 months of suspension
    if case.search is SearchState.REACHED:
        assert Outcome.LAPSE not in free  # 2 years on and still unreachable only
    if case.suspended_on is None or case.today >= suspension_ends(case.suspended_on):
        assert Outcome.RESTORE not in free  # restored within the two years only
    if case.search is not SearchState.REACHED:
        assert Outcome.RESTORE not in free  # once the member is in contact again
    if case.suspended_on is not None:
        assert set(free) <= {Outcome.RESTORE, Outcome.LAPSE}
    if not case.probationary:
        assert not {Outcome.EXTEND_PROBATION, Outcome.CANCEL_PROBATION} & set(free)
    else:
        assert Outcome.SUSPEND not in free
    if case.open_outcome is not None:  # one case at a time; 纪律处分 beside it
        assert set(free) <= {Outcome.DISCIPLINE}
    if case.search is SearchState.OPEN:
        assert set(free) <= {Outcome.RESTORE, Outcome.LAPSE}
    if case.search is SearchState.UNREACHABLE:
        assert set(free) <= {
            Outcome.SUSPEND,
            Outcome.CANCEL_PROBATION,
            Outcome.RESTORE,
            Outcome.LAPSE,
        }
    deadline = case.correction_deadline
    if deadline is not None and case.today <= deadline:
        assert Outcome.PERSUADE not in free  # R-DEADLINE-CORRECT


@SETTINGS
@given(suspended=CASE_DAYS, days=st.integers(-800, 800), search=st.sampled_from(list(SearchState)))
def test_lapse_and_restore_meet_exactly_at_two_years_R_SUSPEND_2Y(suspended, days, search):
    """停止党籍2年内 may be restored once 本人与党组织取得联系; 2年后确实无法取得联系的
    lapse (seed 002 §四): not one the search has reached since."""
    today = suspended + timedelta(days=days)
    case = CaseFacts(search, False, today, suspended_on=suspended)
    ends = suspension_ends(suspended)
    assert ends == add_months(suspended, 24) > suspended
    lapses = today >= ends and search is not SearchState.REACHED
    assert (refusal(Outcome.LAPSE, case) is None) == lapses
    restores = today < ends and search is SearchState.REACHED
    assert (refusal(Outcome.RESTORE, case) is None) == restores
