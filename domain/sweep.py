"""The first sweep (集中摸排): the five checks, 五核查 (SPEC §2a, seed 001 三.1;
seed 004's 双查 has the committee's working group review the same answers).

The bot works out what it can before asking (checks 1, 3 and 4) and proposes
an answer; checks 2 (党员档案) and 5 (现实表现) need a person. R-SWEEP: a
sweep is complete when every member in scope has all five checks answered;
待完善 counts as answered but stays listed until resolved.

Pure: ``today`` is passed in (STYLE 7).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum
from typing import Any

from domain.clocks import (
    DEFAULT_POCKET_DAYS,
    MemberFacts,
    is_pocket,
    mobile_suspected,
    situation,
)
from domain.codes import CodeList
from domain.dates import PartialDate
from domain.errors import N_, InvalidInput
from domain.idcard import parse_id_number
from domain.member_fields import FIELD_BY_KEY, REQUIRED, check_record

# Seed 000 二(二), seed 001 三.1: “2007年实行组织关系回执制度以来” — a transfer
# before this has no receipt to look for.
RECEIPT_SYSTEM_SINCE = date(2007, 1, 1)

# Optional fields the 名册 check asks for: the columns seed 003 附件1 (流出党员基本
# 信息登记表) has beyond the required ones, apart from the work unit and residence
# it asks only of mobile members.
IMPORTANT_FIELDS: tuple[str, ...] = ("id_number", "ethnicity", "education", "phone")


class Check(IntEnum):
    """五核查, in the order seed 001 三.1 lists them."""

    label: str
    hint: str

    def __new__(cls, number: int, label: str, hint: str) -> Check:
        obj = int.__new__(cls, number)
        obj._value_ = number
        obj.label = label
        obj.hint = hint
        return obj

    roster = (1, N_("名册/信息库"), N_("党员基本信息是否准确齐全"))
    file = (
        2,
        N_("党员档案"),
        N_("入党材料是否齐全，入党信息是否真实准确，有没有违规入党或假党员情况"),
    )
    dues_and_life = (
        3,
        N_("党费和组织生活"),
        N_("交纳党费和参加党支部活动记录，与支部保持联系情况"),
    )
    transfer_stubs = (4, N_("组织关系介绍信存根"), N_("2007年以来转出组织关系是否都收到回执"))
    conduct = (5, N_("现实表现"), N_("能否履行党员义务、发挥党员作用，有没有违纪违法问题"))


# The checks the bot can work out from the record; the other two need a person.
COMPUTED: tuple[Check, ...] = (Check.roster, Check.dues_and_life, Check.transfer_stubs)


class Answer(CodeList):
    """The branch's answer to one check (SPEC §2a)."""

    ok = ("ok", "✔ 符合")
    problem = ("problem", "✘ 有问题")
    pending = ("pending", "待完善")  # seed 001: 一时难以掌握情况的作出标记、随后完善


@dataclass(frozen=True)
class Finding:
    """What the bot found for one check and the answer it proposes.

    ``text`` is the Chinese; ``msgid`` and ``params`` let a handler translate it
    (``render``), as with InvalidInput."""

    check: Check
    text: str
    suggests: Answer
    msgid: str = field(default="", compare=False)
    params: Mapping[str, object] = field(default_factory=dict, compare=False)
    fills: str = field(default="", compare=False)  # the member field that settles it, if one

    def render(self, gettext: Callable[[str], str] | None = None) -> str:
        return InvalidInput(self.msgid or self.text, **self.params).render(gettext)


def _finding(
    check: Check, suggests: Answer, msgid: str, *, fills: str = "", **params: object
) -> Finding:
    text = msgid.format(**params) if params else msgid
    return Finding(check, text, suggests, msgid, params, fills)


def fields_to_fill(findings: Mapping[Check, Sequence[Finding]]) -> list[str]:
    """The member fields whose filling settles some finding, in check order."""
    return list(dict.fromkeys(f.fills for found in findings.values() for f in found if f.fills))


