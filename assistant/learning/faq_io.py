"""FAQ import and export as Excel (openpyxl) or CSV, for admins who keep the guide in a spreadsheet.

Columns: id, topic, title, questions (one per line in the cell, or separated by ｜ or |), answer,
tags (、 or , separated), updated. Import checks every row with the knowledge checker: good rows land
(a known id updates that entry in place, an empty id makes a new entry), each bad row is reported
with its row number (as the spreadsheet shows it) and the reason."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import DataError
from assistant.knowledge.kb import _PLACEHOLDER, KnowledgeBase, _Checker
from assistant.learning.kbedit import EntryDraft, KnowledgeFiles

COLUMNS = ("id", "topic", "title", "questions", "answer", "tags", "updated")
HEADERS_CN = {"编号": "id", "主题": "topic", "标题": "title", "问法": "questions", "答案": "answer", "标签": "tags",
              "更新日期": "updated"}
_QSPLIT = re.compile(r"\s*(?:\n|｜|\|)\s*")
_TSPLIT = re.compile(r"\s*[、,，;；]\s*")


@dataclass
class RowError:
    row: int
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.reason}"


@dataclass
class ImportReport:
    written: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rows: int = 0


def read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(row number, {column: text}) for every non-empty data row; header names English or Chinese."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=True)
        table = [[("" if c is None else (c.isoformat()[:10] if hasattr(c, "isoformat") else str(c))) for c in r]
                 for r in wb.active.iter_rows(values_only=True)]
        wb.close()
    elif suffix == ".csv":
        table = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    else:
        raise DataError("a FAQ sheet must be .xlsx or .csv", path=str(path))
    if not table:
        raise DataError("the sheet is empty", path=str(path), line=1)
    head = [HEADERS_CN.get(h.strip(), h.strip().lower()) for h in table[0]]
    missing = [c for c in ("topic", "title", "questions", "answer") if c not in head]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)} (expected {', '.join(COLUMNS)})",
                        path=str(path), line=1)
    out = []
    for n, cells in enumerate(table[1:], start=2):
        if not any(str(c).strip() for c in cells):
            continue
        out.append((n, {h: str(cells[i]).strip() if i < len(cells) else "" for i, h in enumerate(head)}))
    return out


def import_sheet(path: Path, files: KnowledgeFiles) -> ImportReport:
    kb = files.load()
    report = ImportReport()
    drafts: list[EntryDraft] = []
    titles = {e.title: e.id for e in kb.entries}
    seen_ids: dict[str, int] = {}
    seen_titles: dict[str, int] = {}
    rows = read_rows(path)
    report.rows = len(rows)
    for n, row in rows:
        draft, reason = _draft(row, kb)
        if draft is not None:
            if draft.id and draft.id in seen_ids:
                reason = f"id {draft.id!r} also on row {seen_ids[draft.id]}"
            elif draft.title in seen_titles:
                reason = f"title {draft.title!r} also on row {seen_titles[draft.title]}"
            elif draft.title in titles and titles[draft.title] != draft.id:
                reason = f"title {draft.title!r} is already entry {titles[draft.title]!r}"
        if reason or draft is None:
            report.errors.append(RowError(n, reason or "unreadable row"))
            continue
        if draft.id:
            seen_ids[draft.id] = n
        seen_titles[draft.title] = n
        drafts.append(draft)
    if drafts:
        report.written = files.apply(drafts=drafts)
    return report


def _draft(row: dict[str, str], kb: KnowledgeBase) -> tuple[EntryDraft | None, str | None]:
    """A row as an entry, checked by the knowledge checker; (None, reason) when it is bad."""
    questions = [q for q in _QSPLIT.split(row.get("questions", "")) if q]
    tags = [t for t in _TSPLIT.split(row.get("tags", "")) if t]
    eid = row.get("id", "")
    raw: dict[str, Any] = {"id": eid or "new-entry-row", "topic": row.get("topic", ""),
                           "title": row.get("title", ""), "questions": questions, "answer": row.get("answer", ""),
                           "updated": row.get("updated") or "2000-01-01"}
    if tags:
        raw["tags"] = tags
    chk = _Checker()
    entry = chk.entry(raw, Path("sheet"), None, 0)
    if entry is None:
        return None, "; ".join(str(p).split("] ", 1)[-1].replace("entry 'new-entry-row': ", "")
                               for p in chk.problems)
    missing = [k for k in _PLACEHOLDER.findall(entry.answer) if k not in kb.contacts]
    if missing:
        return None, f"placeholder {{{{{missing[0]}}}}} is not in contacts.yml"
    return EntryDraft(topic=entry.topic, title=entry.title, questions=list(entry.questions), answer=entry.answer,
                      id=eid, tags=list(entry.tags), updated=row.get("updated", "")), None


def export_rows(kb: KnowledgeBase) -> list[list[str]]:
    rows = [list(COLUMNS)]
    for e in kb.entries:
        rows.append([e.id, e.topic, e.title, "\n".join(e.questions), e.answer, "、".join(e.tags), e.updated])
    return rows


def export_sheet(kb: KnowledgeBase, path: Path) -> int:
    rows = export_rows(kb)
    if path.suffix.lower() == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            csv.writer(fh).writerows(rows)
    else:
        from openpyxl import Workbook
        from openpyxl.styles import Alignment

        wb = Workbook()
        ws = wb.active
        ws.title = "生活指南"
        for r in rows:
            ws.append(r)
        for col, width in zip("ABCDEFG", (28, 10, 28, 40, 70, 20, 12), strict=True):
            ws.column_dimensions[col].width = width
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
        wb.save(path)
    return len(rows) - 1


def write_sheet(rows: Sequence[Sequence[Any]], path: Path) -> None:
    """Rows (a header first) to .xlsx or .csv (tests and tools)."""
    if path.suffix.lower() == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            csv.writer(fh).writerows(rows)
        return
    from openpyxl import Workbook

    wb = Workbook()
    for r in rows:
        wb.active.append(list(r))
    wb.save(path)
