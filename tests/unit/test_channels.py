"""The search channels (SPEC §4, seed 001 step 2) and R-EXHAUSTED."""

from __future__ import annotations

import re

import pytest

from domain.channels import (
    AttemptResult,
    Channel,
    ChannelGroup,
    channels_in,
    covered_groups,
    missing_groups,
    required_groups,
    suggested_order,
)

G = ChannelGroup


# --- the catalogue ---


def test_groups_are_numbered_and_labelled_as_in_the_seed():
    assert [(int(g), g.label) for g in ChannelGroup] == [
        (1, "本人"),
        (2, "知情人"),
        (3, "12371党建热线/原籍地组织部门"),
        (4, "接收单位党组织"),
        (5, "部门协查"),
    ]


@pytest.mark.parametrize(
    ("group", "labels"),
    [
        (G.SELF, ["打电话", "发短信", "微信/网络", "登门走访"]),
        (G.INFORMANTS, ["亲属", "邻居", "同事", "同学", "朋友"]),
        (G.HOTLINE_OR_ORIGIN, ["12371党建热线", "原籍地组织部门"]),
        (G.RECEIVER, ["接收单位党组织"]),
        (
            G.DEPARTMENTS,
            [
                "公安(户籍系统)",
                "人社(社保平台)",
                "医保平台",
                "教育(学籍系统)",
                "民政(低保信息)",
                "卫生计生",
                "房产信息",
                "工商(经营注册信息)",
                "税务",
            ],
        ),
    ],
)
def test_each_group_holds_the_seed_channels_in_order(group: ChannelGroup, labels: list[str]):
    assert [c.label for c in channels_in(group)] == labels


def test_every_channel_belongs_to_exactly_one_group():
    # Act
    listed = [c for g in ChannelGroup for c in channels_in(g)]

    # Assert
    assert sorted(listed) == sorted(Channel)
    assert len(listed) == len(set(listed)) == 21


def test_channel_codes_are_callback_safe():
    # Telegram callback_data is at most 64 bytes; the code shares it with a prefix and ids.
    for channel in Channel:
        assert re.fullmatch(r"[a-z_]{1,12}", channel.value), channel
    for result in AttemptResult:
        assert re.fullmatch(r"[a-z_]{1,12}", result.value), result


def test_channel_round_trips_by_code_and_label():
    for channel in Channel:
        assert Channel(channel.value) is channel
        assert Channel.by_label(channel.label) is channel


def test_attempt_results_are_the_record_forms_three():
    assert [(r.value, r.label) for r in AttemptResult] == [
        ("reached", "取得联系"),
        ("not_reached", "未取得联系"),
        ("lead", "获得线索"),
    ]


# --- R-EXHAUSTED ---


def test_required_groups_are_one_two_three_and_five_R_EXHAUSTED():
    assert required_groups(is_pocket=False) == (
        G.SELF,
        G.INFORMANTS,
        G.HOTLINE_OR_ORIGIN,
        G.DEPARTMENTS,
    )


def test_pocket_member_also_needs_the_receiving_organisation_R_EXHAUSTED():
    assert required_groups(is_pocket=True) == tuple(ChannelGroup)


def test_all_four_groups_are_needed_R_EXHAUSTED():
    # Arrange
    covered = covered_groups([Channel.PHONE, Channel.RELATIVE, Channel.HOTLINE])

    # Act
    missing = missing_groups(covered, (), is_pocket=False)

    # Assert
    assert missing == (G.DEPARTMENTS,)


def test_covering_the_four_groups_exhausts_the_search_R_EXHAUSTED():
    # Arrange
    covered = covered_groups([Channel.VISIT, Channel.FRIEND, Channel.ORIGIN_ORG, Channel.POLICE])

    # Act / Assert
    assert missing_groups(covered, (), is_pocket=False) == ()


def test_pocket_member_is_not_exhausted_without_the_receiver_R_EXHAUSTED():
    # Arrange
    covered = covered_groups([Channel.VISIT, Channel.FRIEND, Channel.ORIGIN_ORG, Channel.POLICE])

    # Act / Assert
    assert missing_groups(covered, (), is_pocket=True) == (G.RECEIVER,)
    assert missing_groups([*covered, G.RECEIVER], (), is_pocket=True) == ()


def test_group_recorded_impossible_fills_the_gap_R_EXHAUSTED():
    # Arrange: no relatives, neighbours or colleagues known; the reason is kept by the caller.
    covered = covered_groups([Channel.PHONE, Channel.HOTLINE, Channel.TAX])

    # Act / Assert
    assert missing_groups(covered, (), is_pocket=False) == (G.INFORMANTS,)
    assert missing_groups(covered, [G.INFORMANTS], is_pocket=False) == ()


def test_a_lead_still_counts_as_covered_R_EXHAUSTED():
    # Arrange: (channel, result) as the attempts are stored; results do not matter.
    attempts = [
        (Channel.SMS, AttemptResult.NOT_REACHED),
        (Channel.CLASSMATE, AttemptResult.LEAD),
        (Channel.HOTLINE, AttemptResult.NOT_REACHED),
        (Channel.HR, AttemptResult.LEAD),
    ]

    # Act
    missing = missing_groups(covered_groups(c for c, _ in attempts), (), is_pocket=False)

    # Assert
    assert missing == ()


def test_nothing_tried_misses_every_group_in_seed_order_R_EXHAUSTED():
    assert missing_groups((), (), is_pocket=True) == (
        G.SELF,
        G.INFORMANTS,
        G.HOTLINE_OR_ORIGIN,
        G.RECEIVER,
        G.DEPARTMENTS,
    )


def test_stored_codes_and_numbers_are_accepted_R_EXHAUSTED():
    # Arrange: rows keep the channel code and the group number.
    covered = covered_groups(["phone", "neighbour", "origin_org", "medical"])

    # Act / Assert
    assert covered == {G.SELF, G.INFORMANTS, G.HOTLINE_OR_ORIGIN, G.DEPARTMENTS}
    assert missing_groups([1, 2, 3], [5], is_pocket=False) == ()


# --- where to look first ---


def test_suggested_order_follows_the_seed():
    assert suggested_order(is_pocket=False) == (
        G.SELF,
        G.INFORMANTS,
        G.HOTLINE_OR_ORIGIN,
        G.DEPARTMENTS,
    )


def test_pocket_member_search_starts_with_the_receiving_organisation_R_POCKET():
    assert suggested_order(is_pocket=True) == (
        G.RECEIVER,
        G.SELF,
        G.INFORMANTS,
        G.HOTLINE_OR_ORIGIN,
        G.DEPARTMENTS,
    )
