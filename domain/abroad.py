"""出国（境）情况 (seed 001 附件1 note 7): the block's code lists and the one
rule of being abroad that the card, the 党员基本信息表 and the dispositions share.

The stored value of each choice is the note's own words (the ``member``
columns hold them as text, migration 0011), so a register keeps its meaning
if a list grows. 出国日期 and 回国日期 are partial dates (ISO text, a month
is enough) read by ``domain.dates.parse_date`` like the record's other dates.
"""

from __future__ import annotations

from domain.codes import CodeList
from domain.dates import PartialDate


class AbroadReason(CodeList):
    """出国原因: 出国（境）的目的或任务."""

    PRIVATE = ("因私", "因私")
    OFFICIAL = ("因公", "因公")
    STUDY = ("留学", "留学")
    POSTED = ("外派", "外派")
    FAMILY_VISIT = ("探亲", "探亲")
    SETTLED = ("定居", "定居")


class AbroadContact(CodeList):
    """出国后与组织联系情况."""

    REGULAR = ("定期", "定期")
    IRREGULAR = ("不定期", "不定期")
    LOST = ("失去联系", "失去联系")


class AbroadPartyStatus(CodeList):
    """党籍处理方式: 出国（境）前申请保留党籍 (its length as
    ``domain.dispositions.RetainLength`` words it), 未办理 or 停止党籍."""

    RETAIN_3M = ("保留党籍三个月", "保留党籍三个月")
    RETAIN_6M = ("保留党籍六个月", "保留党籍六个月")
    RETAIN_1Y = ("保留党籍一年", "保留党籍一年")
    RETAIN_2Y = ("保留党籍二年", "保留党籍二年")
    RETAIN_3Y = ("保留党籍三年", "保留党籍三年")
    RETAIN_OVER_3Y = ("保留党籍三年以上", "保留党籍三年以上")
    NOT_DONE = ("未办理", "未办理")
    SUSPENDED = ("停止党籍", "停止党籍")


class OrgLifeRestored(CodeList):
    """恢复组织生活情况: 回国后重新参加组织生活的情况."""

    RESTORED = ("已恢复", "已恢复")
    APPLIED = ("已申请未恢复", "已申请未恢复")
    NOT_APPLIED = ("未申请", "未申请")


def is_abroad(abroad_date: str | None, return_date: str | None) -> bool:
    """The record says the member is abroad now: left (出国日期) and not back
    (no 回国日期)."""
    return bool(abroad_date) and not return_date


def returned_before_leaving(abroad_date: str | None, return_date: str | None) -> bool:
    """回国日期 earlier than 出国日期. Either may be known only to the month:
    then the two are compared by month, so 2024年3月 back after 2024年3月10日
    out is not refused."""
    if not abroad_date or not return_date:
        return False
    out, back = PartialDate.from_iso(abroad_date), PartialDate.from_iso(return_date)
    if out.day is None or back.day is None:
        return (back.year, back.month) < (out.year, out.month)
    return back < out