def _zh(d: date) -> str:
    return PartialDate.of(d).zh()


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _roster(values: Mapping[str, Any]) -> list[Finding]:
    """Check 1: empty fields (待完善) and doubtful ones (有问题, to correct)."""
    found: list[Finding] = []
    for spec in (*REQUIRED, *(FIELD_BY_KEY[k] for k in IMPORTANT_FIELDS)):
        if _empty(values.get(spec.key)):
            found.append(
                _finding(
                    Check.roster,
                    Answer.pending,
                    N_("“{label}”未填写。"),
                    fills=spec.key,
                    label=spec.label,
                )
            )
    for problem in check_record(values):
        found.append(
            Finding(Check.roster, problem.render(), Answer.problem, problem.message, problem.params)
        )
    if values.get("id_number"):
        try:
            legacy = parse_id_number(str(values["id_number"])).legacy
        except InvalidInput:
            legacy = False  # already listed by check_record
        if legacy:
            found.append(
                _finding(
                    Check.roster,
                    Answer.pending,
                    N_("身份证号是旧版15位，请核对后改为18位号码。"),
                )
            )
    return found


def _dues_and_life(facts: MemberFacts, today: date, pocket_days: int) -> list[Finding]:
    """Check 3: the dates present, and the situation they give (R-LOST-6M, R-MOBILE-6M)."""
    life, dues = facts.last_org_life, facts.last_dues
    dates = {
        # "—", not Chinese text: a param is not translated (the card shows 未填写 as —).
        "life": _zh(life) if life else "—",
        "dues": _zh(dues) if dues else "—",
    }
    if facts.last_contact is None:
        return [
            _finding(
                Check.dues_and_life,
                Answer.pending,
                N_(
                    "没有最近一次参加组织生活日期和交纳党费日期，无法判断是否失联，"
                    "请补填（先标记待完善）。"
                ),
            )
        ]
    found: list[Finding] = []
    if situation(facts, today, pocket_days).lost_for is not None:
        found.append(
            _finding(
                Check.dues_and_life,
                Answer.problem,
                N_(
                    "超过6个月未与党组织联系（最近一次参加组织生活：{life}；"
                    "最近一次交纳党费：{dues}），按失联党员登记查找。"
                ),
                **dates,
            )
        )
    elif (
        not facts.is_mobile_registered
        and not facts.relation_transferred
        and mobile_suspected(life, today)
    ):
        # Dues may be paid online; 组织生活 is the offline attendance seed 003 counts.
        found.append(
            _finding(
                Check.dues_and_life,
                Answer.pending,
                N_(
                    "连续6个月未参加组织生活（最近一次：{life}），可能是流动党员："
                    "请核实流出时间、原因和去向后登记流动信息。"
                ),
                life=dates["life"],
            )
        )
    for key, value in (("last_org_life", life), ("last_dues", dues)):
        if value is None:
            found.append(
                _finding(
                    Check.dues_and_life,
                    Answer.pending,
                    N_("“{label}”未填写，请补填。"),
                    fills=key,
                    label=FIELD_BY_KEY[key].label,
                )
            )
    return found


def _transfer_stubs(
    values: Mapping[str, Any], facts: MemberFacts, today: date, pocket_days: int
) -> list[Finding]:
    """Check 4: a transfer out since 2007 without its receipt (R-POCKET)."""
    letter = facts.transfer_letter_date
    if letter is None or letter < RECEIPT_SYSTEM_SINCE or facts.transfer_receipt_date:
        return []
    receiver = str(values.get("transfer_receiver") or "").strip()
    found: list[Finding] = []
    if is_pocket(letter, None, today, pocket_days):
        found.append(
            _finding(
                Check.transfer_stubs,
                Answer.problem,
                N_(
                    "{letter}开出介绍信，已{days}天未收到回执（期限{period}天），"
                    "为“口袋”党员：请先与接收单位{receiver}党组织联系。"
                ),
                letter=_zh(letter),
                days=(today - letter).days,
                period=pocket_days,
                receiver=receiver,
            )
        )
    else:
        found.append(
            _finding(
                Check.transfer_stubs,
                Answer.pending,
                N_("{letter}开出介绍信，尚未收到回执（期限{period}天），请跟进。"),
                letter=_zh(letter),
                period=pocket_days,
            )
        )
    if not receiver:
        found.append(
            _finding(
                Check.transfer_stubs,
                Answer.pending,
                N_("转出组织关系未登记接收单位，请补填。"),
                fills="transfer_receiver",
            )
        )
    return found


