"""Masking personal data inside free text (脱敏): what the audit view shows
of an old or new value, and what the process log keeps (R-CONFIDENTIAL).

The masks are the project's own (``domain.idcard``): 4101**********123X for
an ID number, 138****0000 for a mobile number, so a masked value looks the
same in a list, the audit view and a log line. Pure: no I/O.
"""

from __future__ import annotations

import re

from domain.idcard import mask_id_number, mask_phone

# 18 characters: 17 digits and a digit or X check character; not part of a
# longer run of digits (a Telegram id or a timestamp is left alone unless it
# is exactly that shape). The 15-digit first-generation number too.
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
# A mainland mobile number: 11 digits starting 13–19, optionally +86 / 86 before it.
MOBILE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)")
# Han characters (CJK Unified Ideographs and extension A, compatibility ideographs).
CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def mask_numbers(text: str) -> str:
    """ID numbers and mobile numbers in ``text`` masked; the rest kept."""
    text = ID_NUMBER.sub(lambda m: mask_id_number(m.group(0)), text)
    return MOBILE.sub(lambda m: mask_phone(m.group(1) + m.group(2) + m.group(3)), text)


def mask_cjk(text: str) -> str:
    """Every run of Han characters replaced by as many ＊: a member's name,
    address or work unit written in Chinese cannot survive, whatever key (or
    none) stands before it."""
    return CJK_RUN.sub(lambda m: "＊" * len(m.group(0)), text)


def mask_address(value: str | None) -> str:
    """A home address: its first two characters (the province or city), the rest masked."""
    if not value:
        return ""
    return value[:2] + "*" * max(1, min(8, len(value) - 2))
