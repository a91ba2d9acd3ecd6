"""The search channels (联系查找渠道, SPEC §4) and when they are exhausted (R-EXHAUSTED).

Groups and channels follow seed 001 step 2: the member directly, then people
who know them, then the 12371 hotline and the home-town organisation
department; the receiving organisation for a pocket member; last, the
departments' systems through the committee. Codes go into Telegram
callback_data (64 bytes in all), so each stays short ASCII.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum

from domain.codes import CodeList


class ChannelGroup(IntEnum):
    SELF = 1
    INFORMANTS = 2
    HOTLINE_OR_ORIGIN = 3
    RECEIVER = 4
    DEPARTMENTS = 5

    @property
    def label(self) -> str:
        return _GROUP_LABELS[self]


_GROUP_LABELS = {
    ChannelGroup.SELF: "本人",
    ChannelGroup.INFORMANTS: "知情人",
    ChannelGroup.HOTLINE_OR_ORIGIN: "12371党建热线/原籍地组织部门",
    ChannelGroup.RECEIVER: "接收单位党组织",
    ChannelGroup.DEPARTMENTS: "部门协查",
}


class Channel(CodeList):
    """One way of looking for the member; ``group`` is its channel group."""

    group: ChannelGroup

    def __new__(cls, code: str, label: str, group: ChannelGroup) -> Channel:
        obj = str.__new__(cls, code)
        obj._value_ = code
        obj.label = label
        obj.group = group
        return obj

    # 1 本人
    PHONE = ("phone", "打电话", ChannelGroup.SELF)
    SMS = ("sms", "发短信", ChannelGroup.SELF)
    WECHAT = ("wechat", "微信/网络", ChannelGroup.SELF)
    VISIT = ("visit", "登门走访", ChannelGroup.SELF)
    # 2 知情人
    RELATIVE = ("relative", "亲属", ChannelGroup.INFORMANTS)
    NEIGHBOUR = ("neighbour", "邻居", ChannelGroup.INFORMANTS)
    COLLEAGUE = ("colleague", "同事", ChannelGroup.INFORMANTS)
    CLASSMATE = ("classmate", "同学", ChannelGroup.INFORMANTS)
    FRIEND = ("friend", "朋友", ChannelGroup.INFORMANTS)
    # 3 12371党建热线 / 原籍地组织部门
    HOTLINE = ("hotline", "12371党建热线", ChannelGroup.HOTLINE_OR_ORIGIN)
    ORIGIN_ORG = ("origin_org", "原籍地组织部门", ChannelGroup.HOTLINE_OR_ORIGIN)
    # 4 接收单位党组织 (口袋党员: seed 001 step 2 — ask here first)
    RECEIVER = ("receiver", "接收单位党组织", ChannelGroup.RECEIVER)
    # 5 部门协查, through the committee (seed 001 step 2)
    POLICE = ("police", "公安(户籍系统)", ChannelGroup.DEPARTMENTS)
    HR = ("hr", "人社(社保平台)", ChannelGroup.DEPARTMENTS)
    MEDICAL = ("medical", "医保平台", ChannelGroup.DEPARTMENTS)
    EDUCATION = ("education", "教育(学籍系统)", ChannelGroup.DEPARTMENTS)
    CIVIL = ("civil", "民政(低保信息)", ChannelGroup.DEPARTMENTS)
    HEALTH = ("health", "卫生计生", ChannelGroup.DEPARTMENTS)
    HOUSING = ("housing", "房产信息", ChannelGroup.DEPARTMENTS)
    COMMERCE = ("commerce", "工商(经营注册信息)", ChannelGroup.DEPARTMENTS)
    TAX = ("tax", "税务", ChannelGroup.DEPARTMENTS)


def channels_in(group: ChannelGroup) -> tuple[Channel, ...]:
    return tuple(c for c in Channel if c.group == group)


class AttemptResult(CodeList):
    """Result of one attempt (查找联系失联党员情况记录表, seed 001 附件3)."""

    REACHED = ("reached", "取得联系")
    NOT_REACHED = ("not_reached", "未取得联系")
    LEAD = ("lead", "获得线索")


_BASE_GROUPS = (
    ChannelGroup.SELF,
    ChannelGroup.INFORMANTS,
    ChannelGroup.HOTLINE_OR_ORIGIN,
    ChannelGroup.DEPARTMENTS,
)


def required_groups(is_pocket: bool) -> tuple[ChannelGroup, ...]:
    """R-EXHAUSTED: the groups a search must cover, in the seed's order."""
    return tuple(ChannelGroup) if is_pocket else _BASE_GROUPS


def covered_groups(channels: Iterable[Channel | str]) -> frozenset[ChannelGroup]:
    """The groups the attempts used, whatever their result (a lead counts)."""
    return frozenset(Channel.of(c).group for c in channels)


def missing_groups(
    covered: Iterable[ChannelGroup],
    impossible: Iterable[ChannelGroup],
    is_pocket: bool,
) -> tuple[ChannelGroup, ...]:
    """R-EXHAUSTED: the required groups neither tried nor recorded as impossible
    (the caller keeps the reason). Empty means 经查找仍然无法取得联系 may be declared;
    seed 002 undoes dispositions made before the channels were exhausted."""
    done = {ChannelGroup(g) for g in covered} | {ChannelGroup(g) for g in impossible}
    return tuple(g for g in required_groups(is_pocket) if g not in done)


def suggested_order(is_pocket: bool) -> tuple[ChannelGroup, ...]:
    """Where to look first: for a pocket member the receiving organisation
    (seed 001 step 2), then the rest in the seed's order."""
    if is_pocket:
        return (ChannelGroup.RECEIVER, *_BASE_GROUPS)
    return _BASE_GROUPS
