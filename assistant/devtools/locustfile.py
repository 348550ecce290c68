"""Locust residents for ``python -m assistant bench load`` (run by locust in its own process, gevent).

Each resident is a fresh conversation that asks three questions and then files a complaint through the
form (five turns, the last confirms: exactly one ticket), then starts again as a new resident. A turn is
lost when it gets no 200 with a JSON list of replies (haproxy already retried it on another instance).
At the end each worker writes what it saw (turns, lost, the ticket ids per resident) to ``--out-json``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from locust import FastHttpUser, constant, events, task

QUESTIONS = ("垃圾几点扔", "车位怎么租？", "物业电话是多少", "榴莲壳是什么垃圾", "快递柜在哪", "小区可以养狗吗",
             "水管漏水找谁修", "停车月卡多少钱", "装修要办什么手续", "门禁卡丢了怎么办")
COMPLAINT = ("我要投诉楼上的噪音", "七号楼二单元三零二", "不知道是哪家", "蛮急的，晚上根本睡不着", "没问题")
SEEN: dict[str, Any] = {"turns": 0, "lost": 0, "lost_reasons": {}, "tickets": {}, "completed": 0}


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--out-json", default="", help="where to write the turns, losses and tickets seen")
    parser.add_argument("--run-id", default="load", help="prefix of the residents' sender ids")


@events.quitting.add_listener
def _write(environment: Any, **_: Any) -> None:
    path = environment.parsed_options.out_json
    if path:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(SEEN, f)


class Resident(FastHttpUser):
    wait_time = constant(0)      # a resident sends the next message as soon as the answer is there
    network_timeout = 180.0      # a slow answer under load is slow, not lost (haproxy queues up to 120 s)

    def on_start(self) -> None:
        self.run_id = self.environment.parsed_options.run_id
        self.n = 0

    def _turn(self, sender: str, text: str) -> list[dict[str, Any]] | None:
        SEEN["turns"] += 1
        with self.client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text}, name="turn",
                              catch_response=True) as resp:
            try:
                body = resp.json() if resp.status_code == 200 else None
            except ValueError:
                body = None
            if not isinstance(body, list) or not body:
                reason = f"status {resp.status_code}" if resp.status_code != 200 else "no reply"
                SEEN["lost"] += 1
                SEEN["lost_reasons"][reason] = SEEN["lost_reasons"].get(reason, 0) + 1
                resp.failure(reason)
                return None
            resp.success()
            return body

    @task
    def conversation(self) -> None:
        self.n += 1
        sender = f"{self.run_id}-{uuid.uuid4().hex[:10]}"
        for i in range(3):
            self._turn(sender, QUESTIONS[(self.n * 3 + i) % len(QUESTIONS)])
        ticket = None
        for text in COMPLAINT:
            for reply in self._turn(sender, text) or []:
                ticket = (reply.get("custom") or {}).get("ticket_id") or ticket
        if ticket:
            SEEN["tickets"].setdefault(sender, [])
            if ticket not in SEEN["tickets"][sender]:
                SEEN["tickets"][sender].append(ticket)
        SEEN["completed"] += 1
