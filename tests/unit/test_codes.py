"""Code lists exactly as the seeds give them (SPEC §6): labels, codes and order,
each list with its own form."""

from __future__ import annotations

import pytest

from domain.codes import (
    CodeList,
    FlowDirection,
    FoundOrgCategory,
    LostContactReason,
    MisconductCheck,
    MobileIndustry,
    MobileRegion,
    UnreachableOrgCategory,
)


def codes_and_labels(codes: type[CodeList]) -> list[tuple[str, str]]:
    return [(c.value, c.label) for c in codes]


def test_lost_contact_reasons_follow_the_registers_seed_001_attachments_5_6():
    assert codes_and_labels(LostContactReason) == [
        ("1", "外出务工经商"),
        ("2", "单位改制或破产"),
        ("3", "毕业后去向不明"),
        ("4", "工作单位改变"),
        ("5", "出国（境）"),
        ("6", "居住地改变"),
        ("7", "其他"),
    ]


def test_found_register_org_category_has_nine_codes_with_street_community():
    assert codes_and_labels(FoundOrgCategory) == [
        ("1", "国有企业"),
        ("2", "非公有制企业"),
        ("3", "农村"),
        ("4", "党政机关"),
        ("5", "学校"),
        ("6", "其他事业单位"),
        ("7", "街道社区"),
        ("8", "社会组织"),
        ("9", "其他"),
    ]


def test_unreachable_register_org_category_has_no_street_community():
    # Act
    labels = [c.label for c in UnreachableOrgCategory]

    # Assert: seed 001 附件6 note 6 — the 附件5 list without 街道社区, renumbered.
    assert "街道社区" not in labels
    assert codes_and_labels(UnreachableOrgCategory) == [
        ("1", "国有企业"),
        ("2", "非公有制企业"),
        ("3", "农村"),
        ("4", "党政机关"),
        ("5", "学校"),
        ("6", "其他事业单位"),
        ("7", "社会组织"),
        ("8", "其他"),
    ]
    assert labels == [c.label for c in FoundOrgCategory if c.label != "街道社区"]


def test_flow_direction_has_the_six_codes_of_the_mobile_register():
    assert codes_and_labels(FlowDirection) == [
        ("1", "县域范围内流动"),
        ("2", "市内跨县流动"),
        ("3", "跨市流动"),
        ("4", "跨省流动"),
        ("5", "出国（境）"),
        ("6", "无固定地点"),
    ]


def test_mobile_region_is_columns_v_to_x():
    assert codes_and_labels(MobileRegion) == [
        ("V", "市州内"),
        ("W", "市外省内"),
        ("X", "省外"),
    ]


def test_mobile_industry_is_columns_j_to_u_twelve_entries():
    # Act
    found = codes_and_labels(MobileIndustry)

    # Assert
    assert len(found) == 12
    assert [code for code, _ in found] == list("JKLMNOPQRSTU")
    assert found == [
        ("J", "个体经商"),
        ("K", "在工程、建筑行业务工"),
        ("L", "两新组织员工(职工)"),
        ("M", "单位(公司)派驻外地工作"),
        ("N", "快递员"),
        ("O", "外卖送餐员"),
        ("P", "网约车司机"),
        ("Q", "货车司机"),
        ("R", "照顾家庭或异地居住"),
        ("S", "灵活就业"),
        ("T", "已毕业但尚未就业"),
        ("U", "其他"),
    ]


def test_misconduct_checks_are_the_three_ways_of_seed_002():
    assert codes_and_labels(MisconductCheck) == [
        ("self", "本人情况说明"),
        ("letter", "函询"),
        ("authority", "纪检、公安"),
    ]


@pytest.mark.parametrize(
    "codes",
    [
        LostContactReason,
        FoundOrgCategory,
        UnreachableOrgCategory,
        FlowDirection,
        MobileRegion,
        MobileIndustry,
        MisconductCheck,
    ],
)
def test_by_label_round_trips(codes: type[CodeList]):
    for item in codes:
        assert codes.by_label(item.label) is item
        assert codes.by_label(f" {item.value} ") is item
        assert codes(item.value) is item
    assert codes.by_label("不存在的选项") is None


def test_same_label_keeps_each_forms_own_code():
    # 社会组织 is ⑧ on 附件5 but ⑦ on 附件6: a code is only read with its form's list.
    assert FoundOrgCategory.by_label("社会组织") == "8"
    assert UnreachableOrgCategory.by_label("社会组织") == "7"
