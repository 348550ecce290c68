"""Anonymous suggestions: nothing in the database links one to its sender (no id, no time finer than
the day, no order), the daily limit counts under a keyed hash whose key is replaced every day."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from assistant.community.errors import BadInput, Refused
from assistant.community.service import Community

from ..pg import FakeClock

SENDER = "terminal:5-101-张三"


def _everything(community: Community) -> str:
    """Every value of every community table, as text."""
    out = []
    with community.engine.connect() as conn:
        for table in inspect(community.engine).get_table_names():
            if table.startswith("community_"):
                out += [repr(tuple(r)) for r in conn.execute(text(f'SELECT * FROM "{table}"'))]
    return "\n".join(out)


def test_a_suggestion_keeps_no_trace_of_its_sender(community: Community, tmp_path: Path) -> None:
    community.feedback.submit(SENDER, "地库照明晚上太暗，我的电话13812345678")
    dump = _everything(community)
    assert "13812345678" not in dump and "[手机号已隐藏]" in dump
    assert "5-101" not in dump and "张三" not in dump and "terminal" not in dump
    cols = {c["name"] for c in inspect(community.engine).get_columns("community_feedback")}
    assert cols == {"id", "day", "text", "handled"}                  # the day, never a time
    [item] = community.feedback.list()
    assert item.day.isoformat() == "2026-12-01" and not item.handled


def test_rows_keep_no_order_of_arrival(lite: Community) -> None:
    for i in range(30):
        lite.feedback.submit(f"terminal:sender-{i}", f"第{i:02d}条建议内容")
    listed = [f.text for f in lite.feedback.list()]
    arrival = [f"第{i:02d}条建议内容" for i in range(30)]
    assert sorted(listed) == arrival and listed != arrival
    with lite.engine.connect() as conn:            # the physical order of the table, too
        stored = [r[0] for r in conn.execute(text("SELECT text FROM community_feedback"))]
    assert sorted(stored) == arrival and stored != arrival


def test_daily_limit_by_a_keyed_hash_rotated_daily(community: Community, now: FakeClock, tmp_path: Path) -> None:
    for i in range(3):
        community.feedback.submit(SENDER, f"建议第{i}条内容")
    with pytest.raises(Refused, match="3 条上限"):
        community.feedback.submit(SENDER, "第四条建议内容")
    community.feedback.submit("terminal:6-202-李四", "另一位邻居的建议")       # others are not limited
    key_file = tmp_path / "feedback.key"
    first = json.loads(key_file.read_text())
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert first["key"] not in _everything(community)
    now.advance(days=1)
    community.feedback.submit(SENDER, "第二天的建议内容")
    second = json.loads(key_file.read_text())
    assert second["day"] == "2026-12-02" and second["key"] != first["key"]
    with community.engine.connect() as conn:            # yesterday's counts are gone
        days = {str(r[0]) for r in conn.execute(text("SELECT day FROM community_feedback_quota"))}
    assert days == {"2026-12-02"}


@pytest.mark.parametrize("body, says", [("", "太短"), ("好", "太短"), ("长" * 1001, "太长")])
def test_bad_suggestions_are_refused(lite: Community, body: str, says: str) -> None:
    with pytest.raises(BadInput, match=says):
        lite.feedback.submit(SENDER, body)
    assert lite.feedback.list() == []


def test_the_same_sender_at_once_is_still_counted(community: Community) -> None:
    import threading

    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def send(i: int) -> None:
        barrier.wait()
        try:
            community.feedback.submit(SENDER, f"同时发送的建议{i}")
            outcomes.append("stored")
        except Refused:
            outcomes.append("refused")

    threads = [threading.Thread(target=send, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["refused"] * 3 + ["stored"] * 3
    assert len(community.feedback.list()) == 3


def test_many_senders_at_once_lose_nothing(community: Community) -> None:
    import threading

    barrier = threading.Barrier(12)

    def send(i: int) -> None:
        barrier.wait()
        community.feedback.submit(f"terminal:sender-{i}", f"第{i:02d}条同时到达的建议")

    threads = [threading.Thread(target=send, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(f.text for f in community.feedback.list()) == [f"第{i:02d}条同时到达的建议" for i in range(12)]
