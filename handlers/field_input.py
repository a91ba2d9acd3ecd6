"""Asking for one member field (填写一项): the prompt, its buttons, and turning
the answer into the stored value. Shared by /add and the card's edit button,
so both ask the same way and refuse the same things."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from domain.errors import N_
from domain.member_fields import FieldSpec, Kind

SKIP, TODAY, CLEAR, REST = "skip", "today", "clear", "rest"


class FieldAnswer(CallbackData, prefix="fa"):
    """A tapped answer: ``c<i>`` the i-th choice, or skip / today / clear / rest."""

    value: str


_HINTS = {
    Kind.MONTH: N_("例如 1985-06 或 1985年6月（知道具体日期也可以写上）"),
    Kind.DAY: N_("例如 2026-03-18、2026.3.18 或 2026年3月18日"),
    Kind.ID_NUMBER: N_("18位身份证号，最后一位可以是X"),
    Kind.PHONE: N_("例如 13900001234"),
}


_CHOOSE = (Kind.CHOICE, Kind.YES_NO, Kind.CATEGORY)


def choice_labels(spec: FieldSpec, listed: Sequence[str] = ()) -> list[str]:
    """The buttons; ``listed`` is the committee's 人员类别 list for that field."""
    if spec.kind is Kind.CATEGORY:
        return list(listed)
    if spec.kind is Kind.YES_NO:
        return ["是", "否"]
    assert spec.choices is not None
    return [c.label for c in spec.choices]


def prompt(
    spec: FieldSpec,
    *,
    step: str = "",
    optional: bool | None = None,
    allow_clear: bool = False,
    allow_rest: bool = False,
    listed: Sequence[str] = (),
) -> tuple[str, InlineKeyboardMarkup]:
    optional = not spec.required if optional is None else optional
    head = f"{step} " if step else ""
    ask = _("请输入“{label}”").format(label=_(spec.label))
    if spec.kind in _CHOOSE:
        ask = _("请选择“{label}”").format(label=_(spec.label))
    text = f"{head}{ask}" + ("" if not optional else _("（可跳过）"))
    hint = _HINTS.get(spec.kind)
    if hint:
        text += "\n" + _(hint)
    if spec.kind is Kind.TEXT:
        text += "\n" + _("最多{max}个字").format(max=spec.max_len)
    rows: list[list[InlineKeyboardButton]] = []
    if spec.kind in _CHOOSE:
        buttons = [
            InlineKeyboardButton(text=label, callback_data=FieldAnswer(value=f"c{i}").pack())
            for i, label in enumerate(choice_labels(spec, listed))
        ]
        rows += [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    if spec.kind is Kind.DAY:
        rows.append(
            [InlineKeyboardButton(text=_("今天"), callback_data=FieldAnswer(value=TODAY).pack())]
        )
    extra = []
    if optional:
        extra.append(
            InlineKeyboardButton(text=_("跳过 ⏭"), callback_data=FieldAnswer(value=SKIP).pack())
        )
    if allow_rest:
        extra.append(
            InlineKeyboardButton(
                text=_("跳过其余，去确认"), callback_data=FieldAnswer(value=REST).pack()
            )
        )
    if allow_clear:
        extra.append(
            InlineKeyboardButton(text=_("清空此项"), callback_data=FieldAnswer(value=CLEAR).pack())
        )
    if extra:
        rows.append(extra)
    rows.append([InlineKeyboardButton(text=_("取消"), callback_data="cancel")])
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


def tapped_value(spec: FieldSpec, answer: str, today: date, listed: Sequence[str] = ()) -> Any:
    """The stored value for a tapped button (choices, 今天)."""
    if answer == TODAY:
        return today
    if answer.startswith("c") and spec.kind in _CHOOSE:
        labels = choice_labels(spec, listed)
        index = int(answer[1:])
        if not 0 <= index < len(labels):
            raise ValueError("choice out of range")
        return spec.parse(labels[index], today=today)
    raise ValueError(f"unexpected answer {answer!r}")


def to_state(spec: FieldSpec, value: Any) -> Any:
    """JSON-safe form for the FSM data (dates as ISO text)."""
    if isinstance(value, date):
        return value.isoformat()
    return value


def from_state(spec: FieldSpec, value: Any) -> Any:
    if value is not None and spec.kind is Kind.DAY:
        return date.fromisoformat(value)
    return value