def computed_findings(
    values: Mapping[str, Any],
    facts: MemberFacts,
    today: date,
    pocket_days: int = DEFAULT_POCKET_DAYS,
) -> dict[Check, list[Finding]]:
    """What the bot can tell before asking, for every check (empty lists for 2
    and 5, which need a person). ``values`` are the member's stored fields."""
    return {
        Check.roster: _roster(values),
        Check.file: [],
        Check.dues_and_life: _dues_and_life(facts, today, pocket_days),
        Check.transfer_stubs: _transfer_stubs(values, facts, today, pocket_days),
        Check.conduct: [],
    }


def is_clean(findings: Mapping[Check, Sequence[Finding]]) -> bool:
    """Nothing found in checks 1, 3, 4: the UI offers “全部符合” for 2 and 5, so
    the member is confirmed in at most three taps."""
    return not any(findings.get(check) for check in COMPUTED)


def suggested_answers(findings: Mapping[Check, Sequence[Finding]]) -> dict[Check, Answer]:
    """The answer the bot proposes for each computed check: the worst of its
    findings (有问题 over 待完善), ✔ when nothing was found."""
    rank = {Answer.ok: 0, Answer.pending: 1, Answer.problem: 2}
    return {
        check: max(
            (f.suggests for f in findings.get(check, ())), key=rank.__getitem__, default=Answer.ok
        )
        for check in COMPUTED
    }


@dataclass(frozen=True)
class CheckState:
    """One member's answers so far."""

    member_id: int
    answers: Mapping[Check, Answer]


def _merged(states: Iterable[CheckState]) -> dict[int, dict[Check, Answer]]:
    """Answers per member; a later state's answer replaces an earlier one."""
    merged: dict[int, dict[Check, Answer]] = {}
    for state in states:
        merged.setdefault(state.member_id, {}).update(state.answers)
    return merged


def _answered_all(answers: Mapping[Check, Answer] | None) -> bool:
    return answers is not None and all(check in answers for check in Check)


def sweep_complete(states: Iterable[CheckState], in_scope: Iterable[int]) -> bool:
    """R-SWEEP: every member in scope has all five checks answered (待完善
    counts as answered). Answers for members outside the scope do not count."""
    merged = _merged(states)
    return all(_answered_all(merged.get(member)) for member in set(in_scope))


def open_items(states: Iterable[CheckState]) -> list[tuple[int, Check, Answer]]:
    """Every 待完善 and 有问题 answer, by member then check (R-SWEEP: they stay
    listed until resolved)."""
    return [
        (member, check, answer)
        for member, answers in sorted(_merged(states).items())
        for check, answer in sorted(answers.items())
        if answer is not Answer.ok
    ]


@dataclass(frozen=True)
class SweepProgress:
    """``checked``: members in scope with all five answered; ``pending`` and
    ``problems`` count answers (not members) among those in scope."""

    checked: int
    in_scope: int
    pending: int
    problems: int

    @property
    def complete(self) -> bool:
        return self.checked == self.in_scope


def progress(states: Iterable[CheckState], in_scope: Iterable[int]) -> SweepProgress:
    merged = _merged(states)
    scope = set(in_scope)
    answers = [a for m in scope for a in merged.get(m, {}).values()]
    return SweepProgress(
        checked=sum(1 for m in scope if _answered_all(merged.get(m))),
        in_scope=len(scope),
        pending=answers.count(Answer.pending),
        problems=answers.count(Answer.problem),
    )


def require_in_scope(member_id: int, in_scope: Iterable[int]) -> None:
    """R-SWEEP: an answer for a member outside the campaign's scope is refused."""
    if member_id not in set(in_scope):
        raise InvalidInput(N_("该党员不在本次排查范围内。"))
