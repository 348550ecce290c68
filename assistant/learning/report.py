"""The quarterly report: HTML (plots inline) and PDF (matplotlib's PdfPages) with the quarter's
figures beside the previous quarter's, plots with Chinese labels (a CJK font installed by setup),
the top unanswered topics, entries never hit, and suggested actions."""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError
from assistant.knowledge.kb import TOPIC_NAMES, KnowledgeBase
from assistant.learning.metrics import Metrics
from assistant.learning.review import Group
from assistant.learning.store import EntryStats
from assistant.vocabulary import CATEGORY_NAMES

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Serif CJK SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
             "Source Han Sans SC", "AR PL UMing CN")


@dataclass
class ReportData:
    now: Metrics
    before: Metrics
    unanswered: list[Group] = field(default_factory=list)
    stats: dict[str, EntryStats] = field(default_factory=dict)
    kb: KnowledgeBase | None = None

    @property
    def never_hit(self) -> list[str]:
        if self.kb is None:
            return []
        return [e.id for e in self.kb.entries if self.stats.get(e.id) is None or not self.stats[e.id].hits]


def cjk_font() -> str:
    """The name of an installed CJK font matplotlib can use; ConfigError when there is none."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in names:
            return name
    raise ConfigError("no CJK font for the report's plots: install fonts-noto-cjk (scripts/bootstrap.sh does)")


def _setup() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["font.sans-serif"] = [cjk_font(), "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
    return plt


def _fmt(v: float | None, kind: str = "n") -> str:
    if v is None:
        return "—"
    if kind == "%":
        return f"{v * 100:.1f}%"
    if kind == "f":
        return f"{v:.1f}"
    return f"{int(v):,}"


def key_figures(d: ReportData) -> list[tuple[str, str, str]]:
    """(名称, 本季度, 上季度)."""
    a, b = d.now, d.before
    def hf(m: Metrics) -> float | None:
        n = m.helpful + m.unhelpful
        return m.helpful / n if n else None
    rows = [("消息数", a.messages, b.messages, "n"), ("活跃参与人数", a.participants, b.participants, "n"),
            ("提问数", a.questions, b.questions, "n"), ("已回答", a.answered, b.answered, "n"),
            ("回答率", a.answer_rate, b.answer_rate, "%"), ("回答有用率（有用/全部反馈）", hf(a), hf(b), "%"),
            ("新工单", a.tickets_opened, b.tickets_opened, "n"),
            ("已解决工单", a.tickets_resolved, b.tickets_resolved, "n"),
            ("解决用时中位数（小时）", a.resolve_hours_median, b.resolve_hours_median, "f"),
            ("解决用时 P90（小时）", a.resolve_hours_p90, b.resolve_hours_p90, "f"),
            ("SLA 超时次数", a.sla_breaches, b.sla_breaches, "n"),
            ("满意度均分（1-5）", a.csat_mean, b.csat_mean, "f"), ("满意度评价数", a.csat_count, b.csat_count, "n"),
            ("转人工次数", a.handoffs, b.handoffs, "n"),
            ("转人工等待中位数（分钟）", a.handoff_wait_minutes_median, b.handoff_wait_minutes_median, "f"),
            ("无人接手超时", a.handoffs_expired, b.handoffs_expired, "n"),
            ("群规处理次数", sum(a.moderation_by_rule.values()), sum(b.moderation_by_rule.values()), "n")]
    return [(name, _fmt(x, k), _fmt(y, k)) for name, x, y, k in rows]


def suggestions(d: ReportData) -> list[str]:
    out: list[str] = []
    a, b = d.now, d.before
    for topic, (asked, answered) in a.by_topic.items():
        if asked >= 20 and answered / asked < 0.7:
            out.append(f"「{TOPIC_NAMES.get(topic, '未分类')}」回答率仅 {answered / asked:.0%}（{asked} 问）："
                       "补充该主题条目或问法。")
    for g in d.unanswered[:3]:
        out.append(f"{len(g.questions)} 个相近问题未能回答（如「{g.label}」）：在审核队列中写新条目或并入已有条目。")
    low = [s for s in d.stats.values() if s.helpful_ratio is not None and s.helpful + s.unhelpful >= 5
           and s.helpful_ratio < 0.5]
    for s in sorted(low, key=lambda s: s.helpful_ratio or 0)[:3]:
        out.append(f"条目 {s.entry_id} 的有用率只有 {s.helpful_ratio:.0%}：请修订答案。")
    if d.never_hit:
        out.append(f"{len(d.never_hit)} 个条目本季度从未命中：检查是否过时或问法不贴近居民说法。")
    if a.sla_breaches > b.sla_breaches and a.sla_breaches:
        out.append(f"SLA 超时 {a.sla_breaches} 次（上季度 {b.sla_breaches}）：检查值班安排与工单指派。")
    if a.csat_mean is not None and b.csat_mean is not None and a.csat_mean < b.csat_mean - 0.2:
        out.append(f"满意度均分从 {b.csat_mean:.1f} 降到 {a.csat_mean:.1f}：回访低分工单。")
    if a.handoff_wait_minutes_median and a.handoff_wait_minutes_median > 30:
        out.append(f"转人工等待中位数 {a.handoff_wait_minutes_median:.0f} 分钟：增加值班管理员或调整轮值。")
    if a.participants < b.participants * 0.9:
        out.append(f"活跃参与人数下降（{b.participants} → {a.participants}）：在群内介绍助手的用法。")
    return out or ["各项指标平稳，继续按季度更新生活指南。"]


def figures(d: ReportData) -> list[Any]:
    """The plots (matplotlib Figures), titled in Chinese."""
    plt = _setup()
    a, b = d.now, d.before
    figs = []
    fig, ax = plt.subplots(figsize=(10, 4.2))
    days = list(a.messages_per_day)
    ax.plot(days, list(a.messages_per_day.values()), label="每日消息数", color="#2b6cb0")
    ax.plot(days, list(a.participants_per_day.values()), label="每日活跃人数", color="#dd6b20")
    ax.set_title(f"{a.period.name} 群活跃度：每日消息与参与人数")
    ax.legend()
    fig.autofmt_xdate()
    fig.tight_layout()
    figs.append(fig)

    fig, ax = plt.subplots(figsize=(10, 4.2))
    topics = list(a.by_topic)
    rates = [a.by_topic[t][1] / a.by_topic[t][0] if a.by_topic[t][0] else 0 for t in topics]
    prev = [b.by_topic[t][1] / b.by_topic[t][0] if b.by_topic.get(t, (0, 0))[0] else 0 for t in topics]
    xs = range(len(topics))
    ax.bar([x - 0.2 for x in xs], rates, width=0.4, label=a.period.name, color="#2b6cb0")
    ax.bar([x + 0.2 for x in xs], prev, width=0.4, label=b.period.name, color="#a0aec0")
    ax.set_xticks(list(xs), [TOPIC_NAMES.get(t, "未分类") for t in topics])
    ax.set_ylim(0, 1)
    ax.set_ylabel("回答率")
    ax.set_title("各主题回答率（与上季度比较）")
    ax.legend()
    fig.tight_layout()
    figs.append(fig)

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.2))
    cats = list(a.tickets_by_category)[:8]
    ax1.barh([CATEGORY_NAMES.get(c, c) for c in cats][::-1], [a.tickets_by_category[c] for c in cats][::-1],
             color="#38a169")
    ax1.set_title("工单类别")
    rules = list(a.moderation_by_rule)[:8]
    if rules:
        ax2.barh(rules[::-1], [a.moderation_by_rule[r] for r in rules][::-1], color="#e53e3e")
    else:                       # an empty axis with a ±0.04 scale says nothing: say so in words
        ax2.set_axis_off()
        ax2.text(0.5, 0.5, "本季度没有群规处理", ha="center", va="center", fontsize=12, transform=ax2.transAxes)
    ax2.set_title("群规处理（按规则）")
    fig.tight_layout()
    figs.append(fig)
    return figs


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def write(d: ReportData, folder: Path) -> tuple[Path, Path]:
    """``report-<quarter>.html`` and ``.pdf`` in ``folder``."""
    plt = _setup()
    from matplotlib.backends.backend_pdf import PdfPages

    folder.mkdir(parents=True, exist_ok=True)
    name = d.now.period.name
    figs = figures(d)
    pngs = [_png(f) for f in figs]
    pdf_path, html_path = folder / f"report-{name}.pdf", folder / f"report-{name}.html"
    with PdfPages(pdf_path) as pdf:
        pdf.savefig(_text_page(plt, d, "figures"))
        for f in figs:
            pdf.savefig(f)
        pdf.savefig(_text_page(plt, d, "actions"))
        info = pdf.infodict()
        info["Title"] = f"锦山壹号 {name} 季度评估报告"
    plt.close("all")
    html_path.write_text(render_html(d, pngs), encoding="utf-8")
    return html_path, pdf_path


def _text_page(plt: Any, d: ReportData, which: str) -> Any:
    fig = plt.figure(figsize=(8.27, 11.69))        # A4
    y = 0.95
    def line(text: str, size: int = 11, dy: float = 0.028, weight: str = "normal") -> None:
        nonlocal y
        fig.text(0.08, y, text, fontsize=size, weight=weight, va="top")
        y -= dy
    if which == "figures":
        line(f"锦山壹号业主群 · {d.now.period.name} 季度评估报告", 18, 0.05, "bold")
        line(f"统计区间：{d.now.period.name}（北京时间），对比：{d.before.period.name}。"
             f"生成于 {dt.date.today()}", 10, 0.04)
        line("关键指标（本季度 / 上季度）", 13, 0.035, "bold")
        for label, x, z in key_figures(d):
            line(f"{label}：{x}   /   {z}")
    else:
        line("未能回答的主要问题（按相似度分组）", 13, 0.035, "bold")
        for g in d.unanswered[:10]:
            line(f"· {len(g.questions)} 次：{g.label[:40]}")
        if not d.unanswered:
            line("· 本季度没有未回答的问题")
        y -= 0.02
        line(f"本季度从未命中的条目：{len(d.never_hit)} 个", 13, 0.035, "bold")
        for eid in d.never_hit[:8]:
            line(f"· {eid}", 10, 0.022)
        y -= 0.02
        line("建议措施", 13, 0.035, "bold")
        for s in suggestions(d):
            for i in range(0, len(s), 38):
                line(("· " if i == 0 else "  ") + s[i:i + 38])
    return fig


def render_html(d: ReportData, pngs: Sequence[bytes]) -> str:
    e = html.escape
    rows = "".join(f"<tr><td>{e(a)}</td><td>{e(b)}</td><td>{e(c)}</td></tr>" for a, b, c in key_figures(d))
    imgs = "".join(f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(p).decode()}">' for p in pngs)
    groups = "".join(f"<li>{len(g.questions)} 次：{e(g.label)}</li>" for g in d.unanswered[:10]) or "<li>无</li>"
    never = "".join(f"<li>{e(x)}</li>" for x in d.never_hit[:30]) or "<li>无</li>"
    sugg = "".join(f"<li>{e(s)}</li>" for s in suggestions(d))
    name = e(d.now.period.name)
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{name} 季度评估报告</title>
<style>body{{font-family:"Noto Sans CJK SC",sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 10px}}img{{max-width:100%}}</style></head>
<body><h1>锦山壹号业主群 · {name} 季度评估报告</h1>
<h2>关键指标</h2><table><tr><th>指标</th><th>{name}</th><th>{e(d.before.period.name)}</th></tr>{rows}</table>
<h2>图表</h2>{imgs}
<h2>未能回答的主要问题</h2><ol>{groups}</ol>
<h2>本季度从未命中的条目（{len(d.never_hit)}）</h2><ul>{never}</ul>
<h2>建议措施</h2><ul>{sugg}</ul></body></html>"""


def build(quarter: str, store: Any, desk_engine: Any, strikes_engine: Any, kb: KnowledgeBase | None,
          encoder: Any, folder: Path, max_unanswered: int = 800) -> tuple[Path, Path]:
    """Gather the quarter's and the previous quarter's figures, group the quarter's doubtful
    questions, and write the HTML and PDF."""
    from assistant.learning.metrics import Period, collect
    from assistant.learning.review import group_questions

    period = Period.quarter(quarter)
    before = period.previous()
    now_m = collect(period, store, desk_engine, strikes_engine)
    before_m = collect(before, store, desk_engine, strikes_engine)
    asked = [q for q in store.questions(None, since=period.start, until=period.end, limit=max_unanswered)
             if q.kind in ("fallback", "clarify", "thumbs_down")]
    groups = group_questions(asked, encoder) if asked and encoder is not None else []
    data = ReportData(now_m, before_m, groups, store.entry_stats(period.start, period.end), kb)
    return write(data, folder)
