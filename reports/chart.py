"""The campaign at a glance as a picture (/summary for committee staff, issue
15 item 6): per branch, the sweep's progress and where the search for lost
members stands, as horizontal bars with Chinese labels.

Chinese needs a CJK font: matplotlib's default (DejaVu Sans) has no 汉字 and
draws boxes (“Glyph … missing” warnings). ``cjk_font`` looks for one among the
installed families (Debian's fonts-wqy-microhei, which .ci installs, first)
and, failing those, any font fontconfig lists for ``lang=zh``. With none the
render returns no bytes and the chat says so: never a chart of boxes.

``render_progress_chart`` takes plain values and returns PNG bytes, so it can
run in the export worker process (``reports.pool``): drawing is CPU work that
must not hold up the event loop. It uses matplotlib's object API on the Agg
canvas, never pyplot's global figures.
"""

from __future__ import annotations

import functools
import io
import subprocess
from dataclasses import dataclass

# Families tried in order; the first installed one draws the labels.
PREFERRED = (
    "WenQuanYi Micro Hei",
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
MAX_LABEL = 12  # characters of a branch's name on the chart


@dataclass(frozen=True)
class ChartRow:
    """One branch's bars."""

    name: str
    members: int
    checked: int
    lost: int
    reached: int
    unreachable: int
    settled: int


@dataclass(frozen=True)
class ChartText:
    """Every word on the chart, translated by the caller (the worker process
    has no gettext context)."""

    title: str
    sweep: str  # the left panel's title
    search: str  # the right panel's title
    members: str
    checked: str
    lost: str
    reached: str
    unreachable: str
    settled: str


@functools.cache
def cjk_font() -> str | None:
    """The family name of an installed font that has Chinese, or None."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    for family in PREFERRED:
        if family in installed:
            return family
    try:
        listed = subprocess.run(
            ["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in listed.splitlines():
        path = line.split(":", 1)[0].strip()
        if not path:
            continue
        try:
            font_manager.fontManager.addfont(path)
            return font_manager.FontProperties(fname=path).get_name()
        except (OSError, RuntimeError, ValueError):
            continue
    return None


def _short(name: str) -> str:
    name = name if len(name) <= MAX_LABEL else name[: MAX_LABEL - 1] + "…"
    return _plain(name)


def _plain(text: str) -> str:
    """Two “$” in a label would start matplotlib's mathtext: draw them as typed."""
    return text.replace("$", r"\$")


# Colours that read apart in print and for the colour-blind (Okabe–Ito).
_GREY, _BLUE = "#d9d9d9", "#0072b2"
_SEARCH = ("#d55e00", "#009e73", "#cc79a7", "#56b4e9")


def render_progress_chart(text: ChartText, rows: tuple[ChartRow, ...]) -> bytes:
    """PNG bytes; b"" when no CJK font is installed (see the module note)."""
    family = cjk_font()
    if family is None:
        return b""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = max(1, len(rows))
    names = [_short(r.name) for r in rows]
    places = list(range(n))
    style = {
        "font.family": [family, "DejaVu Sans"],
        "axes.unicode_minus": False,  # the CJK fonts lack U+2212
        "font.size": 9,
    }
    with matplotlib.rc_context(style):
        figure = Figure(figsize=(10, 1.6 + 0.45 * n), dpi=100, layout="constrained")
        FigureCanvasAgg(figure)
        sweep, search = figure.subplots(1, 2, sharey=True, width_ratios=(1, 1.4))
        figure.suptitle(_plain(text.title), fontsize=12)

        sweep.barh(places, [r.members for r in rows], color=_GREY, label=text.members)
        sweep.barh(places, [r.checked for r in rows], height=0.5, color=_BLUE, label=text.checked)
        sweep.set_title(text.sweep)  # x: 人数, said by the legend's words

        series = (
            (text.lost, [r.lost for r in rows]),
            (text.reached, [r.reached for r in rows]),
            (text.unreachable, [r.unreachable for r in rows]),
            (text.settled, [r.settled for r in rows]),
        )
        height = 0.8 / len(series)
        for k, ((label, values), colour) in enumerate(zip(series, _SEARCH, strict=True)):
            offset = (k - (len(series) - 1) / 2) * height
            search.barh(
                [p + offset for p in places], values, height=height, color=colour, label=label
            )
        search.set_title(text.search)

        sweep.set_yticks(places, names)
        sweep.invert_yaxis()  # the first branch on top
        for axes in (sweep, search):
            axes.xaxis.get_major_locator().set_params(integer=True)
            # Under the axes, where no bar can hide behind it.
            axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), ncols=4, fontsize=8)
            axes.grid(axis="x", alpha=0.3)
        out = io.BytesIO()
        figure.savefig(out, format="png")
    return out.getvalue()
