"""Code lists (代码表), exactly as the seeds give them (SPEC §6).

Each list stays with its form: the 流动 and 失联 occupation lists differ.
The enum value is the stored code; ``label`` is the official Chinese text.
"""

from __future__ import annotations

from enum import StrEnum


class CodeList(StrEnum):
    """A stored code with its official label; ``str`` so it stores as text."""

    label: str

    def __new__(cls, code: str, label: str) -> CodeList:
        obj = str.__new__(cls, code)
        obj._value_ = code
        obj.label = label
        return obj

    @classmethod
    def by_label(cls, text: str) -> CodeList | None:
        text = text.strip()
        for item in cls:
            if text in (item.label, item.value):
                return item
        return None


class Gender(CodeList):
    MALE = ("男", "男")
    FEMALE = ("女", "女")


class MemberType(CodeList):
    """党员类别."""

    FULL = ("正式", "正式党员")
    PROBATIONARY = ("预备", "预备党员")


class Education(CodeList):
    """文化程度, as the 2023 statistics count it (seed 003 附件2 G–I)."""

    HIGH_SCHOOL_OR_BELOW = ("高中(中专)以下", "高中(中专)以下")
    COLLEGE = ("大专", "大专")
    BACHELOR_OR_ABOVE = ("本科及以上", "本科及以上")


class MaritalStatus(CodeList):
    """婚姻状况 (seed 001 附件1 note 2)."""

    UNMARRIED = ("未婚", "未婚")
    MARRIED = ("已婚", "已婚")
    DIVORCED = ("离婚", "离婚")
    REMARRIED = ("复婚", "复婚")


class MobileOccupation(CodeList):
    """职业, 外出流动党员登记表 (seed 001 附件4)."""

    LAID_OFF = ("1", "企业解除劳动关系人员")
    RETIRED = ("2", "离退休干部职工")
    UNEMPLOYED_GRADUATE = ("3", "未就业的高校毕业生")
    MIGRANT_WORKER = ("4", "外出务工人员")
    OTHER = ("5", "其他")


class LostOccupation(CodeList):
    """职业, 经查找取得联系 / 仍然无法取得联系党员登记表 (seed 001 附件5/6)."""

    SOE_LAID_OFF = ("1", "国有企业解除劳动关系人员")
    PRIVATE_LEFT = ("2", "非公有制企业离职人员")
    RURAL_MIGRANT = ("3", "农村外出务工经商人员")
    RETIRED_PUBLIC = ("4", "机关事业单位离退休人员")
    GRADUATE = ("5", "高校毕业生")
    SEPARATED_RESIDENCE = ("6", "街道社区人户分离人员")
    TALENT_CENTRE = ("7", "组织关系在人才中心人员")
    OTHER = ("8", "其他")


class PartyOrgType(CodeList):
    """党组织类型, 外出流动党员登记表 (seed 001 附件4)."""

    RURAL = ("1", "农村")
    STREET_COMMUNITY = ("2", "街道社区")
    GOVERNMENT = ("3", "党政机关")
    STATE_ENTERPRISE = ("4", "国有企业")
    PRIVATE_ENTERPRISE = ("5", "非公企业")
    SOCIAL_ORG = ("6", "社会组织")
    EMPLOYMENT_SERVICE = ("7", "公共就业和人才服务机构")
    SCHOOL = ("8", "学校")
    OTHER_INSTITUTION = ("9", "其他事业单位")
    OTHER = ("10", "其他")
