"""How the dossier words each kind of audit event (档案用语): one table for the
card's 档案 view and the exported 一人一档 (R-DOSSIER). Msgids: the chat
translates them, the workbook keeps the Chinese."""

from __future__ import annotations

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
}
