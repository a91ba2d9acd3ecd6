"""The first sweep, 五核查 (SPEC §2a, seed 001 三.1): what the bot works out
before asking, and R-SWEEP completeness. Members are invented (tests/factories)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.clocks import MemberFacts
from domain.errors import InvalidInput
from domain.idcard import check_digit
from domain.sweep import (
    COMPUTED,
    IMPORTANT_FIELDS,
    RECEIPT_SYSTEM_SINCE,
    Answer,
    Check,
    CheckState,
    Finding,
    SweepProgress,
    computed_findings,
    is_clean,
    open_items,
    progress,
    require_in_scope,
    suggested_answers,
    sweep_complete,
)
from tests import factories

TODAY = date(2026, 3, 18)
RECENT = MemberFacts(last_org_life=date(2026, 2, 26), last_dues=date(2026, 3, 5))


def complete_values(i: int = 0, **overrides: object) -> dict[str, object]:
    values = factories.member_values(
        i, ethnicity="汉族", education="本科及以上", phone=factories.phone(i)
    )
    values.update(overrides)
    return values


def findings_for(
    values: dict[str, object] | None = None, facts: MemberFacts = RECENT
) -> dict[Check, list[Finding]]:
    return computed_findings(values or complete_values(), facts, TODAY)


def texts(findings: list[Finding]) -> str:
    return " / ".join(f.text for f in findings)


def all_five(answer: Answer = Answer.ok, **changed: Answer) -> dict[Check, Answer]:
    answers = dict.fromkeys(Check, answer)
    answers.update({Check[name]: a for name, a in changed.items()})
    return answers


# --- the checks themselves ---


def test_five_checks_in_the_seed_order_R_SWEEP():
    assert [c.value for c in Check] == [1, 2, 3, 4, 5]
    assert [c.label for c in Check] == [
        "名册/信息库",
        "党员档案",
        "党费和组织生活",
        "组织关系介绍信存根",
        "现实表现",
    ]
    assert COMPUTED == (Check.roster, Check.dues_and_life, Check.transfer_stubs)


def test_answers_have_their_labels():
    assert [a.label for a in Answer] == ["✔ 符合", "✘ 有问题", "待完善"]
    assert Answer.of("pending") is Answer.pending


# --- a clean record ---


def test_a_complete_clean_record_has_no_findings_and_is_clean_R_SWEEP():
    # Act
    findings = findings_for()

    # Assert
    assert list(findings) == list(Check)
    assert all(found == [] for found in findings.values())
    assert is_clean(findings)
    assert suggested_answers(findings) == dict.fromkeys(COMPUTED, Answer.ok)


def test_checks_two_and_five_need_a_person_and_get_no_findings():
    findings = findings_for(complete_values(ethnicity=None), MemberFacts())

    assert findings[Check.file] == [] and findings[Check.conduct] == []


# --- check 1: 名册/信息库 ---


def test_missing_ethnicity_and_id_number_are_listed_in_check_1():
    values = complete_values(ethnicity="", id_number=None)

    findings = findings_for(values)

    roster = findings[Check.roster]
    assert "“民族”未填写。" in texts(roster)
    assert "“身份证号”未填写。" in texts(roster)
    assert {f.suggests for f in roster} == {Answer.pending}
    assert not is_clean(findings)
    assert suggested_answers(findings)[Check.roster] is Answer.pending


def test_every_important_field_counts_for_check_1():
    for key in IMPORTANT_FIELDS:
        findings = findings_for(complete_values(**{key: None}))
        assert len(findings[Check.roster]) == 1, key


def test_a_missing_required_field_is_listed_in_check_1():
    findings = findings_for(complete_values(member_type=None))

    assert "“党员类别”未填写。" in texts(findings[Check.roster])


def test_a_wrong_check_digit_is_doubtful_in_check_1():
    # Arrange: a stored number (older data) whose last digit is off by one.
    good = factories.id_number(date(1980, 5, 4), serial=7)
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    values = complete_values(birth="1980-05", gender="男", id_number=wrong)

    # Act
    roster = findings_for(values)[Check.roster]

    # Assert
    assert len(roster) == 1
    assert roster[0].suggests is Answer.problem
    assert "校验位不对" in roster[0].text
    assert f"应为{check_digit(good[:17])}" in roster[0].text


def test_a_birth_date_disagreeing_with_the_id_number_is_doubtful():
    values = complete_values(id_number=factories.id_number(date(1980, 5, 4), serial=8))
    values["birth"] = "1981-05"

    roster = findings_for(values)[Check.roster]

    assert [f.suggests for f in roster] == [Answer.problem]
    assert "不一致" in roster[0].text


def test_a_legacy_15_digit_number_is_flagged_pending():
    values = complete_values(id_number="410102800504123", birth="1980-05", gender="男")

    roster = findings_for(values)[Check.roster]

    assert [f.suggests for f in roster] == [Answer.pending]
    assert "15位" in roster[0].text


def test_a_finding_renders_through_gettext():
    finding = findings_for(complete_values(ethnicity=None))[Check.roster][0]

    assert finding.render() == finding.text
    assert finding.render(lambda s: {"民族": "Ethnicity"}.get(s, s)) == "“Ethnicity”未填写。"


# --- check 3: 党费和组织生活 ---


def test_a_lost_member_is_a_problem_in_check_3_R_SWEEP():
    # Arrange: last contact more than six months ago (R-LOST-6M).
    facts = MemberFacts(last_org_life=date(2025, 6, 1), last_dues=date(2025, 8, 10))

    # Act
    life = findings_for(facts=facts)[Check.dues_and_life]

    # Assert
    assert [f.suggests for f in life] == [Answer.problem]
    assert "超过6个月" in life[0].text
    assert "2025年8月10日" in life[0].text and "2025年6月1日" in life[0].text


def test_no_dates_make_check_3_pending_not_lost():
    life = findings_for(facts=MemberFacts())[Check.dues_and_life]

    assert [f.suggests for f in life] == [Answer.pending]
    assert "无法判断是否失联" in life[0].text


def test_one_date_missing_is_pending_in_check_3():
    life = findings_for(facts=MemberFacts(last_dues=date(2026, 3, 1)))[Check.dues_and_life]

    assert [f.suggests for f in life] == [Answer.pending]
    assert "最近一次参加组织生活日期" in life[0].text


def test_six_months_without_org_life_suggests_mobile_R_MOBILE_6M():
    # Dues paid online last week; no branch activity since last summer.
    facts = MemberFacts(last_org_life=date(2025, 8, 1), last_dues=date(2026, 3, 10))

    life = findings_for(facts=facts)[Check.dues_and_life]

    assert [f.suggests for f in life] == [Answer.pending]
    assert "流动党员" in life[0].text


def test_a_registered_mobile_member_is_not_listed_as_lost():
    facts = MemberFacts(
        last_org_life=date(2025, 3, 1), last_dues=date(2025, 3, 1), is_mobile_registered=True
    )

    assert findings_for(facts=facts)[Check.dues_and_life] == []


# --- check 4: 组织关系介绍信存根 ---


def test_a_2008_transfer_without_receipt_is_a_pocket_problem_in_check_4_R_POCKET():
    # Arrange
    letter = date(2008, 9, 1)
    values = complete_values(transfer_letter_date=letter, transfer_receiver="某某中学党总支")
    facts = MemberFacts(
        last_org_life=RECENT.last_org_life, last_dues=RECENT.last_dues, transfer_letter_date=letter
    )

    # Act
    stubs = findings_for(values, facts)[Check.transfer_stubs]

    # Assert
    assert [f.suggests for f in stubs] == [Answer.problem]
    assert "口袋" in stubs[0].text and "某某中学党总支" in stubs[0].text
    assert suggested_answers(findings_for(values, facts))[Check.transfer_stubs] is Answer.problem


def test_a_recent_transfer_within_the_period_is_pending():
    letter = TODAY - timedelta(days=30)
    values = complete_values(transfer_letter_date=letter, transfer_receiver="某某社区党委")
    facts = MemberFacts(
        last_dues=RECENT.last_dues, last_org_life=RECENT.last_org_life, transfer_letter_date=letter
    )

    stubs = findings_for(values, facts)[Check.transfer_stubs]

    assert [f.suggests for f in stubs] == [Answer.pending]


def test_a_transfer_without_a_receiver_asks_for_it():
    letter = date(2010, 4, 1)
    facts = MemberFacts(
        last_org_life=RECENT.last_org_life, last_dues=RECENT.last_dues, transfer_letter_date=letter
    )

    stubs = findings_for(complete_values(transfer_letter_date=letter), facts)[Check.transfer_stubs]

    assert [f.suggests for f in stubs] == [Answer.problem, Answer.pending]
    assert "接收单位" in stubs[1].text


def test_a_transfer_before_2007_is_ignored():
    letter = date(2005, 5, 1)
    values = complete_values(transfer_letter_date=letter, transfer_receiver="某某公司党支部")
    facts = MemberFacts(
        last_org_life=RECENT.last_org_life, last_dues=RECENT.last_dues, transfer_letter_date=letter
    )

    findings = findings_for(values, facts)

    assert RECEIPT_SYSTEM_SINCE == date(2007, 1, 1)
    assert findings[Check.transfer_stubs] == []
    assert is_clean(findings)


def test_a_transfer_with_its_receipt_is_fine():
    letter, receipt = date(2012, 3, 1), date(2012, 4, 2)
    values = complete_values(
        transfer_letter_date=letter, transfer_receipt_date=receipt, transfer_receiver="某党委"
    )
    facts = MemberFacts(
        last_org_life=RECENT.last_org_life,
        last_dues=RECENT.last_dues,
        transfer_letter_date=letter,
        transfer_receipt_date=receipt,
    )

    assert findings_for(values, facts)[Check.transfer_stubs] == []


# --- R-SWEEP: completeness, open items, progress ---


def test_sweep_is_complete_when_every_member_has_five_answers_R_SWEEP():
    states = [CheckState(1, all_five()), CheckState(2, all_five())]

    assert sweep_complete(states, in_scope=[1, 2])


def test_sweep_is_incomplete_while_a_member_is_unanswered_R_SWEEP():
    states = [CheckState(1, all_five())]

    assert not sweep_complete(states, in_scope=[1, 2])


def test_sweep_is_incomplete_while_a_check_is_unanswered_R_SWEEP():
    four = all_five()
    del four[Check.conduct]

    assert not sweep_complete([CheckState(1, four)], in_scope=[1])


def test_pending_counts_as_answered_but_stays_listed_R_SWEEP():
    states = [CheckState(1, all_five(file=Answer.pending)), CheckState(2, all_five())]

    assert sweep_complete(states, in_scope=[1, 2])
    assert open_items(states) == [(1, Check.file, Answer.pending)]


def test_open_items_list_every_pending_and_problem_in_order_R_SWEEP():
    states = [
        CheckState(3, all_five(dues_and_life=Answer.problem, roster=Answer.pending)),
        CheckState(1, all_five(conduct=Answer.problem)),
        CheckState(2, all_five()),
    ]

    assert open_items(states) == [
        (1, Check.conduct, Answer.problem),
        (3, Check.roster, Answer.pending),
        (3, Check.dues_and_life, Answer.problem),
    ]


def test_a_later_answer_resolves_a_pending_one_R_SWEEP():
    states = [
        CheckState(1, all_five(roster=Answer.pending)),
        CheckState(1, {Check.roster: Answer.ok}),
    ]

    assert open_items(states) == []


def test_answers_outside_the_scope_do_not_complete_it_R_SWEEP():
    states = [CheckState(9, all_five())]

    assert not sweep_complete(states, in_scope=[1])


def test_progress_counts_members_and_open_answers_R_SWEEP():
    # Arrange
    partial = {Check.roster: Answer.ok, Check.file: Answer.pending}
    states = [
        CheckState(1, all_five(file=Answer.pending, conduct=Answer.problem)),
        CheckState(2, all_five()),
        CheckState(3, partial),
        CheckState(99, all_five(Answer.problem)),  # not in scope
    ]

    # Act
    result = progress(states, in_scope=[1, 2, 3, 4])

    # Assert
    assert result == SweepProgress(checked=2, in_scope=4, pending=2, problems=1)
    assert not result.complete


def test_progress_is_complete_when_all_are_checked_R_SWEEP():
    result = progress([CheckState(1, all_five())], in_scope=[1])

    assert result.complete


def test_an_answer_for_a_member_outside_the_scope_is_refused_R_SWEEP():
    with pytest.raises(InvalidInput, match="该党员不在本次排查范围内"):
        require_in_scope(7, in_scope=[1, 2, 3])


def test_an_answer_for_a_member_in_scope_is_accepted_R_SWEEP():
    require_in_scope(2, in_scope=[1, 2, 3])
