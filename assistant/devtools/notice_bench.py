"""How well current notices answer related questions and leave the rest to the knowledge base, with
the real embedder (prints figures; no bars here).

    python -m assistant.devtools.notice_bench [CASES.yml] [--json]

CASES.yml (default ``assistant/schedule/examples/notice_cases.yml``): ``notices`` (name: tags, body,
rumour, source), ``related`` (name: questions) and ``unrelated`` (questions). Prints, at
$ASSISTANT_NOTICE_MIN_SCORE: related questions answered from the right notice, unrelated ones answered
from any notice (false answers), and the lowest related / highest unrelated cosine."""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import timedelta
from pathlib import Path

import yaml

DEFAULT = Path(__file__).resolve().parents[1] / "schedule" / "examples" / "notice_cases.yml"


def main(argv: list[str] | None = None) -> int:
    from assistant.knowledge.build import make_embedder
    from assistant.schedule.bulletin import Bulletin
    from assistant.schedule.store import open_schedule
    from assistant.settings import load_settings

    p = argparse.ArgumentParser(prog="python -m assistant.devtools.notice_bench")
    p.add_argument("cases", nargs="?", default=str(DEFAULT))
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    cases = yaml.safe_load(Path(args.cases).read_text(encoding="utf-8"))
    settings = load_settings()
    embedder = make_embedder(settings)
    with tempfile.TemporaryDirectory() as tmp, open_schedule(f"sqlite:///{tmp}/bench.db") as store:
        ids = {}
        for name, n in cases["notices"].items():
            ids[store.add_notice(n["tags"], n["body"], rumour=n.get("rumour", ""), source=n.get("source", ""),
                                 valid_until=store.now() + timedelta(days=1)).id] = name
        bulletin = Bulletin(store, embedder, min_score=settings.notice_min_score)
        current = store.notices(current_at=store.now())

        def answered(q: str) -> str | None:
            hit = bulletin.lookup(q)
            return ids[int(hit.sources[0]["id"].split("-")[1])] if hit else None

        def best(q: str) -> float:             # the best cosine over all notices, without the word gate
            return max(bulletin.scores(q, current))

        related = [(name, q) for name, qs in cases["related"].items() for q in qs]
        right = sum(answered(q) == name for name, q in related)
        false = [q for q in cases["unrelated"] if answered(q) is not None]
        out = {"min_score": settings.notice_min_score, "related": len(related), "related_answered_right": right,
               "unrelated": len(cases["unrelated"]), "unrelated_answered": len(false), "false_answers": false,
               "lowest_related_cosine": round(min(best(q) for _, q in related), 4),
               "highest_unrelated_cosine": round(max(best(q) for q in cases["unrelated"]), 4)}
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        for k, v in out.items():
            print(f"{k:<26} {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
