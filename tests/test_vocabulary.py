from __future__ import annotations

import ast
from pathlib import Path

from assistant import vocabulary as v
from assistant.vocabulary import infer_category


def test_every_key_has_a_name_and_every_name_is_distinct() -> None:
    for keys, names in ((v.CATEGORIES, v.CATEGORY_NAMES), (v.STATUSES, v.STATUS_NAMES),
                        (v.PRIORITIES, v.PRIORITY_NAMES), (v.PRIORITIES, v.URGENCY_NAMES),
                        (v.REASONS, v.REASON_NAMES), (v.OVERDUE_KINDS, v.OVERDUE_NAMES)):
        assert set(names) == set(keys)
        assert len(set(names.values())) == len(keys)


def test_inference_checks_every_category_but_other_once() -> None:
    assert sorted(v.INFERENCE_ORDER) == sorted(set(v.CATEGORIES) - {"other"})
    assert set(v.CATEGORY_ALIASES.values()) <= set(v.CATEGORIES)


def test_inference_order_decides() -> None:
    # safety is checked before noise and the neighbours, the neighbours before service
    assert infer_category("楼上在楼道飞线充电，声音很大") == "safety"
    assert infer_category("楼上半夜很吵") == "noise"
    assert infer_category("隔壁邻居物业也不管") == "neighbour"
    assert infer_category("今天天气不错") == "other"


def test_vocabulary_is_a_leaf() -> None:
    tree = ast.parse(Path(v.__file__).read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not {m for m in imported if m.startswith("assistant") and m != "assistant.errors"}
