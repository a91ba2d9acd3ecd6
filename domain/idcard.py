"""居民身份证号码 checks: GB 11643-1999 (ISO 7064 MOD 11-2 check digit).

18-character numbers are checked fully; 15-digit numbers issued before 1999
are accepted and flagged ``legacy`` (SPEC §2), their birth date read as 19YY.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.errors import N_, InvalidInput

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


@dataclass(frozen=True)
class IdNumber:
    value: str
    birth: date
    gender: str  # "男" / "女": the 17th digit, odd for men
    legacy: bool = False

    @property
    def masked(self) -> str:
        return mask_id_number(self.value)

    @property
    def equivalents(self) -> tuple[str, ...]:
        """This number and its other form: a 15-digit number issued before 1999
        is the same person as its 18-digit upgrade (19 inserted, check digit
        added), so uniqueness is checked against both."""
        if self.legacy:
            first17 = self.value[:6] + "19" + self.value[6:]
            return (self.value, first17 + check_digit(first17))
        if self.value[6:8] == "19":
            return (self.value, self.value[:6] + self.value[8:17])
        return (self.value,)


def check_digit(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def normalise(text: str) -> str:
    table = str.maketrans("０１２３４５６７８９ｘＸ", "0123456789XX")
    return text.strip().replace(" ", "").translate(table).upper()


def parse_id_number(text: str) -> IdNumber:
    value = normalise(text)
    if len(value) not in (15, 18):
        raise InvalidInput(
            N_("身份证号应为18位（或旧版15位），现在是{length}位。"), length=len(value)
        )
    if len(value) == 15:
        if not value.isdigit():
            raise InvalidInput(N_("15位身份证号只能是数字。"))
        birth = _birth(value, "19" + value[6:12])
        gender = "男" if int(value[14]) % 2 else "女"
        return IdNumber(value, birth, gender, legacy=True)
    if not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        raise InvalidInput(N_("身份证号前17位只能是数字，最后一位是数字或X。"))
    expected = check_digit(value[:17])
    if value[17] != expected:
        raise InvalidInput(
            N_("身份证号校验位不对（最后一位应为{expected}），请核对号码。"), expected=expected
        )
    birth = _birth(value, value[6:14])
    gender = "男" if int(value[16]) % 2 else "女"
    return IdNumber(value, birth, gender)


def _birth(value: str, ymd: str) -> date:
    try:
        return date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:8]))
    except ValueError:
        raise InvalidInput(N_("身份证号中的出生日期{ymd}不存在，请核对号码。"), ymd=ymd) from None


def mask_id_number(value: str | None) -> str:
    """Keep the region (4) and the last 4, as SPEC §1 shows: 4101**********123X."""
    if not value:
        return ""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str | None) -> str:
    if not value:
        return ""
    if len(value) <= 7:
        return value[:1] + "*" * (len(value) - 1)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]
