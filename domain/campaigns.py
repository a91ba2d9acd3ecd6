"""Campaign templates and plans (集中排查的阶段和报送节点, SPEC §8).

Committee staff start a campaign from a template, one per notice, and edit the
dates. A template holds month/day only; ``stages_for`` places them in a year.
Where a notice gives only 上旬 / 中旬 / 月底 / a month, the stage is marked
``vague`` and resolved by one rule, so the UI can say “约”:

* a span's **start** is the first day of the period (上旬 → 1日, 中旬 → 11日, a
  bare month → 1日);
* a **deadline or end** is the last day of the period (上旬 → 10日, 中旬 → 20日,
  月底 or a bare month → the month's last day): “7月中旬结束” is kept until the
  20th, so every dated stage inside it stays inside the campaign.

Time is a parameter (STYLE 7): ``year`` and ``today`` are passed in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from domain.codes import CodeList
from domain.dates import PartialDate
from domain.errors import N_, InvalidInput

# Column sizes of campaign / campaign_stage (storage/models.py).
NAME_MAX = 60
STAGE_KEY_MAX = 16
STAGE_TITLE_MAX = 60
STAGE_WHAT_MAX = 200
# A campaign year the calendar can hold; the notices run from 2016.
YEAR_MIN, YEAR_MAX = 2000, 2100


class TemplateKey(CodeList):
    """One template per notice (SPEC §8)."""

    school_2016 = ("school_2016", "学校 2016")  # seed 000
    city_2016 = ("city_2016", "市直机关 2016")  # seed 001
    mobile_2023 = ("mobile_2023", "流动党员 2023")  # seed 003
    dual_check = ("dual_check", "全市 双查")  # seed 004


class Direction(CodeList):
    """Who owes the item to whom; R-REMIND reminds the side that owes it."""

    branch_to_committee = ("branch_to_committee", "党支部报党委")
    committee_to_upper = ("committee_to_upper", "党委报上级")
    internal = ("internal", "工作安排")


MonthDay = tuple[int, int]

ITEM_TITLE_MAX = 100  # stage_item.title


@dataclass(frozen=True)
class Item:
    """One thing a stage names as due (报送事项): a short title and, for an
    official form, its key (the forms issue builds the workbook from it);
    None for prose (a report, a list of names)."""

    title: str
    form: str | None = None


@dataclass(frozen=True, kw_only=True)
class StageTemplate:
    """A stage as the notice states it: a span (``start``–``end``) or a single
    deadline (``start`` None, ``end`` the day). ``due`` is what is due."""

    key: str
    title: str
    start: MonthDay | None = None
    end: MonthDay
    due: str
    direction: Direction
    vague: bool = False  # the notice says only 上旬/中旬/底/a month: show “约”
    # What the ``due`` text names, one item per form or report; a 工作安排
    # stage owes nothing to anyone. None given: the stage itself is the item.
    items: tuple[Item, ...] = ()

    def __post_init__(self) -> None:
        # Templates are code, not user input: a bad one is a programming error.
        if not self.key.isascii() or not 0 < len(self.key) <= STAGE_KEY_MAX:
            raise ValueError(f"stage key {self.key!r}: short ascii, at most {STAGE_KEY_MAX}")
        if not 0 < len(self.title) <= STAGE_TITLE_MAX or len(self.due) > STAGE_WHAT_MAX:
            raise ValueError(f"stage {self.key}: title or due text too long")
        for month, day in (self.end, *((self.start,) if self.start else ())):
            if not (1 <= month <= 12 and 1 <= day <= 31):
                raise ValueError(f"stage {self.key}: no such month/day {month}/{day}")
        if self.direction is Direction.internal and self.items:
            raise ValueError(f"stage {self.key}: a 工作安排 stage owes no items")
        if any(not 0 < len(i.title) <= ITEM_TITLE_MAX for i in self.items):
            raise ValueError(f"stage {self.key}: an item title is empty or too long")


_B, _C, _I = Direction.branch_to_committee, Direction.committee_to_upper, Direction.internal

# Seed 000: 学校 (省委教育工委 → 校党委组织部 → 基层党委 → 党支部), 2016.
_SCHOOL_2016 = (
    StageTemplate(
        key="launch",
        title="启动集中排查",
        start=(3, 1),  # 3月上旬启动 (二): 上旬 → 1日–10日
        end=(3, 10),
        due="作出工作安排，党支部开始摸底核查",
        direction=_I,
        vague=True,
    ),
    StageTemplate(
        key="staff_list",
        title="报送工作人员名单",
        end=(3, 11),  # 三 末段: 3月11日前
        due="具体负责该项工作人员名单和联系方式（报校党委组织部）",
        direction=_C,
        items=(Item("工作人员名单和联系方式"),),
    ),
    StageTemplate(
        key="survey_stats",
        title="集中摸排",
        end=(3, 18),  # 二(一): 2016年3月18日前
        due="党员摸底核查情况统计表（附件9，按教职工和学生分类填写）",
        direction=_C,
        items=(Item("党员摸底核查情况统计表（附件9）", "survey_stats"),),
    ),
    StageTemplate(
        key="registers",
        title="登记造册（党支部）",
        end=(4, 6),  # 二(三): 4月6日前
        due="经查找取得联系党员登记表（附件1）、经查找仍然无法取得联系党员登记表（附件2）、"
        "流动党员登记表（附件5）、“口袋”党员登记表（附件7）",
        direction=_B,
        items=(
            Item("经查找取得联系党员登记表（附件1）", "found_register"),
            Item("经查找仍然无法取得联系党员登记表（附件2）", "unreachable_register"),
            Item("流动党员登记表（附件5）", "mobile_register"),
            Item("“口袋”党员登记表（附件7）", "pocket_register"),
        ),
    ),
    StageTemplate(
        key="summaries",
        title="登记造册（核查汇总）",
        # 二(三) gives one date for the sentence: branches' registers, then the
        # committee's summaries, both “4月6日前”.
        end=(4, 6),
        due="与党组织失去联系党员情况汇总表（附件3）、流动党员情况汇总表（附件6）、"
        "“口袋”党员情况汇总表（附件8）",
        direction=_C,
        items=(
            Item("与党组织失去联系党员情况汇总表（附件3）", "lost_summary"),
            Item("流动党员情况汇总表（附件6）", "mobile_summary"),
            Item("“口袋”党员情况汇总表（附件8）", "pocket_summary"),
        ),
    ),
    StageTemplate(
        key="final_report",
        title="分析总结",
        end=(7, 15),  # 二(六): 2016年7月15日前
        due="综合情况报告、1个排查案例、与党组织失去联系党员管理及处置情况汇总表（附件4）",
        direction=_C,
        items=(
            Item("综合情况报告", "report"),
            Item("排查案例（1个）"),
            Item("失去联系党员管理及处置情况汇总表（附件4）", "disposal_summary"),
        ),
    ),
    StageTemplate(
        key="close",
        title="集中排查结束",
        end=(7, 20),  # 二: 7月中旬结束 → 中旬 ends on the 20th
        due="排查工作结束",
        direction=_I,
        vague=True,
    ),
)

# Seed 001: 市直机关 (市直工委 → 机关党组织 → 党支部), “2016年2月至6月”.
_CITY_2016 = (
    StageTemplate(
        key="launch",
        title="启动集中排查",
        end=(2, 1),  # “2016年2月至6月”: a bare month as a start → 1日
        due="作出工作安排，党支部开始集中摸排（五核查）",
        direction=_I,
        vague=True,
    ),
    StageTemplate(
        key="summaries",
        title="登记造册、党员信息库",
        end=(3, 20),  # 三.3 and 三.4: 2016年3月20日前
        due="与党组织失去联系党员情况汇总表（附件7）、外出流动党员情况汇总表（附件8）；"
        "党员信息库建设全部完成，数据报市直工委组织部",
        direction=_C,
        items=(
            Item("与党组织失去联系党员情况汇总表（附件7）", "lost_summary"),
            Item("外出流动党员情况汇总表（附件8）", "mobile_summary"),
            Item("党员信息库数据"),
        ),
    ),
    StageTemplate(
        key="final_report",
        title="分析总结",
        end=(6, 20),  # 三.7: 2016年6月20日前
        due="综合报告、与党组织失去联系党员管理及处置情况汇总表（附件9）",
        direction=_C,
        items=(
            Item("综合报告", "report"),
            Item("失去联系党员管理及处置情况汇总表（附件9）", "disposal_summary"),
        ),
    ),
    StageTemplate(
        key="close",
        title="集中排查结束",
        end=(6, 30),  # “至6月”: a bare month as an end → its last day
        due="排查工作结束",
        direction=_I,
        vague=True,
    ),
)

# Seed 003: 流动党员 (院党委 → 党支部), 2023; the notice is dated 11月28日.
_MOBILE_2023 = (
    StageTemplate(
        key="deploy",
        title="全面安排部署",
        end=(11, 30),  # 三.1: 11月底前 → the month's last day
        due="党支部制定具体工作方案；边排查边建立工作台账（流出党员基本信息登记表，附件1）",
        direction=_I,
        vague=True,
    ),
    StageTemplate(
        key="sweep",
        title="认真开展排查",
        start=(12, 1),  # 三.2: 12月上旬 → 1日–10日
        end=(12, 10),
        due="逐一排查每名正式组织关系在本支部及转出尚未被接收的党员",
        direction=_I,
        vague=True,
    ),
    StageTemplate(
        key="report",
        title="报告工作情况",
        end=(12, 15),  # 三.3: 12月15日前, to 党委办公室
        due="集中排查工作情况报告、流出党员有关情况统计表（附件2）；"
        "附件1 台账报党委办公室备案并动态更新",
        direction=_B,
        items=(
            Item("集中排查工作情况报告", "report"),
            Item("流出党员有关情况统计表（附件2）", "outflow_stats"),
            Item("流出党员基本信息登记表（附件1 台账）", "outflow_register"),
        ),
    ),
)

# Seed 004: 全市 双查 (市委组织部 → 党(工)委 → 党(总)支部), four phases.
_DUAL_CHECK = (
    StageTemplate(
        key="deploy",
        title="动员部署阶段",
        start=(2, 14),  # 二(一): 2月14日—2月24日
        end=(2, 24),
        due="成立排查工作组、确定专职工作人员，开展专题培训",
        direction=_I,
    ),
    StageTemplate(
        key="branch_deploy",
        title="党支部动员部署",
        end=(2, 20),  # 二(一)1: 此项工作在2月20日前完成
        due="各党(总)支部完成动员部署",
        direction=_B,
        items=(Item("动员部署完成情况"),),
    ),
    StageTemplate(
        key="sweep",
        title="集中排查阶段",
        start=(2, 25),  # 二(二): 2月25日—3月31日
        end=(3, 31),
        due="党支部自查，党(工)委工作组逐一核查，形成每个党(总)支部的核查情况报告",
        direction=_I,
    ),
    StageTemplate(
        key="reports",
        title="上报排查情况",
        end=(3, 30),  # 二(二)3: 3月30日前, 党(工)委书记签字确认后上报
        due="排查工作情况报告及处理建议；经查找取得联系党员登记表、经查找仍然无法取得联系党员登记表、"
        "与党组织失去联系党员情况汇总表、流动党员管理有关情况统计表（党(工)委书记签字确认）",
        direction=_C,
        items=(
            Item("排查工作情况报告及处理建议", "report"),
            Item("经查找取得联系党员登记表", "found_register"),
            Item("经查找仍然无法取得联系党员登记表", "unreachable_register"),
            Item("与党组织失去联系党员情况汇总表", "lost_summary"),
            Item("流动党员管理有关情况统计表", "mobile_stats"),
        ),
    ),
    StageTemplate(
        key="rectify",
        title="整改规范阶段",
        start=(4, 1),  # 二(三): 4月1日—7月30日
        end=(7, 30),
        due="规范党员组织关系，处理“失联”党员",
        direction=_I,
    ),
    StageTemplate(
        key="acceptance",
        title="自查验收",
        start=(8, 1),  # 二(四)1: 8月1日—8月5日
        end=(8, 5),
        due="各党(总)支部整改规范综合报告报党(工)委；党(工)委逐一检查、验收",
        direction=_B,
        items=(Item("整改规范综合报告", "report"),),
    ),
    StageTemplate(
        key="final_report",
        title="检查总结",
        end=(8, 6),  # 二(四)2: 8月6日前
        due="综合报告、与党组织失去联系党员管理及处置情况汇总表",
        direction=_C,
        items=(
            Item("综合报告", "report"),
            Item("失去联系党员管理及处置情况汇总表", "disposal_summary"),
        ),
    ),
)

TEMPLATES: Mapping[TemplateKey, tuple[StageTemplate, ...]] = {
    TemplateKey.school_2016: _SCHOOL_2016,
    TemplateKey.city_2016: _CITY_2016,
    TemplateKey.mobile_2023: _MOBILE_2023,
    TemplateKey.dual_check: _DUAL_CHECK,
}


def _zh(d: date) -> str:
    return PartialDate.of(d).zh()


@dataclass(frozen=True)
class Stage:
    """A stage placed in a year: ``starts`` is None for a single deadline."""

    key: str
    title: str
    starts: date | None
    due: date
    what: str
    direction: Direction
    approximate: bool = False
    items: tuple[Item, ...] = ()

    def when(self) -> str:
        """As the chat shows it: “2月25日至3月31日”, “约3月10日”."""
        due = f"{self.due.month}月{self.due.day}日"
        text = f"{self.starts.month}月{self.starts.day}日至{due}" if self.starts else due
        return ("约" + text) if self.approximate else text


def owed_items(stage: Stage) -> tuple[Item, ...]:
    """The items a stage's rows are created with: none for 工作安排, the named
    ones, else one item named as the stage (as migration 0008 did for old rows)."""
    if stage.direction is Direction.internal:
        return ()
    return stage.items or (Item(stage.title[:ITEM_TITLE_MAX]),)


def _year_checked(year: int) -> int:
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise InvalidInput(
            N_("年份{year}不对，请填写{low}到{high}之间的年份。"),
            year=year,
            low=YEAR_MIN,
            high=YEAR_MAX,
        )
    return year


def _place(stage: StageTemplate, month_day: MonthDay, year: int) -> date:
    month, day = month_day
    try:
        return date(year, month, day)
    except ValueError:
        # No silent shifting to the 28th: the committee picks the day.
        raise InvalidInput(
            N_("“{stage}”的日期{month}月{day}日在{year}年不存在，请另选一天。"),
            stage=stage.title,
            month=month,
            day=day,
            year=year,
        ) from None


def resolve_stage(stage: StageTemplate, year: int) -> Stage:
    """One template stage in ``year``; a day the year lacks (2月29日) is refused."""
    _year_checked(year)
    starts = _place(stage, stage.start, year) if stage.start else None
    return Stage(
        key=stage.key,
        title=stage.title,
        starts=starts,
        due=_place(stage, stage.end, year),
        what=stage.due,
        direction=stage.direction,
        approximate=stage.vague,
        items=stage.items,
    )


def stages_for(template: TemplateKey, year: int) -> tuple[Stage, ...]:
    """The template's stages in ``year``, in the notice's order."""
    return tuple(resolve_stage(s, year) for s in TEMPLATES[template])


def default_span(template: TemplateKey, year: int) -> tuple[date, date]:
    """The campaign's start and end: the earliest stage start (or deadline when
    no stage has a start) and the latest deadline."""
    stages = stages_for(template, year)
    return (
        min(s.starts or s.due for s in stages),
        max(s.due for s in stages),
    )


@dataclass(frozen=True)
class CampaignPlan:
    """A campaign as it will be stored: name, span and stages, already checked."""

    name: str
    starts: date
    ends: date
    stages: tuple[Stage, ...]


def validate_plan(name: str, starts: date, ends: date, stages: Iterable[Stage]) -> CampaignPlan:
    """Check a campaign (the template's or as edited) before it is saved."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput(N_("请填写排查名称，例如“2026年党员组织关系集中排查”。"))
    if len(name) > NAME_MAX:
        raise InvalidInput(
            N_("排查名称最多{max}个字，现在是{length}个字，请精简后再发。"),
            max=NAME_MAX,
            length=len(name),
        )
    if ends < starts:
        raise InvalidInput(
            N_("结束日期{ends}早于开始日期{starts}，请改正其中一个日期。"),
            ends=_zh(ends),
            starts=_zh(starts),
        )
    checked = tuple(stages)
    for stage in checked:
        _check_stage(stage, starts, ends)
    return CampaignPlan(name=name, starts=starts, ends=ends, stages=checked)


def _check_stage(stage: Stage, starts: date, ends: date) -> None:
    title = stage.title.strip()
    if not title:
        raise InvalidInput(N_("有一个阶段没有名称，请填写阶段名称。"))
    if len(title) > STAGE_TITLE_MAX:
        raise InvalidInput(
            N_("阶段名称“{stage}”太长，最多{max}个字，请精简。"),
            stage=title[:20],
            max=STAGE_TITLE_MAX,
        )
    if len(stage.what) > STAGE_WHAT_MAX:
        raise InvalidInput(
            N_("“{stage}”的报送内容最多{max}个字，现在是{length}个字，请精简。"),
            stage=title,
            max=STAGE_WHAT_MAX,
            length=len(stage.what),
        )
    span = {"starts": _zh(starts), "ends": _zh(ends), "stage": title}
    if stage.starts is not None and stage.starts > stage.due:
        raise InvalidInput(
            N_("“{stage}”的开始日期{begin}晚于截止日期{due}，请改正。"),
            stage=title,
            begin=_zh(stage.starts),
            due=_zh(stage.due),
        )
    if stage.starts is not None and not starts <= stage.starts <= ends:
        raise InvalidInput(
            N_(
                "“{stage}”的开始日期{begin}不在本次排查的起止日期（{starts}至{ends}）之内，"
                "请调整该阶段或排查的起止日期。"
            ),
            begin=_zh(stage.starts),
            **span,
        )
    if not starts <= stage.due <= ends:
        raise InvalidInput(
            N_(
                "“{stage}”的截止日期{due}不在本次排查的起止日期（{starts}至{ends}）之内，"
                "请调整截止日期或排查的起止日期。"
            ),
            due=_zh(stage.due),
            **span,
        )


def default_name(template: TemplateKey, year: int) -> str:
    """“2026年党员组织关系集中排查”; seed 003's campaign is about mobile members."""
    if template is TemplateKey.mobile_2023:
        return f"{year}年流动党员组织关系集中排查"
    return f"{year}年党员组织关系集中排查"


def template_plan(template: TemplateKey, year: int, name: str | None = None) -> CampaignPlan:
    """The plan a template gives unedited (``default_name`` unless named)."""
    starts, ends = default_span(template, year)
    return validate_plan(
        name or default_name(template, year), starts, ends, stages_for(template, year)
    )


def days_left(due: date, today: date) -> int:
    """Days until ``due``: 0 on the day, negative once past."""
    return (due - today).days


# ---- R-REMIND: when reminders are owed ----------------------------------------

DEFAULT_OFFSETS: tuple[int, ...] = (7, 3, 1, 0)  # days before a deadline; 0 is the day
OFFSET_MAX = 60  # the longest lead a campaign can ask for (about two months)
OFFSETS_MAX_COUNT = 8  # "60,45,30,…" fits campaign.remind_offsets (32 characters)
# Escalation to committee staff (issue 14 point 4): three days before a
# deadline, and on the morning after it passed (-1).
ESCALATE_BEFORE = 3
ESCALATE_AFTER = -1

_SEPARATORS = re.compile(r"[\s,，、;；/]+")


def parse_offsets(text: str) -> tuple[int, ...]:
    """Reminder days typed by committee staff: “7 3 1 0”, “7,3,1,0”, “7、3、1、0”.
    Returned largest first, without repeats. 0 is the day of the deadline."""
    parts = [p for p in _SEPARATORS.split(text.strip()) if p]
    if not parts:
        raise InvalidInput(N_("请填写提前几天提醒，例如“7 3 1 0”（0表示截止当天）。"))
    values: set[int] = set()
    for part in parts:
        if not part.isascii() or not part.isdigit():
            raise InvalidInput(
                N_("“{part}”不是天数。请只填数字，用空格隔开，例如“7 3 1 0”。"),
                part=part[:10],
            )
        value = int(part)
        if value > OFFSET_MAX:
            raise InvalidInput(
                N_("提前{n}天太早了，最多提前{max}天。"),
                n=value,
                max=OFFSET_MAX,
            )
        values.add(value)
    if len(values) > OFFSETS_MAX_COUNT:
        raise InvalidInput(
            N_("最多设置{max}个提醒日，现在是{n}个，请减少一些。"),
            max=OFFSETS_MAX_COUNT,
            n=len(values),
        )
    return tuple(sorted(values, reverse=True))


def format_offsets(offsets: Sequence[int]) -> str:
    """As stored in campaign.remind_offsets: “7,3,1,0”."""
    return ",".join(str(o) for o in sorted(set(offsets), reverse=True))


def offsets_of(stored: str | None) -> tuple[int, ...]:
    """The offsets a campaign row holds; None (never changed) is the default.
    A value the checks would refuse (written by hand in the database) falls
    back to the default rather than silencing every reminder."""
    if stored is None:
        return DEFAULT_OFFSETS
    try:
        return parse_offsets(stored)
    except InvalidInput:
        return DEFAULT_OFFSETS


def reminder_offset(days_left: int, offsets: Sequence[int]) -> int | None:
    """The offset a reminder is owed for today (R-REMIND): the smallest offset
    at or above ``days_left``. On an offset's own day that is the offset; after
    downtime the scheduler catches up with one reminder for the latest offset
    passed, which says the real days left, never a stale one. None once the
    deadline passed, or while it is further away than every offset."""
    if days_left < 0:
        return None
    ahead = [o for o in offsets if o >= days_left]
    return min(ahead) if ahead else None


def escalation_offset(days_left: int) -> int | None:
    """Whether committee staff are owed the list of branches still missing
    (issue 14 point 4): ``ESCALATE_BEFORE`` from three days before until the
    deadline (catching up after downtime), ``ESCALATE_AFTER`` on the day after
    it passed; None otherwise."""
    if 0 <= days_left <= ESCALATE_BEFORE:
        return ESCALATE_BEFORE
    if days_left == ESCALATE_AFTER:
        return ESCALATE_AFTER
    return None
