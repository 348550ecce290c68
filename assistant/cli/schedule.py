"""``python -m assistant schedule``: scheduled posts, notices and rumours, the activity calendar.

    schedule post add --name 周五物业通知 --cron "0 18 * * 5" --days workday \
        --template property_weekly --text "…"
    schedule post add --name 平安夜 --at "2026-12-24 20:00" --text "平安夜快乐"
    schedule post list | post remove ID
    schedule notice add --tag 停水 --until "2026-12-05 12:00" "12月5日 9:00-12:00 5栋停水检修"
    schedule notice add --tag 辟谣 --rumour "小区要拆迁" --source "街道办 11-30 公告" --until 2026-12-31 "没有拆迁计划"
    schedule notice list | notice remove ID
    schedule event add --title 亲子运动会 --place 中心广场 --start "2026-12-12 09:00" \
        --end "2026-12-12 11:00" [--signup J1]
    schedule event list [--month 2026-12] | event remove ID
    schedule ics [--out FILE]               the calendar as .ics (stdout by default)
    schedule run [--at TIME] [--json]       post what is due now (the sweeper does this every minute)
    schedule watch [--every SECONDS]

Times are local to Asia/Shanghai unless they carry an offset. Bad input exits 2 naming the field.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from assistant.schedule.rules import DAYS, DEFAULT_TZ, Rule, parse_time, zone
from assistant.schedule.templates import TEMPLATES

if TYPE_CHECKING:
    from assistant.schedule.store import ScheduleStore
    from assistant.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("schedule", help="scheduled posts, notices and rumours, the activity calendar")
    p.set_defaults(run=run)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="URL", help="database URL (default $ASSISTANT_TICKETS_URL or "
                        "sqlite:///<project>/models/tickets.db)")
    common.add_argument("--actor", default="admin:cli", help="who does it (default admin:cli)")
    common.add_argument("--json", action="store_true", help="print JSON")
    ssub = p.add_subparsers(dest="what", required=True, metavar="WHAT")

    post = ssub.add_parser("post", help="recurring and one-off posts").add_subparsers(dest="action", required=True)
    a = post.add_parser("add", parents=[common], help="add a post")
    a.add_argument("--name", required=True)
    when = a.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", help="five fields: minute hour day month weekday, e.g. '0 18 * * 5'")
    when.add_argument("--at", help="one-off time, e.g. '2026-12-24 20:00'")
    a.add_argument("--days", default="any", help=f"{', '.join(DAYS)} (default any)")
    a.add_argument("--template", default="text", help=f"{', '.join(TEMPLATES)} (default text)")
    a.add_argument("--text", default="", help="the post's text ({date} and {festival} are filled in)")
    a.add_argument("--target", default="group", help="group (default) or admins")
    post.add_parser("list", parents=[common], help="list posts with their next time and last runs")
    r = post.add_parser("remove", parents=[common], help="stop a post")
    r.add_argument("id")

    notice = ssub.add_parser("notice", help="notices and 辟谣").add_subparsers(dest="action", required=True)
    a = notice.add_parser("add", parents=[common], help="publish a notice")
    a.add_argument("text", help="the notice (for #辟谣#: the official clarification)")
    a.add_argument("--tag", action="append", required=True, help="a tag such as 物业通知 (repeatable)")
    a.add_argument("--until", required=True,
                   help="valid until, e.g. '2026-12-05 18:00' or 2026-12-05 (through that day)")
    a.add_argument("--rumour", default="", help="the rumour being cleared (with --tag 辟谣)")
    a.add_argument("--source", default="", help="where the official word comes from")
    notice.add_parser("list", parents=[common], help="list notices")
    r = notice.add_parser("remove", parents=[common], help="withdraw a notice")
    r.add_argument("id")

    event = ssub.add_parser("event", help="the activity calendar").add_subparsers(dest="action", required=True)
    a = event.add_parser("add", parents=[common], help="add an activity")
    a.add_argument("--title", required=True)
    a.add_argument("--place", required=True)
    a.add_argument("--start", required=True, help="e.g. '2026-12-12 09:00'")
    a.add_argument("--end", required=True, help="e.g. '2026-12-12 11:00'")
    a.add_argument("--signup", help="the sign-up (接龙) id, if any")
    a.add_argument("--remind", default="1440,60", help="minutes before the start, comma-separated (default 1440,60)")
    lst = event.add_parser("list", parents=[common], help="list activities")
    lst.add_argument("--month", help="YYYY-MM (default: from today on)")
    r = event.add_parser("remove", parents=[common], help="cancel an activity")
    r.add_argument("id")

    ics = ssub.add_parser("ics", parents=[common], help="export the calendar as .ics")
    ics.add_argument("--out", help="file to write (default stdout)")
    run_p = ssub.add_parser("run", parents=[common], help="post what is due now, report missed runs")
    run_p.add_argument("--at", help="time to run at (default now)")
    w = ssub.add_parser("watch", parents=[common], help="run every --every seconds until Ctrl-C")
    w.add_argument("--every", type=float, default=60.0)
    return p


def _remind(value: str) -> list[int]:
    from assistant.schedule.errors import ScheduleInputError

    try:
        return [int(x) for x in value.split(",") if x.strip()]
    except ValueError:
        raise ScheduleInputError("remind", f"{value!r} is not minutes like 1440,60") from None


def run(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.runtime.app import open_schedule_store

    tz = zone(DEFAULT_TZ)
    with open_schedule_store(settings, args.db) as store:
        out: Any = None
        if args.what == "post":
            out = _posts(args, store)
        elif args.what == "notice":
            out = _notices(args, store)
        elif args.what == "event":
            out = _events(args, store, tz)
        elif args.what == "ics":
            from assistant.schedule.ics import export_ics

            data = export_ics(store.events())
            if args.out:
                with open(args.out, "wb") as fh:
                    fh.write(data)
                print(f"wrote {args.out}", file=sys.stderr)
            else:
                sys.stdout.write(data.decode("utf-8"))
            return 0
        else:
            return _run(args, settings, store)
    if args.json:
        print(json.dumps(out, ensure_ascii=False, default=str))
    else:
        for row in out if isinstance(out, list) else [out]:
            print("  ".join(f"{k}={v}" for k, v in row.items()))
    return 0


def _local(t: datetime | None) -> str | None:
    return t.astimezone(zone(DEFAULT_TZ)).strftime("%Y-%m-%d %H:%M") if t else None


def _posts(args: argparse.Namespace, store: ScheduleStore) -> Any:
    if args.action == "add":
        rule = Rule.parse(args.cron, args.days) if args.cron else Rule.once(args.at, args.days)
        p = store.add_post(args.name, rule, args.template, args.text, target=args.target, actor=args.actor)
        return {"id": p.id, "name": p.name, "rule": rule.describe(), "next": _local(rule.next_after(store.now()))}
    if args.action == "remove":
        p = store.remove_post(args.id)
        return {"id": p.id, "removed": True}
    now = store.now()
    rows = []
    for p in store.posts():
        runs = store.runs(p.job)
        rows.append({"id": p.id, "name": p.name, "template": p.template, "rule": p.rule.describe(),
                     "target": p.target, "active": p.active,
                     "next": _local(p.rule.next_after(now)) if p.active else None,
                     "posted": sum(r.status == "posted" for r in runs),
                     "missed": sum(r.status == "missed" for r in runs)})
    return rows


def _notices(args: argparse.Namespace, store: ScheduleStore) -> Any:
    tz = zone(DEFAULT_TZ)
    if args.action == "add":
        from assistant.schedule.routines import parse_when

        n = store.add_notice(args.tag, args.text, valid_until=parse_when(args.until, store.now().astimezone(tz)),
                             rumour=args.rumour, source=args.source, actor=args.actor)
        return {"id": n.id, "kind": n.kind, "tags": ",".join(n.tags), "until": _local(n.valid_until)}
    if args.action == "remove":
        return {"id": store.remove_notice(args.id).id, "removed": True}
    now = store.now()
    return [{"id": n.id, "kind": n.kind, "tags": ",".join(n.tags), "current": n.current(now),
             "until": _local(n.valid_until), "text": (n.rumour + " → " if n.rumour else "") + n.body[:40]}
            for n in store.notices()]


def _events(args: argparse.Namespace, store: ScheduleStore, tz: Any) -> Any:
    if args.action == "add":
        e = store.add_event(args.title, args.place, parse_time(args.start, tz, "start"),
                            parse_time(args.end, tz, "end"), signup_id=args.signup, remind=_remind(args.remind),
                            actor=args.actor)
        return {"id": e.id, "title": e.title, "start": _local(e.start), "end": _local(e.end)}
    if args.action == "remove":
        return {"id": store.remove_event(args.id).id, "removed": True}
    start, end = store.now(), None
    if args.month:
        start = parse_time(f"{args.month}-01", tz, "month")
        end = (start + timedelta(days=32)).replace(day=1)
    return [{"id": e.id, "title": e.title, "place": e.place, "start": _local(e.start), "end": _local(e.end),
             "signup": e.signup_id or "-"} for e in store.events(start, end)]


def _run(args: argparse.Namespace, settings: Settings, store: ScheduleStore) -> int:
    from assistant.desk.admin_notify import notifier_from_settings
    from assistant.runtime.app import schedule_posters
    from assistant.schedule.runner import ScheduleRunner, run_due

    notifier = notifier_from_settings(settings, background=False)
    posters = schedule_posters(settings, store, notifier)
    grace = timedelta(minutes=settings.schedule_grace_minutes)
    if args.what == "run":
        at = parse_time(args.at, zone(DEFAULT_TZ)) if args.at else datetime.now(UTC)
        report = run_due(store, posters, notifier, at, grace=grace)
        print(json.dumps(report.as_dict(), ensure_ascii=False) if args.json else
              f"posted {len(report.posted)}, missed {len(report.missed)}, failed {len(report.failed)}"
              + (f"; errors: {'; '.join(report.errors)}" if report.errors else ""))
        return 1 if report.errors else 0
    runner = ScheduleRunner(store, posters, notifier, every=args.every, grace=grace,
                            on_report=lambda r: None if r.empty else print(json.dumps(r.as_dict(),
                                                                                      ensure_ascii=False)))
    runner.start()
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        runner.stop()
    return 0
