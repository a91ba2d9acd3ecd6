"""/summary's chart (issue 15 item 6): a PNG of progress per branch with
Chinese labels drawn in a CJK font, never boxes (no “Glyph … missing”
warning); without a CJK font, no chart at all."""

from __future__ import annotations

import struct
import warnings

import pytest

from reports import chart
from reports.chart import ChartRow, ChartText, cjk_font, render_progress_chart

PNG = b"\x89PNG\r\n\x1a\n"
TEXT = ChartText(
    title="示例党委 流动党员排查 进展",
    sweep="核查进度",
    search="失联党员查找",
    members="在册",
    checked="已核查",
    lost="失联",
    reached="取得联系",
    unreachable="仍无法联系",
    settled="已处置",
)


def _rows(n: int) -> tuple[ChartRow, ...]:
    return tuple(
        ChartRow(f"第{i + 1}党支部（机关）", 40 + i, 20 + i, i % 7, i % 3, i % 2, i % 3 + i % 2)
        for i in range(n)
    )


def _size(png: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    return width, height


def _font_or_skip() -> str:
    family = cjk_font()
    if family is None:
        pytest.skip("no CJK font installed (apt-get install fonts-wqy-microhei): chart not drawn")
    return family


@pytest.mark.parametrize("branches", [1, 30])
def test_the_chart_is_a_png_with_every_chinese_glyph(branches):
    _font_or_skip()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # A “$” pair in a name is drawn as typed, not parsed as mathtext.
        png = render_progress_chart(TEXT, (*_rows(branches), ChartRow("$x$支部", 1, 1, 1, 0, 1, 1)))
    missing = [str(w.message) for w in caught if "missing" in str(w.message)]
    assert missing == [], missing[:3]
    assert png.startswith(PNG)
    width, height = _size(png)
    assert 600 <= width <= 1600 and 150 <= height <= 2000
    assert 5_000 < len(png) < 2_000_000


def test_a_long_branch_name_is_shortened_on_the_chart():
    assert chart._short("某某大学机械工程学院教工第一党支部") == "某某大学机械工程学院教…"
    assert chart._short("一支部") == "一支部"
    assert chart._short("$A$支部") == r"\$A\$支部"  # drawn as typed, not as mathtext


def test_without_a_cjk_font_there_is_no_chart(monkeypatch):
    monkeypatch.setattr(chart, "cjk_font", lambda: None)
    assert render_progress_chart(TEXT, _rows(3)) == b""


def test_the_default_font_alone_would_draw_boxes():
    """The check above is not vacuous: DejaVu Sans lacks 汉字 and matplotlib warns."""
    _font_or_skip()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure()
    FigureCanvasAgg(figure)
    figure.text(0.5, 0.5, "失联", family="DejaVu Sans")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure.canvas.draw()
    assert any("missing" in str(w.message) for w in caught)
