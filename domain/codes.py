"""Code lists (代码表), exactly as the seeds give them (SPEC §6).

Each list stays with its form: the 流动 and 失联 occupation lists differ.
The enum value is the stored code; ``label`` is the official Chinese text.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self


class CodeList(StrEnum):
    """A stored code with its official label; ``str`` so it stores as text."""

    label: str

    def __new__(cls, code: str, label: str) -> CodeList:
        obj = str.__new__(cls, code)
        obj._value_ = code
        obj.label = label
        return obj

    @classmethod
    def of(cls, code: str) -> Self:
        """The member with this stored code (ValueError if none). Same as
        ``cls(code)``, which type checkers misread as the two-argument __new__."""
        return cls(code)  # type: ignore[call-arg]

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


class FlowDirection(CodeList):
    """外出流向, 外出流动党员登记表 (seed 001 附件4 note 4).

    附件1 note 6 names five of these (no 出国（境）); the register's list has six.
    """

    WITHIN_COUNTY = ("1", "县域范围内流动")
    ACROSS_COUNTIES = ("2", "市内跨县流动")
    ACROSS_CITIES = ("3", "跨市流动")
    ACROSS_PROVINCES = ("4", "跨省流动")
    ABROAD = ("5", "出国（境）")
    NO_FIXED_PLACE = ("6", "无固定地点")


class LostContactReason(CodeList):
    """失去联系情形, 经查找取得联系 / 仍然无法取得联系党员登记表 (seed 001 附件5/6 note 5;
    附件3 note 3 names the same seven). For 其他 the reason goes in 备注."""

    WORK_OR_BUSINESS_AWAY = ("1", "外出务工经商")
    RESTRUCTURED_OR_BANKRUPT = ("2", "单位改制或破产")
    GRADUATE_WHEREABOUTS_UNKNOWN = ("3", "毕业后去向不明")
    EMPLOYER_CHANGED = ("4", "工作单位改变")
    ABROAD = ("5", "出国（境）")
    RESIDENCE_CHANGED = ("6", "居住地改变")
    OTHER = ("7", "其他")


class FoundOrgCategory(CodeList):
    """党组织类别, 经查找取得联系党员登记表 (seed 001 附件5 note 6): nine codes."""

    STATE_ENTERPRISE = ("1", "国有企业")
    NON_PUBLIC_ENTERPRISE = ("2", "非公有制企业")
    RURAL = ("3", "农村")
    GOVERNMENT = ("4", "党政机关")
    SCHOOL = ("5", "学校")
    OTHER_INSTITUTION = ("6", "其他事业单位")
    STREET_COMMUNITY = ("7", "街道社区")
    SOCIAL_ORG = ("8", "社会组织")
    OTHER = ("9", "其他")


class UnreachableOrgCategory(CodeList):
    """党组织类别, 经查找仍然无法取得联系党员登记表 (seed 001 附件6 note 6): eight
    codes, the 附件5 list without 街道社区, so 社会组织 is ⑦ and 其他 ⑧ here."""

    STATE_ENTERPRISE = ("1", "国有企业")
    NON_PUBLIC_ENTERPRISE = ("2", "非公有制企业")
    RURAL = ("3", "农村")
    GOVERNMENT = ("4", "党政机关")
    SCHOOL = ("5", "学校")
    OTHER_INSTITUTION = ("6", "其他事业单位")
    SOCIAL_ORG = ("7", "社会组织")
    OTHER = ("8", "其他")


class MobileIndustry(CodeList):
    """从事行业或流动原因, 流出党员有关情况统计表 columns J–U (seed 003 附件2);
    the 流出党员基本信息登记表 (附件1) fills its column from the same list.
    Cases under U 其他 are named with their counts in the table's 备注."""

    SELF_EMPLOYED = ("J", "个体经商")
    CONSTRUCTION_WORKER = ("K", "在工程、建筑行业务工")
    NEW_ORG_EMPLOYEE = ("L", "两新组织员工(职工)")
    POSTED_AWAY = ("M", "单位(公司)派驻外地工作")
    COURIER = ("N", "快递员")
    FOOD_DELIVERY = ("O", "外卖送餐员")
    RIDE_HAILING_DRIVER = ("P", "网约车司机")
    TRUCK_DRIVER = ("Q", "货车司机")
    FAMILY_OR_LIVING_AWAY = ("R", "照顾家庭或异地居住")
    FLEXIBLE_EMPLOYMENT = ("S", "灵活就业")
    GRADUATE_NOT_EMPLOYED = ("T", "已毕业但尚未就业")
    OTHER = ("U", "其他")


class MobileRegion(CodeList):
    """流向区域, 流出党员有关情况统计表 columns V–X (seed 003 附件2)."""

    WITHIN_PREFECTURE = ("V", "市州内")
    OUTSIDE_CITY_IN_PROVINCE = ("W", "市外省内")
    OUTSIDE_PROVINCE = ("X", "省外")


class MisconductCheck(CodeList):
    """How 失联期间有无不合格表现或违纪违法行为 was checked (seed 002 中组发〔2016〕30号 §二:
    本人提交情况说明, 函询 the former unit or residence's Party organisation, 到纪检、公安机关了解)."""

    SELF_STATEMENT = ("self", "本人情况说明")
    LETTER_OF_INQUIRY = ("letter", "函询")
    AUTHORITIES = ("authority", "纪检、公安")


class Relation(CodeList):
    """称谓: seed 001 names 配偶、子女、父母; 重要社会关系 adds the rest."""

    SPOUSE = ("配偶", "配偶")
    CHILD = ("子女", "子女")
    FATHER = ("父亲", "父亲")
    MOTHER = ("母亲", "母亲")
    SIBLING = ("兄弟姐妹", "兄弟姐妹")
    RELATIVE = ("其他亲属", "其他亲属")
    FRIEND = ("朋友", "朋友")
    OTHER = ("其他", "其他社会关系")
