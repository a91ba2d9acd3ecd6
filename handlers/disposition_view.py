"""How a case (处置) looks in chat: its summary, the outcomes one may choose,
the facts a step asks for, and the buttons. Pure helpers: no session, no
sending; handlers/dispositions.py calls them.

What a step needs comes from ``domain.dispositions.PLANS`` (StepRule.needs),
its labels from ``FACT_LABELS``: nothing is listed twice here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from enum import StrEnum
from typing import Any

from aiogram import html
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from domain.codes import CodeList
from domain.dispositions import (
    FACT_LABELS,
    Outcome,
    RemovalGround,
    RetainLength,
    Side,
    Status,
    Step,
    StepRule,
    suspension_ends,
)
from domain.errors import N_, InvalidInput
from handlers.member_view import MemberAction
from storage.models import Member

# ---- callback data: ids only (64 bytes) --------------------------------------------------------


class CaseAction(CallbackData, prefix="dsp"):
    """``id`` is a member id for "cases" / "new" / "go", a disposition id
    otherwise; ``arg`` the outcome, the expected position or an appeal id."""

    action: str
    id: int
    arg: str = ""


class Decision(CallbackData, prefix="dsd"):
    """批准 / 退回: the disposition and the position the button was made for,
    nothing else (a replay finds the case moved on)."""

    id: int
    expected: int
    ok: bool


class FlowAnswer(CallbackData, prefix="dsa"):
    """A tapped answer inside a step's flow: a choice's code, yes/no, today, skip…"""

    value: str


TODAY, SKIP, SAVE, YES, NO = "today", "skip", "save", "yes", "no"

# ---- the facts a step asks -------------------------------------------------------------------


class Kind(StrEnum):
    DATE = "date"
    FUTURE_DATE = "future_date"  # a deadline or an end: after the step's day
    NUMBER = "number"
    YES_NO = "yes_no"
    CHOICE = "choice"
    TEXT = "text"


ON = "on"  # the step's own date, asked first
KINDS: dict[str, Kind] = {
    ON: Kind.DATE,
    "notified_on": Kind.DATE,
    "deadline": Kind.FUTURE_DATE,
    "until": Kind.FUTURE_DATE,
    "present": Kind.NUMBER,
    "votes_for": Kind.NUMBER,
    "votes_against": Kind.NUMBER,
    "votes_abstain": Kind.NUMBER,
    "months": Kind.NUMBER,
    "signed": Kind.YES_NO,
    "corrected": Kind.YES_NO,
    "ground": Kind.CHOICE,
    "length": Kind.CHOICE,
}
CHOICES: dict[str, type[CodeList]] = {"ground": RemovalGround, "length": RetainLength}
OPTIONAL = frozenset({"until"})  # 三年以上: the end date if known
MAX_TEXT = 500


def kind_of(key: str) -> Kind:
    return KINDS.get(key, Kind.TEXT)


def label_of(key: str) -> str:
    return _("办理日期") if key == ON else FACT_LABELS.get(key, key)


def keys_for(rule: StepRule) -> list[str]:
    """What the flow asks, in order: the date, then the step's facts."""
    return [ON, *rule.needs]


def follow_ups(key: str, value: Any) -> list[str]:
    """Facts one answer calls for: why the member did not sign (the notice
    asks it), the end of a retention of more than three years."""
    if key == "signed" and value is False:
        return ["unsigned_reason"]
    if key == "length" and value == RetainLength.OVER_3Y.value:
        return ["until"]
    return []


def parse_number(text: str) -> int:
    raw = text.strip().translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if not raw.isdigit():
        raise InvalidInput(N_("请输入不小于0的整数，例如 25。"))
    return int(raw)


