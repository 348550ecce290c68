"""Survey results as a PNG (matplotlib, Agg): one horizontal bar chart per choice question, labels in
a CJK font found on the system (fonts-noto-cjk, installed by setup). Without such a font the plot is
refused rather than drawn in empty boxes (tofu)."""

from __future__ import annotations

import io
import textwrap
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.community.errors import CommunityError

if TYPE_CHECKING:
    from assistant.community.surveys import Results

PREFERRED = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
             "Noto Sans CJK JP", "Noto Serif CJK SC")
PROBE = "满意度调查"
_LOCK = threading.Lock()     # pyplot is not thread-safe; the console may plot from several threads


class NoCJKFont(CommunityError):
    """No font on the system has the Chinese glyphs the plot needs."""


def _has_glyphs(path: str, text: str = PROBE) -> bool:
    from matplotlib.ft2font import FT2Font

    try:
        font = FT2Font(path)
    except (OSError, RuntimeError, ValueError):
        return False
    return all(font.get_char_index(ord(c)) for c in text)


@lru_cache(maxsize=1)
def cjk_font() -> Path:
    """A font file with Chinese glyphs, preferring Noto Sans CJK SC."""
    from matplotlib import font_manager

    def search() -> Path | None:
        # regular weight first (a .ttc holds several faces; matplotlib lists each file once)
        entries = sorted(font_manager.fontManager.ttflist, key=lambda e: (e.weight not in (400, "normal", "regular"),
                                                                            "Regular" not in e.fname))
        for name in PREFERRED:
            for e in entries:
                if e.name == name and _has_glyphs(e.fname):
                    return Path(e.fname)
        for e in entries:
            if any(k in e.name for k in ("CJK", "WenQuanYi", "Han Sans", "Hei", "Song")) and _has_glyphs(e.fname):
                return Path(e.fname)
        return None

    found = search()
    if found is None:        # a font installed after matplotlib cached its list
        font_manager.fontManager = font_manager._load_fontmanager(try_read_cache=False)  # type: ignore[attr-defined]
        found = search()
    if found is None:
        raise NoCJKFont("no CJK font found for the survey plot: install fonts-noto-cjk (make setup does)")
    return found


def render_text(text: str, font: Path | None = None, size: int = 28) -> bytes:
    """``text`` alone drawn as a PNG (for checking that glyphs render, not boxes)."""
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    fp = FontProperties(fname=str(font or cjk_font()), size=size)
    fig = Figure(figsize=(0.5 + 0.45 * len(text), 0.8), dpi=100)
    fig.text(0.02, 0.2, text, fontproperties=fp)
    buf = io.BytesIO()
    with _LOCK:
        fig.savefig(buf, format="png")
    return buf.getvalue()


def plot_results(results: Results) -> bytes:
    """The survey's choice questions as bar charts (counts and shares), as PNG bytes."""
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    fp = FontProperties(fname=str(cjk_font()))
    charts = [r for r in results.questions if r.question.options]
    rows = max(1, len(charts))
    height = sum(0.9 + 0.32 * len(r.question.options) for r in charts) + 1.0
    height = max(3.0, height)
    fig = Figure(figsize=(8, height), dpi=110)
    fig.suptitle(f"{results.survey.title}（{results.responses} 户作答）", fontproperties=fp, fontsize=13)
    if not charts:
        fig.text(0.5, 0.5, "没有选择题", fontproperties=fp, ha="center")
    ratios = [max(1, len(r.question.options)) + 1 for r in charts] or [1]
    axes: list[Any] = list(fig.subplots(rows, 1, gridspec_kw={"height_ratios": ratios}, squeeze=False)[:, 0]) \
        if charts else []
    for ax, r in zip(axes, charts, strict=False):
        labels = list(r.question.options)
        values: list[int] = [r.counts.get(o, 0) for o in labels]
        ax.barh(range(len(labels)), values, color="#3b7dd8")
        ax.set_yticks(range(len(labels)), labels=labels, fontproperties=fp)
        ax.invert_yaxis()
        ax.set_title("\n".join(textwrap.wrap(r.question.text, 30)), fontproperties=fp, fontsize=10, loc="left")
        top = max(values, default=0) or 1
        ax.set_xlim(0, top * 1.25)
        for i, v in enumerate(values):
            share = f"{v / r.answered:.0%}" if r.answered else "0%"
            ax.text(v + top * 0.01, i, f"{v}（{share}）", va="center", fontproperties=fp, fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
    # fixed margins (tight_layout lays the text out several times: seconds on a busy machine)
    fig.subplots_adjust(left=0.17, right=0.97, top=1 - 0.95 / height, bottom=0.35 / height,
                        hspace=0.75 * len(charts) / max(1.0, height - 1.1))
    buf = io.BytesIO()
    with _LOCK:
        fig.savefig(buf, format="png")
    return buf.getvalue()
