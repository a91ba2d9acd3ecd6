"""/summary's committee table in chat (issue 15 item 6): 500 branches become
the 30 with most 失联 and a line pointing to /export; a long table is split
under Telegram's 4,096 characters with the header row in each part; the
columns line up in monospace (汉字 take two cells); names are escaped."""

from __future__ import annotations

from datetime import date

import pytest

from bot.i18n import build_i18n
from handlers.summary import _cells, committee_texts
from storage.models import Campaign
from storage.services.campaign_summary import BranchFigures, CommitteeSummary, total

TODAY = date(2026, 11, 25)


@pytest.fixture(autouse=True)
def zh():
    with build_i18n().context():
        yield


def _summary(n: int) -> CommitteeSummary:
    rows = [
        BranchFigures(
            i,
            f"第{i}党支部<机关&后勤>",
            members=50,
            checked=20,
            lost=n - i,
            reached=1,
            unreachable=1,
            settled=2,
        )
        for i in range(1, n + 1)
    ]
    campaign = Campaign(name="失联党员集中排查")
    return CommitteeSummary(campaign, "示例党委", rows, total(rows))


def _table_lines(text: str) -> list[str]:
    inner = text.split("<pre>", 1)[1].split("</pre>", 1)[0]
    return inner.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").splitlines()


def test_500_branches_show_the_top_30_and_point_to_export():
    summary = _summary(500)
    shown, left = summary.top()
    assert len(shown) == 30 and left == 470
    texts = committee_texts(summary, shown, left, TODAY)
    assert len(texts) == 1 and len(texts[0]) < 4096
    assert "其余470个党支部见 /export" in texts[0]
    lines = _table_lines(texts[0])
    assert lines[0].split() == [
        "党支部",
        "在册",
        "已核查",
        "失联",
        "取得联系",
        "仍无法联系",
        "已处置",
    ]
    assert len(lines) == 1 + 30 + 1 and lines[-1].startswith("合计")
    assert lines[-1].split()[1:4] == ["25000", "10000", str(sum(range(500)))]
    assert len({_cells(line) for line in lines}) == 1  # every row as wide as the header
    assert "<机关" not in texts[0].replace("<pre>", "").replace("</pre>", "").replace("<b>", "")


def test_a_long_table_is_split_under_telegrams_limit_with_the_header_each_time():
    summary = _summary(200)
    texts = committee_texts(summary, summary.rows, 0, TODAY)
    assert len(texts) > 1
    for text in texts:
        assert len(text) < 4096
        assert text.count("<pre>") == text.count("</pre>") <= 1
    parts = [t for t in texts if "<pre>" in t]
    assert all(_table_lines(t)[0].startswith("党支部") for t in parts)
    rows = [line for t in parts for line in _table_lines(t)[1:]]
    assert len(rows) == 200 + 1  # every branch once, and 合计
    assert "其余" not in texts[-1]
