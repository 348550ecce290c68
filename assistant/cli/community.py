"""``python -m assistant community …``: sign-ups, surveys, anonymous feedback, the mutual-help list
and emergency contacts, for admins (the residents' side is the chat; see assistant/community).

    community signups list|show ID|export ID [--format csv|xlsx] [-o FILE]|close ID|start GROUP TEXT
    community surveys create [--template NAME|FILE] [--title T]|check FILE|list
                      |results ID [--plot PNG] [--json]|close ID
    community feedback list [--open]|done ID
    community help list [--category C]
    community contacts add --unit U --resident NAME --name NAME --relation R --phone P --consent TEXT
                      |list [--unit U]|remove ID

``--db URL`` (default $ASSISTANT_TICKETS_URL, else the desk's models/tickets.db). Exit codes: 0 done;
1 refused or unavailable; 2 bad input (bad template file, bad value).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.community.errors import BadInput

if TYPE_CHECKING:
    from assistant.community.service import Community
    from assistant.settings import Settings


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("community",
                              help="sign-ups, surveys, anonymous feedback, mutual help, emergency contacts")
    p.add_argument("--db", metavar="URL", help="database URL (default $ASSISTANT_TICKETS_URL or models/tickets.db)")
    p.set_defaults(run=run)
    sub = p.add_subparsers(dest="area", required=True, metavar="AREA")

    s = sub.add_parser("signups", help="sign-ups (接龙)").add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    x = s.add_parser("list", help="the sign-ups, newest first")
    x.add_argument("--conversation", help="only this group's")
    s.add_parser("show", help="one sign-up's list as posted in the group").add_argument("id", type=int)
    x = s.add_parser("export", help="a sign-up's list as CSV or Excel")
    x.add_argument("id", type=int)
    x.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    x.add_argument("-o", "--output", type=Path, help="file to write (default: CSV to stdout; xlsx needs -o)")
    s.add_parser("close", help="end a sign-up").add_argument("id", type=int)
    x = s.add_parser("start", help="start a sign-up in a group, as the chat command does")
    x.add_argument("conversation", help="the group's conversation id")
    x.add_argument("text", help="e.g. '周六亲子运动会 限30人 截止周五18:00'")

    s = sub.add_parser("surveys", help="surveys").add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    x = s.add_parser("create", help="a survey from a YAML template")
    x.add_argument("--template", default="quarterly_satisfaction",
                   help="a template name in assistant/community/templates or a YAML file "
                        "(default quarterly_satisfaction)")
    x.add_argument("--title", help="the survey's title (default the template's)")
    s.add_parser("check", help="validate a template file").add_argument("file", type=Path)
    s.add_parser("list", help="the surveys")
    x = s.add_parser("results", help="counts per option (and the free texts)")
    x.add_argument("id", type=int)
    x.add_argument("--plot", type=Path, metavar="PNG", help="write the bar charts to this PNG")
    x.add_argument("--json", action="store_true")
    s.add_parser("close", help="stop taking answers").add_argument("id", type=int)

    s = sub.add_parser("feedback", help="anonymous suggestions").add_subparsers(dest="cmd", required=True,
                                                                                  metavar="COMMAND")
    s.add_parser("list", help="the suggestions, newest day first").add_argument(
        "--open", action="store_true", help="only those not yet handled")
    s.add_parser("done", help="mark a suggestion handled").add_argument("id")

    s = sub.add_parser("help", help="the mutual-help list").add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    s.add_parser("list", help="active offers and asks").add_argument("--category")

    s = sub.add_parser("contacts", help="elderly residents' emergency contacts (admins only)").add_subparsers(
        dest="cmd", required=True, metavar="COMMAND")
    x = s.add_parser("add", help="record a contact with the consent given")
    for name, helptext in (("--unit", "the resident's unit, e.g. 3-1-502"), ("--resident", "the resident's name"),
                           ("--name", "the contact's name"), ("--relation", "e.g. 儿子"),
                           ("--phone", "the contact's phone"),
                           ("--consent", "the consent as given (who agreed, how, when)")):
        x.add_argument(name, required=True, help=helptext)
    x.add_argument("--by", help="the admin recording it (default admin:<login>)")
    s.add_parser("list", help="the contacts").add_argument("--unit")
    s.add_parser("remove", help="delete a contact").add_argument("id", type=int)
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.runtime.app import open_community

    with open_community(settings, args.db) as c:
        try:
            return int(_AREAS[args.area](c, args))
        except BadInput as exc:
            print(f"error: [{exc.field}] {exc}", file=sys.stderr)
            return 2


def _unit(text: str) -> str:
    from assistant.text.units import normalize_unit

    unit = normalize_unit(text)
    if unit is None:
        raise BadInput("unit", f"看不懂房号 {text!r}（例如 5-101、5-1-101）")
    return unit


def _signups(c: Community, args: argparse.Namespace) -> int:
    from assistant.community.when import format_when

    if args.cmd == "list":
        for s in c.signups.list(args.conversation):
            n = len(c.signups.entries(s.id))
            state = "已结束" if s.closed_at else ("进行中" if s.is_open(c.signups.clock()) else "已截止")
            limit = f"限{s.capacity}" if s.capacity else "不限"
            dl = format_when(s.deadline) if s.deadline else "-"
            print(f"#{s.id}\t{state}\t{s.conversation_id}\t{s.title}\t{limit}\t{n} 户\t截止 {dl}")
    elif args.cmd == "show":
        print(c.signups.render(args.id))
    elif args.cmd == "export":
        if args.format == "xlsx":
            if args.output is None:
                raise BadInput("output", "Excel needs -o FILE.xlsx")
            args.output.write_bytes(c.signups.export_xlsx(args.id))
        elif args.output is None:
            sys.stdout.write(c.signups.export_csv(args.id).lstrip("\ufeff"))
        else:
            args.output.write_text(c.signups.export_csv(args.id), encoding="utf-8")
        if args.output is not None:
            print(f"wrote {args.output}")
    elif args.cmd == "close":
        c.signups.close(args.id)
        print(c.signups.render(args.id))
    elif args.cmd == "start":
        s = c.signups.start(args.conversation, args.text, f"admin:{getpass.getuser()}")
        print(c.signups.render(s.id))
    return 0


def _surveys(c: Community, args: argparse.Namespace) -> int:
    from assistant.community.surveys import KINDS, load_template

    if args.cmd == "create":
        s = c.surveys.from_template(args.template, f"admin:{getpass.getuser()}", args.title)
        print(f"survey #{s.id} 《{s.title}》: {len(s.questions)} questions{', anonymous' if s.anonymous else ''}; "
              f"residents answer it in a private chat with: 问卷 {s.id}")
    elif args.cmd == "check":
        tpl = load_template(args.file)
        print(f"ok: 《{tpl.title}》, {len(tpl.questions)} questions")
    elif args.cmd == "list":
        for s in c.surveys.list():
            n = c.surveys.results(s.id).responses
            state, anon = "进行中" if s.is_open else "已结束", "匿名" if s.anonymous else "实名"
            print(f"#{s.id}\t{state}\t{s.title}\t{anon}\t{n} 户作答")
    elif args.cmd == "results":
        res = c.surveys.results(args.id)
        if args.json:
            print(json.dumps({"survey": res.survey.id, "title": res.survey.title, "responses": res.responses,
                              "questions": [{"id": r.question.id, "text": r.question.text, "kind": r.question.kind,
                                             "answered": r.answered, "counts": r.counts, "texts": r.texts}
                                            for r in res.questions]}, ensure_ascii=False, indent=1))
        else:
            print(f"《{res.survey.title}》 {res.responses} 户作答")
            for i, r in enumerate(res.questions, 1):
                print(f"{i}. {r.question.text}（{KINDS[r.question.kind]}，{r.answered} 户回答）")
                for o, n in r.counts.items():
                    print(f"   {o}\t{n}\t{n / r.answered:.0%}" if r.answered else f"   {o}\t0")
                for t in r.texts:
                    print(f"   · {t}")
        if args.plot:
            from assistant.community.plot import plot_results

            args.plot.write_bytes(plot_results(res))
            print(f"wrote {args.plot}", file=sys.stderr if args.json else sys.stdout)
    elif args.cmd == "close":
        s = c.surveys.close(args.id)
        print(f"survey #{s.id} closed")
    return 0


def _feedback(c: Community, args: argparse.Namespace) -> int:
    if args.cmd == "list":
        for f in c.feedback.list(include_handled=not args.open):
            print(f"{f.day}\t{f.id}\t{'已处理' if f.handled else '待处理'}\t{f.text}")
    else:
        c.feedback.mark_handled(args.id)
        print("marked handled")
    return 0


def _help(c: Community, args: argparse.Namespace) -> int:
    from assistant.community.helplist import CATEGORIES, CATEGORY_NAMES, KIND_NAMES

    if args.category and args.category not in CATEGORIES:
        raise BadInput("category", f"unknown category {args.category!r}; one of {', '.join(CATEGORIES)}")
    for p in c.help.list(args.category):
        print(f"#{p.id}\t{CATEGORY_NAMES[p.category]}\t{KIND_NAMES[p.kind]}\t{p.unit}\t{p.text}")
    return 0


def _contacts(c: Community, args: argparse.Namespace) -> int:
    if args.cmd == "add":
        x = c.help.add_contact(_unit(args.unit), args.resident, args.name, args.relation, args.phone, args.consent,
                               args.by or f"admin:{getpass.getuser()}")
        print(f"contact #{x.id} recorded for {x.unit} (consent recorded {x.consent_at:%Y-%m-%d %H:%M} UTC)")
    elif args.cmd == "list":
        for x in c.help.contacts(_unit(args.unit) if args.unit else None):
            print(f"#{x.id}\t{x.unit}\t{x.resident}\t{x.contact_name}（{x.relation}）\t{x.phone}\t"
                  f"同意：{x.consent_text}（{x.consent_at:%Y-%m-%d}，{x.recorded_by} 记录）")
    else:
        c.help.remove_contact(args.id)
        print("removed")
    return 0


_AREAS = {"signups": _signups, "surveys": _surveys, "feedback": _feedback, "help": _help, "contacts": _contacts}
