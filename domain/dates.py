"""The one date parser (日期解析) and calendar arithmetic.

Secretaries type dates many ways; all of these mean the same day:
2016-03-18, 2016.3.18, 2016/3/18, 2016年3月18日, 20160318. Fields that allow it
take a year and month alone (2016-03, 2016年3月): 出生年月 and 入党时间 are often
known only to the month. Time is a parameter: ``today`` is always passed in.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from domain.errors import N_, InvalidInput

_FULLWIDTH = str.maketrans("０１２３４５６７８９／．－", "0123456789/.-")
_YMD = re.compile(r"^(\d{4})\s*[-./年]\s*(\d{1,2})\s*[-./月]\s*(\d{1,2})\s*日?$")
_YM = re.compile(r"^(\d{4})\s*[-./年]\s*(\d{1,2})\s*月?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})?$")


@dataclass(frozen=True, order=True)
class PartialDate:
    """A date that may be known only to the month (day is None)."""

    year: int
    month: int
    day: int | None = None

    @classmethod
    def of(cls, d: date) -> PartialDate:
        return cls(d.year, d.month, d.day)

    @classmethod
    def from_iso(cls, text: str) -> PartialDate:
        parts = [int(p) for p in text.split("-")]
        return cls(parts[0], parts[1], parts[2] if len(parts) > 2 else None)

    @property
    def is_month(self) -> bool:
        return self.day is None

    def first_day(self) -> date:
        return date(self.year, self.month, self.day or 1)

    def iso(self) -> str:
        if self.day is None:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"

    def zh(self) -> str:
        if self.day is None:
            return f"{self.year}年{self.month}月"
        return f"{self.year}年{self.month}月{self.day}日"


def parse_date(
    text: str,
    *,
    today: date,
    allow_month: bool = False,
    allow_future: bool = False,
    earliest: date = date(1900, 1, 1),
) -> PartialDate:
    raw = text.strip().translate(_FULLWIDTH)
    found = _YMD.match(raw) or _YM.match(raw) or _COMPACT.match(raw)
    if not found:
        raise InvalidInput(
            N_(
                "日期格式看不懂：{text}。请写成 2016-03-18、2016.3.18、2016/3/18 或 2016年3月18日。"
            ),
            text=text.strip()[:40],
        )
    groups = found.groups()
    year, month = int(groups[0]), int(groups[1])
    day = int(groups[2]) if len(groups) > 2 and groups[2] else None
    if not 1 <= month <= 12:
        raise InvalidInput(N_("没有{month}月，请检查月份。"), month=month)
    if day is None and not allow_month:
        raise InvalidInput(N_("这里需要具体到日，例如 2016-03-18。"))
    if day is not None and not 1 <= day <= calendar.monthrange(year, month)[1]:
        raise InvalidInput(
            N_("{year}年{month}月没有{day}日，请检查日期。"), year=year, month=month, day=day
        )
    value = PartialDate(year, month, day)
    # Compare as numbers first: year 0000 has no ``date`` and would escape as a bare ValueError.
    if (year, month, day or 1) < (earliest.year, earliest.month, earliest.day):
        raise InvalidInput(N_("日期{date}太早了，请检查年份。"), date=value.zh())
    if not allow_future and value.first_day() > today:
        raise InvalidInput(N_("日期{date}在今天之后，不能是将来的日期。"), date=value.zh())
    return value


def add_months(d: date, months: int) -> date:
    """Calendar months, clamped to the month's end (31 May + 6 months = 30 November)."""
    index = d.year * 12 + (d.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))
