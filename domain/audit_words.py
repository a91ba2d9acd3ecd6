"""How the dossier words each kind of audit event (档案用语): one table for the
card's 档案 view and the exported 一人一档 (R-DOSSIER). Msgids: the chat
translates them, the workbook keeps the Chinese.

处置 (SPEC §5) events are worded here too, with the facts each step recorded
(表决票数, 签字, 文号, 期限…), the reason of a 退回 or a withdrawal, and an
appeal's text and review: both views call ``disposition_line`` /
``fact_phrases`` with their own gettext (the workbook's is the identity).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.codes import CodeList
from domain.dispositions import FACT_LABELS, Outcome, RemovalGround, RetainLength, Status, Step
from domain.errors import N_

ACTIONS: dict[tuple[str, str], str] = {
    ("member", "create"): N_("登记入册"),
    ("member", "update"): N_("修改"),
    ("meeting", "attend"): N_("参加组织生活/交纳党费"),
    ("attempt", "create"): N_("查找"),
    ("attempt", "correct"): N_("更正查找记录"),
    ("evidence", "create"): N_("上传凭证"),
    ("channel", "impossible"): N_("说明无法查找"),
    ("outcome", "found"): N_("经查找取得联系"),
    ("outcome", "unreachable"): N_("经查找仍然无法取得联系"),
    ("mobile", "register"): N_("登记为流动党员"),
    ("mobile", "end"): N_("结束流动登记"),
    ("family", "create"): N_("登记家庭成员"),
    ("family", "delete"): N_("删除家庭成员"),
    ("sweep", "answer"): N_("五核查"),
    ("escalation", "identity"): N_("上报疑似违规入党/身份存疑"),
    ("escalation", "discipline"): N_("移交违纪违法线索"),
    ("review", "finding"): N_("党委核查发现"),
    ("export", "export"): N_("导出"),
    # 处置 (storage.services.dispositions._audit): field = outcome, new = step
    # (an appeal's: the day it was filed / reviewed).
    ("disposition", "open"): N_("启动处置"),
    ("disposition", "recorded"): N_("办理处置步骤"),
    ("disposition", "approved"): N_("批准"),
    ("disposition", "returned"): N_("退回"),
    ("disposition", "withdrawn"): N_("撤回处置"),
    ("disposition", "not_adopted"): N_("党员大会未通过"),
    ("disposition", "appeal"): N_("登记申诉"),
    ("disposition", "appeal_review"): N_("记录复查结果"),
}

# A disposition's state, as the dossier states it.
STATUS: dict[str, str] = {
    Status.IN_PROGRESS.value: N_("办理中"),
    Status.DONE.value: N_("已办结"),
    Status.WITHDRAWN.value: N_("已撤回"),
    Status.NOT_ADOPTED.value: N_("党员大会未通过"),
}

# Audit actions whose new value is a date, not a step.
DATED_ACTIONS = frozenset({"appeal", "appeal_review"})

# What the dossier adds to a step's facts: an appeal's text, the review's result.
APPEAL_TEXT, REVIEW_RESULT = "appeal_text", "review_result"
LABELS: dict[str, str] = {
    **FACT_LABELS,
    APPEAL_TEXT: N_("申诉内容"),
    REVIEW_RESULT: N_("复查结果"),
}
VOTES = N_("到会{present}人，赞成{votes_for}人，反对{votes_against}人，弃权{votes_abstain}人")
SIGNED = N_("本人已签字")
UNSIGNED = N_("本人未签字（{reason}）")
NO_REASON = N_("未注明原因")
FACT = N_("{label}：{value}")
YES, NO = N_("是"), N_("否")
_VOTE_KEYS = ("present", "votes_for", "votes_against", "votes_abstain")
_CHOICES: dict[str, type[CodeList]] = {"ground": RemovalGround, "length": RetainLength}

Gettext = Callable[[str], str]


def _same(text: str) -> str:
    return text


@dataclass(frozen=True)
class Phrase:
    """One piece of a line: a msgid and its values; ``words`` names the values
    that are msgids too (a label, 是/否), the rest is what the user typed."""

    msgid: str
    values: tuple[tuple[str, Any], ...] = ()
    words: tuple[str, ...] = ()

    def text(self, gettext: Gettext = _same) -> str:
        values = {k: gettext(v) if k in self.words else v for k, v in self.values}
        return gettext(self.msgid).format(**values)


def _value(key: str, value: Any) -> tuple[Any, bool]:
    """A recorded fact's value as words, and whether those words are a msgid."""
    if isinstance(value, bool):
        return (YES if value else NO), True
    if key in _CHOICES and isinstance(value, str):
        try:
            return _CHOICES[key].of(value).label, False
        except ValueError:
            return value, False
    if isinstance(value, date):
        return value.isoformat(), False
    return value, False