def ask(key: str, step: Step, index: int, total: int) -> tuple[str, InlineKeyboardMarkup]:
    """The question for one fact, with its buttons."""
    kind = kind_of(key)
    head = f"<b>{html.quote(step.label)}</b>（{index}/{total}）\n"
    rows: list[list[InlineKeyboardButton]] = []
    if kind in (Kind.YES_NO, Kind.CHOICE):
        text = _("请选择“{label}”").format(label=label_of(key))
    else:
        text = _("请输入“{label}”").format(label=label_of(key))
    if kind is Kind.DATE:
        text += "\n" + _("例如 2026-03-18、2026.3.18 或 2026年3月18日")
        rows.append([_answer(_("今天"), TODAY)])
    elif kind is Kind.FUTURE_DATE:
        text += "\n" + _("例如 2027-03-18（可以是将来的日期）")
    elif kind is Kind.NUMBER:
        text += "\n" + _("写一个整数，例如 25")
    elif kind is Kind.YES_NO:
        rows.append([_answer(_("是"), YES), _answer(_("否"), NO)])
    elif kind is Kind.CHOICE:
        rows += [[_answer(c.label, c.value)] for c in CHOICES[key]]
    else:
        text += "\n" + _("最多{max}个字").format(max=MAX_TEXT)
    if key in OPTIONAL:
        rows.append([_answer(_("跳过 ⏭"), SKIP)])
    rows.append([InlineKeyboardButton(text=_("取消"), callback_data="cancel")])
    return head + text, InlineKeyboardMarkup(inline_keyboard=rows)


def date_prompt(title: str) -> tuple[str, InlineKeyboardMarkup]:
    """A date asked outside a step (申诉, 复查): typed, or 今天."""
    text = title + "\n" + _("例如 2026-03-18、2026.3.18 或 2026年3月18日")
    rows = [
        [_answer(_("今天"), TODAY)],
        [InlineKeyboardButton(text=_("取消"), callback_data="cancel")],
    ]
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


def _answer(text: str, value: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=FlowAnswer(value=value).pack())


def fact_text(key: str, value: Any) -> str:
    """One recorded fact as words (是/否, a choice's label, a date)."""
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if key in CHOICES and isinstance(value, str):
        found = CHOICES[key].by_label(value)
        return found.label if found else value
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def facts_lines(facts: Mapping[str, Any], indent: str = "   ") -> list[str]:
    votes = ("present", "votes_for", "votes_against", "votes_abstain")
    lines = []
    if all(k in facts for k in votes):
        lines.append(
            indent
            + _("到会{present}人，赞成{yes}，反对{no}，弃权{abstain}").format(
                present=facts["present"],
                yes=facts["votes_for"],
                no=facts["votes_against"],
                abstain=facts["votes_abstain"],
            )
        )
    for key, value in facts.items():
        if key in votes or value in (None, ""):
            continue
        lines.append(f"{indent}{label_of(key)}：{html.quote(fact_text(key, value))}")
    return lines


def draft_text(step: Step, on: str, facts: Mapping[str, Any]) -> str:
    lines = [_("<b>{step}</b>：请核对后保存").format(step=html.quote(step.label))]
    lines.append(f"{label_of(ON)}：{on}")
    lines += facts_lines(facts, indent="")
    return "\n".join(lines)


def confirm_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _answer(_("✅ 保存"), SAVE),
                InlineKeyboardButton(text=_("取消"), callback_data="cancel"),
            ]
        ]
    )


# ---- the case --------------------------------------------------------------------------------


STATUS_TEXT = {
    Status.IN_PROGRESS: N_("办理中"),
    Status.DONE: N_("已办结"),
    Status.WITHDRAWN: N_("已撤回"),
    Status.NOT_ADOPTED: N_("党员大会未通过"),
}
KIND_TEXT = {
    "recorded": "",
    "approved": N_("批准"),
    "returned": N_("退回"),
    "withdrawn": N_("撤回"),
    "not_adopted": N_("党员大会未通过"),
}
SIDE_TEXT = {Side.BRANCH: N_("党支部"), Side.COMMITTEE: N_("党委")}


