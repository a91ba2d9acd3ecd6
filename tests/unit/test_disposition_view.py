"""The case in chat, without a bot (handlers/disposition_view.py): a step asks
exactly what PLANS says it needs (R-PROCEDURE), the notice's follow-ups (why
not signed; the end of a retention over three years), and an outcome the rules
refuse is listed with its reason, never as a button."""

from __future__ import annotations

from datetime import date

import pytest

from bot.i18n import build_i18n
from domain.dispositions import (
    PLANS,
    CaseFacts,
    Outcome,
    RetainLength,
    SearchState,
    Step,
    refusal,
)
from domain.errors import InvalidInput
from handlers import disposition_view as dv
from storage.models import Member, Organisation

TODAY = date(2026, 11, 25)


@pytest.fixture(autouse=True)
def zh():
    with build_i18n().context():
        yield


def test_a_step_asks_its_date_then_exactly_the_facts_it_needs_R_PROCEDURE():
    for plan in PLANS.values():
        for rule in plan:
            keys = dv.keys_for(rule)
            assert keys == [dv.ON, *rule.needs]
            for key in keys:
                text, keyboard = dv.ask(key, rule.step, 1, len(keys))
                assert dv.label_of(key) in text
                assert keyboard.inline_keyboard[-1][0].text == "取消"


def test_choices_and_yes_no_are_buttons_dates_offer_today():
    _text, ground = dv.ask("ground", Step.VERIFY, 1, 1)
    assert len(ground.inline_keyboard) == 4 + 1  # 出党情形 (1)–(4), 取消
    _text, signed = dv.ask("signed", Step.RESOLUTION, 1, 1)
    assert [b.text for b in signed.inline_keyboard[0]] == ["是", "否"]
    _text, on = dv.ask(dv.ON, Step.RESOLUTION, 1, 1)
    assert on.inline_keyboard[0][0].text == "今天"


def test_follow_ups_the_notice_asks():
    assert dv.follow_ups("signed", False) == ["unsigned_reason"]
    assert dv.follow_ups("signed", True) == []
    assert dv.follow_ups("length", RetainLength.OVER_3Y.value) == ["until"]
    assert dv.follow_ups("length", RetainLength.Y1.value) == []


def test_a_vote_count_is_a_whole_number():
    assert dv.parse_number(" ２５ ") == 25
    for bad in ("二十五", "-1", "2.5", ""):
        with pytest.raises(InvalidInput):
            dv.parse_number(bad)


def test_refused_outcomes_are_listed_with_the_reason_and_never_a_button():
    branch = Organisation(id=3, name="一支部", kind="branch", parent_id=1)
    member = Member(id=7, name="钱<测>", branch_id=3)
    member.branch = branch
    facts = CaseFacts(SearchState.UNREACHABLE, probationary=False, today=TODAY)
    options = [(o, refusal(o, facts)) for o in Outcome]
    text = dv.cases_text(member, [], options)
    keyboard = dv.cases_keyboard(member, [], options)
    buttons = " ".join(b.text for row in keyboard.inline_keyboard for b in row)
    assert "停止党籍" in buttons and "钱&lt;测&gt;" in text
    for outcome, refused in options:
        if refused is not None:
            assert outcome.label not in buttons
            assert f"✖ {outcome.label}：{refused.render()}" in text


def test_facts_read_as_words():
    lines = dv.facts_lines(
        {
            "present": 30,
            "votes_for": 25,
            "votes_against": 3,
            "votes_abstain": 2,
            "signed": False,
            "unsigned_reason": "无法取得联系",
            "ground": "4",
        },
        indent="",
    )
    assert lines[0] == "到会30人，赞成25，反对3，弃权2"
    assert "本人是否签字：否" in lines and "出党情形：限期改正期满后仍无转变" in lines