def fact_phrases(facts: Mapping[str, Any]) -> list[Phrase]:
    """A step's facts in order: the votes in one phrase, the signature or why
    it is missing, then every other fact with its label (R-PROCEDURE)."""
    phrases: list[Phrase] = []
    if all(facts.get(k) is not None for k in _VOTE_KEYS):
        phrases.append(Phrase(VOTES, tuple((k, facts[k]) for k in _VOTE_KEYS)))
    signed = facts.get("signed")
    if signed is True:
        phrases.append(Phrase(SIGNED))
    elif signed is False:
        reason = str(facts.get("unsigned_reason") or "").strip()
        if reason:
            phrases.append(Phrase(UNSIGNED, (("reason", reason),)))
        else:
            phrases.append(Phrase(UNSIGNED, (("reason", NO_REASON),), ("reason",)))
    skip = {*_VOTE_KEYS, "signed", "unsigned_reason"}
    for key, value in facts.items():
        if key in skip or value is None or value == "":
            continue
        shown, is_word = _value(key, value)
        words = ("label", "value") if is_word else ("label",)
        phrases.append(Phrase(FACT, (("label", LABELS.get(key, key)), ("value", shown)), words))
    return phrases


def facts_text(facts: Mapping[str, Any], gettext: Gettext = _same) -> str:
    return "；".join(p.text(gettext) for p in fact_phrases(facts))


def _label(codes: type[CodeList], code: str | None, gettext: Gettext) -> str:
    if not code:
        return ""
    try:
        return gettext(codes.of(code).label)
    except ValueError:
        return code


def outcome_label(code: str | None, gettext: Gettext = _same) -> str:
    return _label(Outcome, code, gettext)


def step_label(code: str | None, gettext: Gettext = _same) -> str:
    return _label(Step, code, gettext)


def disposition_subject(
    action: str, outcome: str | None, new: str | None, gettext: Gettext = _same
) -> str:
    """What a disposition audit event is about: “停止党籍·党员大会决议”, or the
    outcome alone (opening, withdrawal, an appeal)."""
    subject = outcome_label(outcome, gettext)
    if action not in DATED_ACTIONS and action != "open" and new:
        subject += "·" + step_label(new, gettext)
    return subject


def disposition_line(
    action: str,
    outcome: str | None,
    new: str | None,
    on: date | None = None,
    facts: Mapping[str, Any] | None = None,
    gettext: Gettext = _same,
) -> str:
    """One disposition event in words: “批准 停止党籍·基层党委审批（2026-03-05）”,
    “办理处置步骤 停止党籍·党员大会决议（2026-03-01）：到会20人…；本人未签字（…）”.
    ``on`` is the step's own day (an appeal's audit value holds it already)."""
    what = gettext(ACTIONS.get(("disposition", action), f"disposition:{action}"))
    line = f"{what} {disposition_subject(action, outcome, new, gettext)}".strip()
    if on is None and action in DATED_ACTIONS and new:
        line += f"（{new}）"
    elif on is not None:
        line += f"（{on.isoformat()}）"
    details = facts_text(facts or {}, gettext)
    return f"{line}：{details}" if details else line
