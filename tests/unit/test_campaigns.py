"""Campaign templates and plans (SPEC §8): each notice's stages placed in a
year, and the refusals a committee meets when it edits the dates.

Seeds: 000 学校 2016, 001 市直机关 2016, 003 流动党员 2023, 004 全市 双查.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from domain.campaigns import (
    TEMPLATES,
    Direction,
    Stage,
    StageTemplate,
    TemplateKey,
    days_left,
    default_name,
    default_span,
    resolve_stage,
    stages_for,
    template_plan,
    validate_plan,
)
from domain.errors import InvalidInput

YEAR = 2026


def stage(template: TemplateKey, key: str, year: int = YEAR) -> Stage:
    return {s.key: s for s in stages_for(template, year)}[key]


def a_stage(
    key: str = "report", starts: date | None = None, due: date = date(2026, 3, 20)
) -> Stage:
    return Stage(
        key=key,
        title="报送汇总表",
        starts=starts,
        due=due,
        what="与党组织失去联系党员情况汇总表",
        direction=Direction.committee_to_upper,
    )


# --- the catalogue ---


def test_there_is_one_template_per_notice():
    assert set(TEMPLATES) == set(TemplateKey)
    assert TemplateKey.of("dual_check").label == "全市 双查"
    assert TemplateKey.by_label("学校 2016") is TemplateKey.school_2016


def test_every_template_resolves_for_2026_and_its_plan_is_valid():
    for template in TemplateKey:
        # Act
        plan = template_plan(template, YEAR)

        # Assert
        assert plan.stages == stages_for(template, YEAR)
        assert (plan.starts, plan.ends) == default_span(template, YEAR)
        keys = [s.key for s in plan.stages]
        assert len(keys) == len(set(keys)), template
        assert all(len(k) <= 16 and k.isascii() for k in keys)


def test_the_default_name_names_the_year():
    assert default_name(TemplateKey.city_2016, YEAR) == "2026年党员组织关系集中排查"
    assert default_name(TemplateKey.mobile_2023, YEAR) == "2026年流动党员组织关系集中排查"


# --- seed 000: 学校 2016 ---


def test_school_template_keeps_the_notice_deadlines_seed_000():
    assert stage(TemplateKey.school_2016, "staff_list").due == date(2026, 3, 11)
    survey = stage(TemplateKey.school_2016, "survey_stats")
    assert survey.due == date(2026, 3, 18)
    assert "党员摸底核查情况统计表" in survey.what
    assert "教职工" in survey.what
    assert stage(TemplateKey.school_2016, "final_report").due == date(2026, 7, 15)


def test_school_registers_go_to_the_committee_then_summaries_upward_seed_000():
    registers = stage(TemplateKey.school_2016, "registers")
    summaries = stage(TemplateKey.school_2016, "summaries")

    assert registers.due == summaries.due == date(2026, 4, 6)
    assert registers.direction is Direction.branch_to_committee
    assert summaries.direction is Direction.committee_to_upper
    for annex in ("附件1", "附件2", "附件5", "附件7"):
        assert annex in registers.what
    for annex in ("附件3", "附件6", "附件8"):
        assert annex in summaries.what


def test_school_start_early_march_and_end_mid_july_are_approximate_seed_000():
    launch = stage(TemplateKey.school_2016, "launch")
    close = stage(TemplateKey.school_2016, "close")

    # 上旬 as a span: the 1st to the 10th; 中旬 as an end: the 20th.
    assert (launch.starts, launch.due, launch.approximate) == (
        date(2026, 3, 1),
        date(2026, 3, 10),
        True,
    )
    assert (close.due, close.approximate) == (date(2026, 7, 20), True)
    assert launch.when() == "约3月1日至3月10日"
    assert default_span(TemplateKey.school_2016, YEAR) == (date(2026, 3, 1), date(2026, 7, 20))


# --- seed 001: 市直机关 2016 ---


def test_city_template_deadlines_seed_001():
    summaries = stage(TemplateKey.city_2016, "summaries")
    final = stage(TemplateKey.city_2016, "final_report")

    assert summaries.due == date(2026, 3, 20)
    assert "附件7" in summaries.what and "附件8" in summaries.what
    assert "党员信息库" in summaries.what
    assert final.due == date(2026, 6, 20)
    assert "附件9" in final.what
    assert not summaries.approximate and not final.approximate


def test_city_campaign_runs_february_to_june_seed_001():
    assert default_span(TemplateKey.city_2016, YEAR) == (date(2026, 2, 1), date(2026, 6, 30))
    assert stage(TemplateKey.city_2016, "close").approximate


# --- seed 003: 流动党员 2023 ---


def test_mobile_template_stages_seed_003():
    deploy = stage(TemplateKey.mobile_2023, "deploy")
    sweep = stage(TemplateKey.mobile_2023, "sweep")
    report = stage(TemplateKey.mobile_2023, "report")

    assert (deploy.due, deploy.approximate) == (date(2026, 11, 30), True)  # 11月底前
    assert (sweep.starts, sweep.due, sweep.approximate) == (
        date(2026, 12, 1),
        date(2026, 12, 10),
        True,
    )  # 12月上旬
    assert (report.due, report.approximate) == (date(2026, 12, 15), False)
    assert report.direction is Direction.branch_to_committee
    assert "流出党员有关情况统计表" in report.what


# --- seed 004: 全市 双查 ---


def test_dual_check_phases_are_spans_seed_004():
    spans = {
        s.key: (s.starts, s.due)
        for s in stages_for(TemplateKey.dual_check, YEAR)
        if s.starts is not None
    }

    assert spans == {
        "deploy": (date(2026, 2, 14), date(2026, 2, 24)),
        "sweep": (date(2026, 2, 25), date(2026, 3, 31)),
        "rectify": (date(2026, 4, 1), date(2026, 7, 30)),
        "acceptance": (date(2026, 8, 1), date(2026, 8, 5)),
    }


def test_dual_check_deadlines_seed_004():
    assert stage(TemplateKey.dual_check, "branch_deploy").due == date(2026, 2, 20)
    reports = stage(TemplateKey.dual_check, "reports")
    assert reports.due == date(2026, 3, 30)
    assert reports.direction is Direction.committee_to_upper
    assert "签字" in reports.what
    final = stage(TemplateKey.dual_check, "final_report")
    assert final.due == date(2026, 8, 6)
    assert "管理及处置情况汇总表" in final.what
    assert default_span(TemplateKey.dual_check, YEAR) == (date(2026, 2, 14), date(2026, 8, 6))


def test_dual_check_has_no_approximate_dates_seed_004():
    assert not any(s.approximate for s in stages_for(TemplateKey.dual_check, YEAR))


# --- a template day the year lacks ---


LEAP_DAY = StageTemplate(
    key="leap",
    title="月底报送",
    end=(2, 29),
    due="汇总表",
    direction=Direction.branch_to_committee,
)


def test_a_template_day_missing_in_the_year_is_refused_not_shifted():
    with pytest.raises(InvalidInput) as refused:
        resolve_stage(LEAP_DAY, 2026)

    text = refused.value.render()
    assert "月底报送" in text
    assert "2月29日" in text
    assert "2026年不存在" in text


def test_a_template_day_missing_as_a_span_start_is_refused_too():
    spanning = replace(LEAP_DAY, start=(2, 29), end=(3, 5))

    with pytest.raises(InvalidInput, match="2月29日"):
        resolve_stage(spanning, 2027)


def test_the_same_day_resolves_in_a_leap_year():
    assert resolve_stage(LEAP_DAY, 2028).due == date(2028, 2, 29)


def test_a_year_out_of_range_is_refused():
    with pytest.raises(InvalidInput, match="年份"):
        stages_for(TemplateKey.city_2016, 0)


# --- validate_plan refusals ---


STARTS, ENDS = date(2026, 2, 1), date(2026, 6, 30)


def test_a_valid_plan_is_kept_with_the_name_trimmed():
    plan = validate_plan("  2026年排查 ", STARTS, ENDS, [a_stage()])

    assert plan.name == "2026年排查"
    assert plan.stages == (a_stage(),)


def test_an_empty_name_is_refused():
    with pytest.raises(InvalidInput, match="请填写排查名称"):
        validate_plan("   ", STARTS, ENDS, [])


def test_a_name_over_sixty_characters_is_refused():
    with pytest.raises(InvalidInput, match="最多60个字"):
        validate_plan("排" * 61, STARTS, ENDS, [])
    assert validate_plan("排" * 60, STARTS, ENDS, []).name == "排" * 60


def test_a_campaign_ending_before_it_starts_is_refused():
    with pytest.raises(InvalidInput, match="早于开始日期"):
        validate_plan("排查", ENDS, STARTS, [])


def test_a_one_day_campaign_is_accepted():
    assert validate_plan("排查", STARTS, STARTS, []).ends == STARTS


def test_a_deadline_outside_the_campaign_is_refused():
    late = a_stage(due=date(2026, 7, 1))

    with pytest.raises(InvalidInput) as refused:
        validate_plan("排查", STARTS, ENDS, [late])

    text = refused.value.render()
    assert "截止日期2026年7月1日" in text
    assert "2026年2月1日至2026年6月30日" in text


def test_a_deadline_before_the_campaign_is_refused():
    with pytest.raises(InvalidInput, match="截止日期"):
        validate_plan("排查", STARTS, ENDS, [a_stage(due=date(2026, 1, 31))])


def test_a_stage_start_outside_the_campaign_is_refused():
    early = a_stage(starts=date(2026, 1, 20), due=date(2026, 2, 10))

    with pytest.raises(InvalidInput, match="开始日期2026年1月20日不在"):
        validate_plan("排查", STARTS, ENDS, [early])


def test_a_stage_starting_after_its_deadline_is_refused():
    backwards = a_stage(starts=date(2026, 3, 25), due=date(2026, 3, 20))

    with pytest.raises(InvalidInput, match="晚于截止日期"):
        validate_plan("排查", STARTS, ENDS, [backwards])


def test_the_campaign_bounds_themselves_are_inside():
    edges = a_stage(starts=STARTS, due=ENDS)

    assert validate_plan("排查", STARTS, ENDS, [edges]).stages == (edges,)


def test_a_stage_with_an_empty_title_is_refused():
    with pytest.raises(InvalidInput, match="没有名称"):
        validate_plan("排查", STARTS, ENDS, [replace(a_stage(), title=" ")])


def test_an_edited_template_date_outside_the_span_is_refused():
    # Arrange: the committee moves the 3月20日 deadline past the campaign's end.
    stages = list(stages_for(TemplateKey.city_2016, YEAR))
    stages[1] = replace(stages[1], due=date(2026, 7, 10))
    starts, ends = default_span(TemplateKey.city_2016, YEAR)

    # Act / Assert
    with pytest.raises(InvalidInput, match="登记造册、党员信息库"):
        validate_plan("2026年排查", starts, ends, stages)


# --- days_left ---


def test_days_left_counts_to_the_deadline():
    due = date(2026, 3, 20)

    assert days_left(due, date(2026, 3, 13)) == 7
    assert days_left(due, due) == 0
    assert days_left(due, date(2026, 3, 22)) == -2


def test_days_left_across_a_year_end():
    assert days_left(date(2027, 1, 2), date(2026, 12, 30)) == 3