def _on(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def event_line(event: Any, names: Mapping[int, str]) -> list[str]:
    kind = str(event.kind)
    step = Step.of(event.step).label if event.step else ""
    what = " ".join(
        t for t in (step, _(KIND_TEXT.get(kind, kind)) if KIND_TEXT.get(kind) else "") if t
    )
    who = names.get(event.by, str(event.by)) if event.by is not None else _("系统")
    line = f"{event.seq}. {_on(event.on)} {html.quote(what)} — {html.quote(who)}"
    return [line, *facts_lines(event.facts or {})]


def case_text(view: Any, names: Mapping[int, str], *, head: str = "") -> str:
    """The case as the approvers and the branch see it: member, outcome, every
    step so far with dates and votes, and what comes next."""
    member, standing = view.member, view.standing
    lines = [head] if head else []
    lines.append(
        _("<b>{name}</b>（{branch}）· {outcome}").format(
            name=html.quote(member.name),
            branch=html.quote(member.branch.name if member.branch else ""),
            outcome=view.outcome.label,
        )
    )
    lines.append(
        _("状态：{status}；{opened}开始办理").format(
            status=_(STATUS_TEXT[standing.status]), opened=_on(view.disposition.opened_on)
        )
    )
    if view.events:
        lines.append(_("已办："))
        for event in view.events:
            lines += event_line(event, names)
    if standing.next is not None:
        rule = standing.next
        lines.append(
            _("下一步：{step}（{side}{how}）").format(
                step=rule.step.label,
                side=_(SIDE_TEXT[rule.side]),
                how=_("审批") if rule.decision else _("办理"),
            )
        )
    if view.outcome is Outcome.SUSPEND and standing.effective_on is not None:
        lines.append(
            _("停止党籍自{start}起，{end}满2年（满2年仍无法取得联系的，按自行脱党除名）。").format(
                start=standing.effective_on.isoformat(),
                end=suspension_ends(standing.effective_on).isoformat(),
            )
        )
    for appeal in getattr(view, "appeals", ()) or ():
        lines.append(appeal_line(appeal))
    return "\n".join(lines)


def card_lines(views: Sequence[Any]) -> list[str]:
    """What the member's card says of their cases: each in procedure with its
    next step, and each clock in force with its dates (R-SUSPEND-2Y,
    R-DEADLINE-CORRECT, R-PROBATION, R-ABROAD-RETAIN)."""
    lines = []
    restored = any(v.outcome is Outcome.RESTORE and v.standing.status is Status.DONE for v in views)
    for v in views:
        d, now = v.disposition, v.standing
        if now.status is Status.IN_PROGRESS and now.next is not None:
            lines.append(
                _("⚖️ {outcome}办理中，下一步：{step}").format(
                    outcome=v.outcome.label, step=now.next.step.label
                )
            )
        if now.effective_on is None:
            continue
        start, end = now.effective_on.isoformat(), d.ends_on.isoformat() if d.ends_on else ""
        if v.outcome is Outcome.SUSPEND and now.status is Status.DONE and not restored:
            lines.append(
                _("⛔ 停止党籍：自{start}起，{end}满2年").format(
                    start=start, end=suspension_ends(now.effective_on).isoformat()
                )
            )
        elif v.outcome is Outcome.CORRECT and end:
            lines.append(_("⏳ 限期改正：{end}期满").format(end=end))
        elif v.outcome is Outcome.EXTEND_PROBATION and end and now.status is Status.DONE:
            lines.append(_("⏳ 延长预备期：至{end}").format(end=end))
        elif v.outcome is Outcome.RETAIN_ABROAD and end and now.status is Status.DONE:
            lines.append(_("⏳ 保留组织关系：至{end}").format(end=end))
        elif now.status is Status.DONE and v.outcome is not Outcome.SUSPEND:
            lines.append(_("⚖️ {outcome}（{on}）").format(outcome=v.outcome.label, on=start))
    return lines


def appeal_line(appeal: Any) -> str:
    text = _("申诉（{on}）：{text}").format(on=_on(appeal.filed_on), text=html.quote(appeal.text))
    if appeal.result:
        text += "\n   " + _("复查结果（{on}）：{result}").format(
            on=_on(appeal.reviewed_on), result=html.quote(appeal.result)
        )
    else:
        text += "\n   " + _("复查结果：尚未记录")
    return text


def button(text: str, action: str, id_: int, arg: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text, callback_data=CaseAction(action=action, id=id_, arg=arg).pack()
    )


def decision_buttons(disposition_id: int, expected: int) -> list[InlineKeyboardButton]:
    return [
        InlineKeyboardButton(
            text=_("✅ 批准"),
            callback_data=Decision(id=disposition_id, expected=expected, ok=True).pack(),
        ),
        InlineKeyboardButton(
            text=_("↩ 退回"),
            callback_data=Decision(id=disposition_id, expected=expected, ok=False).pack(),
        ),
    ]


def case_keyboard(view: Any, sides: set[Side]) -> InlineKeyboardMarkup:
    """What this user may do on the case now: record the next step of their
    side, 批准 / 退回 a committee decision, withdraw, appeal, record a review."""
    d, standing = view.disposition, view.standing
    rows: list[list[InlineKeyboardButton]] = []
    rule = standing.next
    if rule is not None and rule.side in sides:
        if rule.decision:
            rows.append(decision_buttons(d.id, standing.position))
        else:
            rows.append(
                [
                    button(
                        _("📝 办理：{step}").format(step=rule.step.label),
                        "rec",
                        d.id,
                        str(standing.position),
                    )
                ]
            )
    if standing.status is Status.IN_PROGRESS and Side.BRANCH in sides and not standing.effective_on:
        # Once in force it is corrected by appeal or another case, not withdrawn.
        rows.append([button(_("撤回这项处置"), "wd", d.id)])
    if standing.status is Status.DONE:
        rows.append([button(_("📮 申诉"), "appeal", d.id)])
        if Side.COMMITTEE in sides:
            for appeal in getattr(view, "appeals", ()) or ():
                if not appeal.result:
                    rows.append([button(_("记录申诉复查结果"), "review", d.id, str(appeal.id))])
    rows.append([button(_("↩ 这名党员的处置"), "cases", view.member.id)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def cases_text(
    member: Member, views: Sequence[Any], options: Sequence[tuple[Outcome, InvalidInput | None]]
) -> str:
    """The member's cases (each with its current step) and what may be opened;
    an outcome the rules refuse is listed with the reason, never as a button."""
    lines = [_("<b>{name}</b> 的处置").format(name=html.quote(member.name))]
    if views:
        for v in views:
            now = v.standing.next
            where = now.step.label if now is not None else _(STATUS_TEXT[v.standing.status])
            lines.append(
                f"• {v.outcome.label}（{_on(v.disposition.opened_on)}）：{html.quote(where)}"
            )
    else:
        lines.append(_("还没有处置记录。"))
    if any(r is None for _o, r in options):
        lines.append(_("可以开始办理的处置：见下方按钮。"))
    refused = [(o, r) for o, r in options if r is not None]
    if refused:
        lines.append(_("不能选择的处置："))
        lines += [f"✖ {o.label}：{html.quote(r.render(_))}" for o, r in refused]
    return "\n".join(lines)


def cases_keyboard(
    member: Member, views: Sequence[Any], options: Sequence[tuple[Outcome, InvalidInput | None]]
) -> InlineKeyboardMarkup:
    rows = [
        [
            button(
                f"📂 {v.outcome.label}（{_on(v.disposition.opened_on)}）", "view", v.disposition.id
            )
        ]
        for v in views
    ]
    allowed = [button(f"➕ {o.label}", "new", member.id, o.value) for o, r in options if r is None]
    rows += [allowed[i : i + 2] for i in range(0, len(allowed), 2)]
    rows.append(
        [
            InlineKeyboardButton(
                text=_("↩ 返回卡片"),
                callback_data=MemberAction(action="card", member_id=member.id).pack(),
            )
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)
