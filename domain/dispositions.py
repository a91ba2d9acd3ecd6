"""Settling a case (规范管理 / 组织处置 / 党籍管理, SPEC §5, seed 002 中组发〔2016〕30号).

Pure rules, no database. A disposition (处置) is an outcome chosen for one
member and the ordered steps its procedure needs; what happened is a list of
appended ``Event`` rows, never edited (R-DOSSIER). Replaying the events
gives where the case stands (``standing``); ``decide`` checks one command
against the rules and returns the events to append, or raises
``InvalidInput`` with the reason in words.

Three rules shape everything here:

* **Who may choose what** (``refusal``): reached members are managed or
  sanctioned, unreachable ones have their membership suspended (or, on
  probation, cancelled); nothing before the search is closed.
* **R-PROCEDURE**: 组织处置 (限期改正, 劝退, 除名) goes through 核实情况 → 上级预审 →
  形成决议 → 上报审批 → 教育帮扶 (for 劝退/除名 the upper organisation
  department pre-reviews and approves too). A step is recorded only after the
  one before it; a committee decision (批准 / 退回) is taken once: a button
  from an earlier position is refused (``expected`` position).
* **The clocks**: suspension lasts two years before 自行脱党除名 may be
  proposed (R-SUSPEND-2Y); 限期改正 ends on its deadline (R-DEADLINE-CORRECT);
  an extended probation and a retention abroad end on dates too
  (R-PROBATION, R-ABROAD-RETAIN).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from domain.codes import CodeList
from domain.dates import add_months
from domain.errors import N_, InvalidInput

SUSPENSION_MONTHS = 24  # 停止党籍2年 (seed 002 §四)
PROBATION_EXTENSION = (6, 12)  # 延长预备期半年至一年 (seed 002 §二)

FactValue = str | int | bool | date | None
Facts = Mapping[str, FactValue]


class Group(StrEnum):
    MANAGEMENT = "management"  # 规范管理 (seed 002 §二)
    SANCTION = "sanction"  # 组织处置 (§三): R-PROCEDURE
    MEMBERSHIP = "membership"  # 党籍管理 (§四)
    REFERRAL = "referral"  # 纪律处分: recorded, decided elsewhere


class Outcome(CodeList):
    """How a case is settled (SPEC §5)."""

    NORMAL = ("normal", "纳入组织正常管理")
    TRANSFER = ("transfer", "转移组织关系")
    REISSUE = ("reissue", "重开组织关系介绍信")
    RETAIN_ABROAD = ("retain_abroad", "补办保留组织关系")
    EXTEND_PROBATION = ("extend_probation", "延长预备期")
    CANCEL_PROBATION = ("cancel_probation", "取消预备党员资格")
    CORRECT = ("correct", "限期改正")
    PERSUADE = ("persuade", "劝退")
    REMOVE = ("remove", "除名")
    WITHDRAW = ("withdraw", "退党")
    DISCIPLINE = ("discipline", "移交纪律处分")
    SUSPEND = ("suspend", "停止党籍")
    RESTORE = ("restore", "恢复党籍")
    LAPSE = ("lapse", "自行脱党除名")


GROUP = {
    Outcome.NORMAL: Group.MANAGEMENT,
    Outcome.TRANSFER: Group.MANAGEMENT,
    Outcome.REISSUE: Group.MANAGEMENT,
    Outcome.RETAIN_ABROAD: Group.MANAGEMENT,
    Outcome.EXTEND_PROBATION: Group.MANAGEMENT,
    Outcome.CANCEL_PROBATION: Group.MEMBERSHIP,
    Outcome.CORRECT: Group.SANCTION,
    Outcome.PERSUADE: Group.SANCTION,
    Outcome.REMOVE: Group.SANCTION,
    Outcome.WITHDRAW: Group.SANCTION,
    Outcome.DISCIPLINE: Group.REFERRAL,
    Outcome.SUSPEND: Group.MEMBERSHIP,
    Outcome.RESTORE: Group.MEMBERSHIP,
    Outcome.LAPSE: Group.MEMBERSHIP,
}


class RemovalGround(CodeList):
    """出党处置的情形 (seed 002 §三 (1)–(4))."""

    LOST_CONDITIONS = ("1", "理想信念缺失，政治立场动摇，已经丧失党员条件")
    INSISTS_ON_LEAVING = ("2", "因思想蜕化提出退党，经教育后仍然坚持退党")
    THREATENS_TO_LEAVE = ("3", "以退党相要挟，经教育不改")
    NOT_CORRECTED = ("4", "限期改正期满后仍无转变")


class RetainLength(CodeList):
    """保留党籍的期限 (seed 001 附件1 note 7)."""

    M3 = ("3m", "三个月")
    M6 = ("6m", "六个月")
    Y1 = ("1y", "一年")
    Y2 = ("2y", "二年")
    Y3 = ("3y", "三年")
    OVER_3Y = ("3y+", "三年以上")


RETAIN_MONTHS = {"3m": 3, "6m": 6, "1y": 12, "2y": 24, "3y": 36}


class Side(StrEnum):
    """Who records a step: the member's branch, or the committee above it
    (also for what the upper organisation department decided outside the bot)."""

    BRANCH = "branch"
    COMMITTEE = "committee"


class Step(CodeList):
    VERIFY = ("verify", "核实情况")
    TALK = ("talk", "谈话教育")
    BRANCH_COMMITTEE = ("branch_committee", "支委会研究")
    APPLICATION = ("application", "本人书面申请")
    PRE_REVIEW = ("pre_review", "基层党委预审")
    UPPER_PRE_REVIEW = ("upper_pre_review", "上一级党委组织部门预审")
    RESOLUTION = ("resolution", "党员大会决议")
    APPROVAL = ("approval", "基层党委审批")
    UPPER_APPROVAL = ("upper_approval", "上一级党委组织部门审批")
    UPPER_FILING = ("upper_filing", "报上一级党委组织部门备案")
    COMMITTEE_FILING = ("committee_filing", "报基层党委备案")
    EDUCATION = ("education", "教育帮扶")
    END_REVIEW = ("end_review", "期满评定")
    RECORD = ("record", "办理")
    REFERRAL = ("referral", "移交纪检/公安")


@dataclass(frozen=True)
class StepRule:
    step: Step
    side: Side
    decision: bool = False  # 批准 / 退回 by the committee, in the chat
    needs: tuple[str, ...] = ()  # facts that must be given


# Facts each kind of step records (R-PROCEDURE: date, who, and what the notice asks).
_VERIFY = ("material", "opinion")  # 调查核实材料, 支委会初步处置意见 (谈话 in material)
_RESOLUTION = ("present", "votes_for", "votes_against", "votes_abstain", "signed")
_UPPER = ("document_no",)


def _sanction(outcome: str) -> tuple[StepRule, ...]:
    with_upper = outcome != "correct"
    verify = (*_VERIFY, "ground") if with_upper else _VERIFY
    resolution = _RESOLUTION if with_upper else (*_RESOLUTION, "deadline")
    upper_pre = (StepRule(Step.UPPER_PRE_REVIEW, Side.COMMITTEE, needs=_UPPER),)
    upper_ok = (StepRule(Step.UPPER_APPROVAL, Side.COMMITTEE, needs=_UPPER),)
    # R-DEADLINE-CORRECT: when the deadline is reached the branch decides.
    end_review = (StepRule(Step.END_REVIEW, Side.BRANCH, needs=("corrected",)),)
    return (
        StepRule(Step.VERIFY, Side.BRANCH, needs=verify),
        StepRule(Step.PRE_REVIEW, Side.COMMITTEE, decision=True),
        *(upper_pre if with_upper else ()),
        StepRule(Step.RESOLUTION, Side.BRANCH, needs=resolution),
        StepRule(Step.APPROVAL, Side.COMMITTEE, decision=True),
        *(upper_ok if with_upper else ()),
        StepRule(Step.EDUCATION, Side.BRANCH, needs=("notified_on", "measures")),
        *(() if with_upper else end_review),
    )


PLANS: dict[Outcome, tuple[StepRule, ...]] = {
    Outcome.NORMAL: (
        StepRule(Step.TALK, Side.BRANCH, needs=("note",)),
        StepRule(Step.BRANCH_COMMITTEE, Side.BRANCH, needs=("opinion",)),
        StepRule(Step.APPROVAL, Side.COMMITTEE, decision=True),
    ),
    Outcome.TRANSFER: (StepRule(Step.RECORD, Side.BRANCH, needs=("receiver",)),),
    Outcome.REISSUE: (StepRule(Step.RECORD, Side.BRANCH, needs=("receiver",)),),
    Outcome.RETAIN_ABROAD: (StepRule(Step.RECORD, Side.BRANCH, needs=("length",)),),
    Outcome.EXTEND_PROBATION: (
        StepRule(Step.RESOLUTION, Side.BRANCH, needs=(*_RESOLUTION, "months")),
        StepRule(Step.APPROVAL, Side.COMMITTEE, decision=True),
    ),
    Outcome.CANCEL_PROBATION: (
        StepRule(Step.RESOLUTION, Side.BRANCH, needs=_RESOLUTION),
        StepRule(Step.APPROVAL, Side.COMMITTEE, decision=True),
    ),
    Outcome.CORRECT: _sanction("correct"),
    Outcome.PERSUADE: _sanction("persuade"),
    Outcome.REMOVE: _sanction("remove"),
    Outcome.WITHDRAW: (
        StepRule(Step.APPLICATION, Side.BRANCH, needs=("note",)),
        StepRule(Step.RESOLUTION, Side.BRANCH, needs=_RESOLUTION),
        StepRule(Step.COMMITTEE_FILING, Side.COMMITTEE),
    ),
    Outcome.DISCIPLINE: (StepRule(Step.REFERRAL, Side.BRANCH, needs=("referred_to",)),),
    Outcome.SUSPEND: (
        StepRule(Step.RESOLUTION, Side.BRANCH, needs=_RESOLUTION),
        StepRule(Step.APPROVAL, Side.COMMITTEE, decision=True),
        StepRule(Step.UPPER_FILING, Side.COMMITTEE, needs=_UPPER),
    ),
    Outcome.RESTORE: (
        StepRule(Step.APPLICATION, Side.BRANCH, needs=("note",)),
        StepRule(Step.VERIFY, Side.BRANCH, needs=_VERIFY),
        StepRule(Step.APPROVAL, Side.COMMITTEE, decision=True),
        StepRule(Step.UPPER_APPROVAL, Side.COMMITTEE, needs=_UPPER),
    ),
    Outcome.LAPSE: (
        StepRule(Step.RESOLUTION, Side.BRANCH, needs=_RESOLUTION),
        StepRule(Step.APPROVAL, Side.COMMITTEE, decision=True),
        StepRule(Step.UPPER_FILING, Side.COMMITTEE, needs=_UPPER),
    ),
}

# The outcome's effect is dated by this step: suspension starts, the deadline
# to correct runs, probation is extended … from the day it was taken.
EFFECTIVE_STEP = {
    Outcome.NORMAL: Step.APPROVAL,
    Outcome.TRANSFER: Step.RECORD,
    Outcome.REISSUE: Step.RECORD,
    Outcome.RETAIN_ABROAD: Step.RECORD,
    Outcome.EXTEND_PROBATION: Step.APPROVAL,
    Outcome.CANCEL_PROBATION: Step.APPROVAL,
    Outcome.CORRECT: Step.APPROVAL,
    Outcome.PERSUADE: Step.UPPER_APPROVAL,
    Outcome.REMOVE: Step.UPPER_APPROVAL,
    Outcome.WITHDRAW: Step.RESOLUTION,
    Outcome.DISCIPLINE: Step.REFERRAL,
    Outcome.SUSPEND: Step.APPROVAL,
    Outcome.RESTORE: Step.UPPER_APPROVAL,
    Outcome.LAPSE: Step.APPROVAL,
}


class SearchState(StrEnum):
    OPEN = "open"  # no search outcome in force
    REACHED = "reached"  # 经查找取得联系
    UNREACHABLE = "unreachable"  # 经查找仍然无法取得联系


@dataclass(frozen=True)
class CaseFacts:
    """What the rules look at before a disposition is opened for a member."""

    search: SearchState
    probationary: bool  # 预备党员
    today: date
    # 出国（境）: the search found it the reason contact was lost, or the member's
    # record says they left and are not back (domain.abroad.is_abroad).
    abroad: bool = False
    # 出国（境）定居: the record's 出国原因 is 定居 and the member is not back.
    # Only then may a reached full member be suspended (seed 002 §四).
    settled_abroad: bool = False
    misconduct: bool | None = None  # 失联期间有违纪违法行为 (the search outcome's finding)
    # Dispositions already in force or in procedure, with the day each took effect.
    open_outcome: Outcome | None = None  # one case in procedure at a time
    suspended_on: date | None = None  # 停止党籍 in force since
    correction_deadline: date | None = None  # 限期改正 in force, its deadline
    correction_outcome_done: bool = False  # 限期改正 ended: 已改正 recorded
    left_by: Outcome | None = None  # 除名、劝退、退党、取消预备党员资格 in force


# Outcomes after which the person is no longer a Party member: nothing more
# is settled for them here.
LEAVING = frozenset(
    {Outcome.CANCEL_PROBATION, Outcome.PERSUADE, Outcome.REMOVE, Outcome.WITHDRAW, Outcome.LAPSE}
)


def suspension_ends(suspended_on: date) -> date:
    """R-SUSPEND-2Y: the day two years of suspension are complete; from it on,
    a member still unreachable may be removed as 自行脱党 (by procedure)."""
    return add_months(suspended_on, SUSPENSION_MONTHS)


def probation_extended_to(probation_end: date, months: int) -> date:
    """R-PROBATION: 延长预备期半年至一年, counted from the end of the probation."""
    low, high = PROBATION_EXTENSION
    if not low <= months <= high:
        raise InvalidInput(N_("预备期只能延长6至12个月。"))
    return add_months(probation_end, months)


def retention_ends(start: date, length: str, until: date | None = None) -> date | None:
    """R-ABROAD-RETAIN: when 保留党籍 ends (三年以上: the date given, if any)."""
    months = RETAIN_MONTHS.get(length)
    if months is not None:
        return add_months(start, months)
    if length != RetainLength.OVER_3Y.value:
        raise InvalidInput(N_("保留党籍期限不对，请从列表中选择。"))
    return until


_REACHED_ONLY = {
    Outcome.NORMAL,
    Outcome.TRANSFER,
    Outcome.REISSUE,
    Outcome.RETAIN_ABROAD,
    Outcome.EXTEND_PROBATION,
    Outcome.CORRECT,
    Outcome.PERSUADE,
    Outcome.REMOVE,
    Outcome.WITHDRAW,
    Outcome.DISCIPLINE,
}


def refusal(outcome: Outcome, case: CaseFacts) -> InvalidInput | None:
    """Why ``outcome`` cannot be opened for this member, or None."""
    if case.left_by is not None:
        return InvalidInput(
            N_("这名党员已按“{outcome}”办结，不再是党员，不能再处置。"), outcome=case.left_by.label
        )
    if case.open_outcome is not None and outcome is not Outcome.DISCIPLINE:
        # 组织处置 and 纪律处分 may overlap (seed 001 附件9 note 6).
        return InvalidInput(
            N_("这名党员的“{outcome}”正在办理：请先办完或撤回。"), outcome=case.open_outcome.label
        )
    if outcome in (Outcome.RESTORE, Outcome.LAPSE):
        return _refusal_suspended(outcome, case)
    if case.suspended_on is not None:
        return InvalidInput(N_("这名党员已被停止党籍：只能恢复党籍，或满2年后按自行脱党除名。"))
    if case.search is SearchState.OPEN:
        return InvalidInput(
            N_("查找还没有结束：请先在卡片上“结束查找”，记录取得联系或仍无法取得联系。")
        )
    if outcome in (Outcome.EXTEND_PROBATION, Outcome.CANCEL_PROBATION) and not case.probationary:
        return InvalidInput(
            N_("这名党员是正式党员：延长预备期和取消预备党员资格只适用于预备党员。")
        )
    if case.search is SearchState.UNREACHABLE:
        return _refusal_unreachable(outcome, case)
    return _refusal_reached(outcome, case)


def _refusal_reached(outcome: Outcome, case: CaseFacts) -> InvalidInput | None:
    if outcome is Outcome.SUSPEND and not (case.settled_abroad and not case.probationary):
        # 重新取得联系的出国（境）定居的正式党员 may be suspended (seed 002 §四);
        # being abroad to study or work is not enough (they keep 保留组织关系).
        return InvalidInput(
            N_(
                "已经取得联系的党员不能停止党籍：停止党籍只适用于经查找仍然无法取得联系的党员"
                "（出国（境）定居的正式党员除外：请先在党员信息的出国（境）情况中"
                "填写出国日期并将出国原因选为“定居”）。"
            )
        )
    if outcome is Outcome.RETAIN_ABROAD and not case.abroad:
        return InvalidInput(
            N_(
                "补办保留组织关系只适用于出国（境）的党员：查找结论的失去联系情形应为“出国（境）”，"
                "或党员信息的出国（境）情况填有出国日期、尚未回国。"
            )
        )
    if outcome in (Outcome.NORMAL, Outcome.CORRECT) and case.misconduct:
        # 纪律处分 is never replaced by 组织处置 (seed 002 §二、§三).
        return InvalidInput(
            N_("失联期间有违纪违法行为的，不能“{outcome}”：应移交纪检、公安机关依纪依法处理。"),
            outcome=outcome.label,
        )
    deadline = case.correction_deadline
    if outcome is Outcome.PERSUADE and deadline is not None and case.today <= deadline:
        return InvalidInput(
            N_("限期改正到{date}才期满，期满前不能劝退。"), date=deadline.isoformat()
        )
    return None


def _refusal_suspended(outcome: Outcome, case: CaseFacts) -> InvalidInput | None:
    if case.suspended_on is None:
        if outcome is Outcome.RESTORE:
            return InvalidInput(N_("只有被停止党籍的党员才能恢复党籍。"))
        return InvalidInput(N_("只有被停止党籍满2年仍无法取得联系的党员，才能按自行脱党除名。"))
    if outcome is Outcome.LAPSE and case.search is SearchState.REACHED:
        # 停止党籍2年后确实无法取得联系的 (seed 002 §四): not one reached since.
        return InvalidInput(N_("只有被停止党籍满2年仍无法取得联系的党员，才能按自行脱党除名。"))
    ends = suspension_ends(case.suspended_on)
    if outcome is Outcome.RESTORE and case.today >= ends:
        return InvalidInput(N_("停止党籍已满2年，不能再恢复党籍，应按自行脱党予以除名。"))
    if outcome is Outcome.RESTORE and case.search is not SearchState.REACHED:
        # 本人与党组织取得联系并书面提出恢复党籍申请 (seed 002 §四).
        return InvalidInput(
            N_("恢复党籍要本人已与党组织取得联系：请先在卡片上记录经查找取得联系。")
        )
    if outcome is Outcome.LAPSE and case.today < ends:
        return InvalidInput(
            N_("停止党籍还不满2年（{date}满2年），不能按自行脱党除名。"), date=ends.isoformat()
        )
    return None


def _refusal_unreachable(outcome: Outcome, case: CaseFacts) -> InvalidInput | None:
    if outcome in _REACHED_ONLY:
        return InvalidInput(
            N_("这名党员仍无法取得联系：“{outcome}”只适用于已取得联系的党员。"),
            outcome=outcome.label,
        )
    if outcome is Outcome.SUSPEND and case.probationary:
        return InvalidInput(N_("无法取得联系的预备党员应取消预备党员资格，而不是停止党籍。"))
    return None


def allowed(case: CaseFacts) -> list[Outcome]:
    return [o for o in Outcome if refusal(o, case) is None]


class EventKind(StrEnum):
    RECORDED = "recorded"  # a step done (by the side it belongs to)
    APPROVED = "approved"  # 批准
    RETURNED = "returned"  # 退回, with a reason: back to the step before
    WITHDRAWN = "withdrawn"  # the branch withdrew the proposal before it took effect
    NOT_ADOPTED = "not_adopted"  # 党员大会 did not pass it


@dataclass(frozen=True)
class Event:
    kind: EventKind
    step: Step | None
    on: date
    by: int
    facts: Facts = field(default_factory=dict)


class Status(StrEnum):
    IN_PROGRESS = "in_progress"
    DONE = "done"
    WITHDRAWN = "withdrawn"
    NOT_ADOPTED = "not_adopted"


@dataclass(frozen=True)
class Standing:
    """Where a disposition stands after its events."""

    status: Status
    position: int  # index in the plan of the next step (len(plan) when done)
    next: StepRule | None
    effective_on: date | None  # when the outcome took effect (see EFFECTIVE_STEP)
    last_on: date | None  # the latest event's day: the next must not be earlier


def standing(outcome: Outcome, events: Sequence[Event]) -> Standing:
    plan = PLANS[outcome]
    position, status, effective, last = 0, Status.IN_PROGRESS, None, None
    for event in events:
        last = event.on
        if event.kind is EventKind.WITHDRAWN:
            status = Status.WITHDRAWN
        elif event.kind is EventKind.NOT_ADOPTED:
            status = Status.NOT_ADOPTED
        elif event.kind is EventKind.RETURNED:
            position = max(0, position - 1)
        else:  # RECORDED / APPROVED: the step at ``position`` is done
            if plan[position].step is EFFECTIVE_STEP[outcome]:
                effective = event.on
            position += 1
    if status is Status.IN_PROGRESS and position >= len(plan):
        status = Status.DONE
    rule = plan[position] if status is Status.IN_PROGRESS else None
    return Standing(status, position, rule, effective, last)


@dataclass(frozen=True)
class Record:
    """A step recorded by ``side`` on ``on`` with its facts."""

    step: Step
    side: Side
    on: date
    by: int
    facts: Facts = field(default_factory=dict)


@dataclass(frozen=True)
class Decide:
    """批准 / 退回 by committee staff. ``expected`` is the position the button
    was made for: a replayed or second answer finds the case moved on."""

    step: Step
    approve: bool
    on: date
    by: int
    expected: int
    reason: str = ""


@dataclass(frozen=True)
class Withdraw:
    on: date
    by: int
    reason: str


Command = Record | Decide | Withdraw


def decide(outcome: Outcome, events: Sequence[Event], command: Command, today: date) -> Event:
    """The event ``command`` appends, or InvalidInput saying why not."""
    now = standing(outcome, events)
    if now.status is not Status.IN_PROGRESS or now.next is None:
        raise InvalidInput(N_("这项处置已经办结，不能再改动；需要更正请提出申诉或另行处置。"))
    if command.on > today:
        raise InvalidInput(N_("日期不能是将来的日期。"))
    if now.last_on is not None and command.on < now.last_on:
        raise InvalidInput(N_("日期不能早于上一步（{date}）。"), date=now.last_on.isoformat())
    if isinstance(command, Withdraw):
        if now.effective_on is not None:
            # WITHDRAWN is for a proposal: a decision in force is corrected by
            # appeal or another disposition, never undone by the branch alone.
            raise InvalidInput(
                N_("“{outcome}”已于{date}生效，不能撤回；需要更正请提出申诉或另行处置。"),
                outcome=outcome.label,
                date=now.effective_on.isoformat(),
            )
        if not command.reason.strip():
            raise InvalidInput(N_("请写明撤回的原因。"))
        return Event(EventKind.WITHDRAWN, None, command.on, command.by, {"reason": command.reason})
    rule = now.next
    if command.step is not rule.step:
        raise InvalidInput(
            N_("现在应办理“{step}”，不能先办“{other}”。"),
            step=rule.step.label,
            other=command.step.label,
        )
    if isinstance(command, Decide):
        return _decision(rule, now, command)
    if command.side is not rule.side or rule.decision:
        raise InvalidInput(N_("“{step}”不由您这一方办理。"), step=rule.step.label)
    facts = _checked_facts(outcome, rule, command.facts)
    if rule.step is Step.END_REVIEW:
        ends = correction_deadline(events)
        if ends is not None and command.on < ends:
            raise InvalidInput(N_("限期改正到{date}才期满，期满后再评定。"), date=ends.isoformat())
    set_deadline = facts.get("deadline")
    if isinstance(set_deadline, date) and set_deadline <= command.on:
        raise InvalidInput(N_("改正期限要在决议日期之后。"))
    if rule.step is Step.RESOLUTION and not passed(facts):
        return Event(EventKind.NOT_ADOPTED, rule.step, command.on, command.by, facts)
    return Event(EventKind.RECORDED, rule.step, command.on, command.by, facts)


def _decision(rule: StepRule, now: Standing, command: Decide) -> Event:
    if not rule.decision:
        raise InvalidInput(N_("“{step}”不需要审批。"), step=rule.step.label)
    if command.expected != now.position:
        raise InvalidInput(N_("这一步已经处理过了，按钮已失效。"))
    if command.approve:
        return Event(EventKind.APPROVED, rule.step, command.on, command.by)
    if not command.reason.strip():
        raise InvalidInput(N_("退回请写明原因。"))
    return Event(
        EventKind.RETURNED, rule.step, command.on, command.by, {"reason": command.reason.strip()}
    )


def correction_deadline(events: Sequence[Event]) -> date | None:
    """R-DEADLINE-CORRECT: the deadline the 党员大会 set, if recorded."""
    for event in reversed(events):
        deadline = event.facts.get("deadline")
        if event.step is Step.RESOLUTION and isinstance(deadline, date):
            return deadline
    return None


def passed(facts: Facts) -> bool:
    """党员大会表决: more than half of those present voted for it."""
    present, votes_for = facts.get("present"), facts.get("votes_for")
    return isinstance(present, int) and isinstance(votes_for, int) and votes_for * 2 > present


def _checked_facts(outcome: Outcome, rule: StepRule, facts: Facts) -> dict[str, FactValue]:
    missing = [k for k in rule.needs if facts.get(k) in (None, "")]
    if missing:
        raise InvalidInput(
            N_("“{step}”还缺：{fields}。"),
            step=rule.step.label,
            fields="、".join(FACT_LABELS.get(k, k) for k in missing),
        )
    checked = dict(facts)
    if rule.step is Step.RESOLUTION:
        _check_votes(checked)
    if "months" in rule.needs:
        months = checked["months"]
        if not isinstance(months, int):
            raise InvalidInput(N_("预备期只能延长6至12个月。"))
        probation_extended_to(date(2000, 1, 1), months)  # range check only
    if outcome is Outcome.RETAIN_ABROAD:
        length = str(checked["length"])
        if length not in {r.value for r in RetainLength}:
            raise InvalidInput(N_("保留党籍期限不对，请从列表中选择。"))
    if "deadline" in rule.needs and not isinstance(checked["deadline"], date):
        raise InvalidInput(N_("限期改正要写明改正期限。"))
    if "ground" in rule.needs and str(checked["ground"]) not in {g.value for g in RemovalGround}:
        raise InvalidInput(N_("请从列表中选择出党处置的情形。"))
    return checked


def _check_votes(facts: dict[str, FactValue]) -> None:
    counts = [facts.get(k) for k in ("present", "votes_for", "votes_against", "votes_abstain")]
    if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
        raise InvalidInput(N_("表决人数要写成不小于0的整数。"))
    present, votes_for, against, abstain = (int(c) for c in counts)  # type: ignore[arg-type]
    if votes_for + against + abstain > present:
        raise InvalidInput(
            N_("赞成、反对、弃权合计{n}人，多于到会的{present}人。"),
            n=votes_for + against + abstain,
            present=present,
        )
    if facts.get("signed") is False and not str(facts.get("unsigned_reason") or "").strip():
        raise InvalidInput(N_("本人没有签字的，要在决议上注明原因（拒不签字或因故不能签字）。"))


# Facts that are dates (stored as ISO text in the event's JSON).
DATE_FACTS = frozenset({"deadline", "until", "notified_on"})


def ends_on(outcome: Outcome, effective: date | None, events: Sequence[Event]) -> date | None:
    """The day the clock this outcome started runs out, if it has one:
    R-SUSPEND-2Y, R-DEADLINE-CORRECT, R-ABROAD-RETAIN. An extended probation
    ends ``months`` after the original end, which the register does not hold:
    counted here from the approval, the earliest it can be."""
    if effective is None:
        return None
    if outcome is Outcome.SUSPEND:
        return suspension_ends(effective)
    if outcome is Outcome.CORRECT:
        return correction_deadline(events)
    facts: dict[str, FactValue] = {}
    for event in events:
        facts.update(event.facts)
    if outcome is Outcome.RETAIN_ABROAD and isinstance(facts.get("length"), str):
        until = facts.get("until")
        return retention_ends(
            effective, str(facts["length"]), until if isinstance(until, date) else None
        )
    if outcome is Outcome.EXTEND_PROBATION and isinstance(facts.get("months"), int):
        return add_months(effective, int(str(facts["months"])))
    return None


FACT_LABELS = {
    "material": "调查核实材料（含与本人谈话情况）",
    "opinion": "支委会意见",
    "present": "到会人数",
    "votes_for": "赞成票",
    "votes_against": "反对票",
    "votes_abstain": "弃权票",
    "signed": "本人是否签字",
    "unsigned_reason": "未签字的原因",
    "document_no": "文号",
    "notified_on": "通知本人的日期",
    "measures": "教育帮扶措施",
    "note": "情况说明",
    "receiver": "接收单位",
    "length": "保留期限",
    "until": "保留至",
    "months": "延长月数",
    "deadline": "改正期限",
    "referred_to": "移交机关",
    "ground": "出党情形",
    "reason": "原因",
    "corrected": "是否已改正",
}
