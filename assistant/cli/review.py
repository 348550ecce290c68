"""``python -m assistant review list|attach|new|out-of-scope|dismiss|audit``: the review queue of
questions the bot could not answer well, grouped by meaning (see assistant/learning/README.md)."""

from __future__ import annotations

import argparse
import getpass
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.settings import Settings


def _ids(text: str) -> list[int]:
    try:
        return [int(x) for x in text.replace("，", ",").split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--ids must be numbers separated by commas, not {text!r}") from None


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("review", help="the review queue of unanswered and doubtful questions")
    p.add_argument("--actor", help="who decides (default $ASSISTANT_TICKETS_ACTOR, else admin:<login>)")
    s = p.add_subparsers(dest="review_cmd", required=True)
    ls = s.add_parser("list", help="open questions, grouped by meaning")
    ls.add_argument("--json", action="store_true")
    a = s.add_parser("attach", help="(a) the group's questions become phrasings of an existing entry")
    a.add_argument("--ids", type=_ids, required=True)
    a.add_argument("--entry", required=True)
    n = s.add_parser("new", help="(b) write a new entry that answers the group")
    n.add_argument("--ids", type=_ids, default=[])
    n.add_argument("--topic", required=True)
    n.add_argument("--title", required=True)
    n.add_argument("--answer", required=True, help="contacts as {{placeholders}} from contacts.yml")
    n.add_argument("--question", action="append", default=[], help="a phrasing (repeatable; default: the group's)")
    n.add_argument("--tag", action="append", default=[])
    o = s.add_parser("out-of-scope", help="(c) negatives for the confidence calibration")
    o.add_argument("--ids", type=_ids, required=True)
    d = s.add_parser("dismiss", help="(d) nothing to learn")
    d.add_argument("--ids", type=_ids, required=True)
    au = s.add_parser("audit", help="who decided what, when")
    au.add_argument("--limit", type=int, default=50)
    p.set_defaults(run=run)
    return p


def actor(args: argparse.Namespace, settings: Settings) -> str:
    if args.actor or settings.tickets_actor:
        return str(args.actor or settings.tickets_actor)
    try:
        return f"admin:{getpass.getuser()}"
    except (KeyError, OSError):
        return "admin"


def run(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.learning.kbedit import EntryDraft
    from assistant.learning.store import KIND_NAMES
    from assistant.runtime.app import learning_service

    learning = learning_service(settings, hit_testing=False)
    review, who = learning.review, actor(args, settings)
    cmd = args.review_cmd
    if cmd == "list":
        groups = review.groups()
        if args.json:
            print(json.dumps([{"label": g.label, "ids": g.ids, "kinds": dict(g.kinds),
                               "questions": [q.text for q in g.questions],
                               "offered": [{"id": i, "title": t, "times": n} for i, t, n in g.offered]}
                              for g in groups], ensure_ascii=False, indent=1))
            return 0
        for i, g in enumerate(groups, 1):
            kinds = "、".join(f"{KIND_NAMES[k]} {n}" for k, n in g.kinds.items())
            print(f"[{i}] {g.label}  ({len(g.questions)} 次: {kinds})  ids={','.join(map(str, g.ids))}")
            for q in g.questions[1:6]:
                print(f"     · {q.text}")
            if g.offered:
                print("     offered: " + "; ".join(f"{eid} ×{n}" for eid, _, n in g.offered[:3]))
        print(f"{len(groups)} group(s)")
        return 0
    if cmd == "attach":
        print(f"attached to {review.attach(args.ids, args.entry, who)}")
    elif cmd == "new":
        draft = EntryDraft(topic=args.topic, title=args.title, questions=args.question, answer=args.answer,
                           tags=args.tag)
        print(f"new entry {review.write_entry(args.ids, draft, who)}")
    elif cmd == "out-of-scope":
        print(f"out of scope: {review.out_of_scope(args.ids, who)} new negative example(s)")
    elif cmd == "dismiss":
        print(f"dismissed {review.dismiss(args.ids, who)} question(s)")
    else:
        for a in learning.store.audits(args.limit):
            print(f"{a.at:%Y-%m-%d %H:%M} UTC  {a.actor}  {a.action}  {json.dumps(a.detail, ensure_ascii=False)}")
    return 0
