from __future__ import annotations

import hashlib
import os
import secrets
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
collect_ignore = ["rasa_env"]  # run by the Rasa environment's pytest
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Rasa's API token for the test servers and every CLI subprocess: no token file made in the shared models/
os.environ.setdefault("ASSISTANT_RASA_TOKEN", secrets.token_urlsafe(16))

# Property, fuzz and schema tests: a short run by default; `--hypothesis-profile=fuzz` (make fuzz) for the
# full bar (>= 10,000 inputs per fuzz test). The Rasa environment (tests/rasa_env) has no hypothesis.
try:
    from hypothesis import HealthCheck
    from hypothesis import settings as hypothesis_settings
except ImportError:
    pass
else:
    _SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]
    hypothesis_settings.register_profile("default", max_examples=300, deadline=None, database=None,
                                         suppress_health_check=_SLOW_OK)
    hypothesis_settings.register_profile("fuzz", max_examples=10_000, deadline=None, database=None,
                                         suppress_health_check=list(HealthCheck))
    hypothesis_settings.load_profile("default")


class HashEmbedder:
    """Unit-test embedder: hashed character uni/bi-grams, L2-normalised. Deterministic and fast."""

    name = "hash-test"

    def __init__(self, dim: int = 512) -> None:
        self.dim = dim
        self.calls = 0
        self.encoded: list[str] = []

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        grams = list(text) + [text[i:i + 2] for i in range(len(text) - 1)]
        for g in grams:
            h = int(hashlib.md5(g.encode()).hexdigest()[:8], 16)
            v[h % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def encode_queries(self, texts):  # noqa: ANN001, ANN201
        self.calls += 1
        self.encoded.extend(texts)
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    encode_passages = encode_queries


@pytest.fixture
def clock():  # noqa: ANN201 - a FakeClock (tests/pg.py) at Monday 10:00 Shanghai, for the store suites
    from .pg import FakeClock

    return FakeClock()


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()


MINI_KB = {
    "contacts.yml": """
        contacts:
          property_phone: "0000-0000001（占位，待管理员替换）"
        """,
    "parking.yml": """
        topic: parking
        entries:
          - id: parking-rent
            title: 如何租用小区车位
            questions: [车位怎么租, 停车位可以租吗, 想租个地下车位找谁]
            answer: 到物业服务中心办理，电话 {{property_phone}}。
            updated: 2026-10-01
          - id: parking-visitor
            title: 访客车辆如何登记
            questions: [访客车辆要登记吗, 朋友来了车怎么进, 外来车辆收费吗]
            answer: 访客车辆在岗亭登记，2小时内免费。
            updated: 2026-10-01
        """,
    "garbage.yml": """
        topic: garbage
        entries:
          - id: garbage-kitchen
            title: 厨余垃圾怎么投放
            questions: [厨余垃圾几点扔, 湿垃圾什么时候丢, 剩菜剩饭扔哪里]
            answer: 每天7:00-9:00、18:00-21:00投放到绿色桶。
            updated: 2026-10-01
          - id: garbage-hazardous
            title: 有害垃圾怎么投放
            questions: [有害垃圾扔哪, 红色桶在哪里, 废电池放哪个桶]
            answer: 有害垃圾投放到红色桶。
            updated: 2026-10-01
        """,
    "repair.yml": """
        topic: repair
        entries:
          - id: repair-flow
            title: 报修流程
            questions: [怎么报修, 水龙头坏了找谁修, 家里漏水怎么报修]
            answer: 拨打 {{property_phone}} 或在小程序报修。
            updated: 2026-10-01
        """,
    "garbage_items.yml": """
        id: garbage-items
        title: 常见物品垃圾分类速查表
        topic: garbage
        updated: 2026-10-01
        categories:
          有害垃圾: {bin: 红色桶, how: 轻放, entry: garbage-hazardous}
          厨余垃圾: {bin: 绿色桶, how: 沥干水分, entry: garbage-kitchen}
          其他垃圾: {bin: 灰色桶, how: 袋装}
        items:
          - {name: 电池, aliases: [干电池], category: 有害垃圾}
          - {name: 大骨头, category: 其他垃圾, note: 难腐烂}
          - {name: 骨头, aliases: [鸡骨头], category: 厨余垃圾}
        """,
}


def write_kb(folder: Path, files: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in (files or MINI_KB).items():
        (folder / name).write_text(textwrap.dedent(body).lstrip("\n"), encoding="utf-8")
    return folder


@pytest.fixture
def mini_kb_dir(tmp_path: Path) -> Path:
    return write_kb(tmp_path / "knowledge")


def app_python() -> str:
    return sys.executable


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """The real Rasa server and action server, on free loopback ports, for the whole session."""
    from assistant.settings import load_settings
    from assistant.runtime.services import Services, rasa_model

    # A scratch ticket/handoff database, shared by the servers and the CLI subprocesses.
    db = tmp_path_factory.mktemp("desk") / "tickets.db"
    mp = pytest.MonkeyPatch()
    mp.setenv("ASSISTANT_TICKETS_URL", f"sqlite:///{db}")
    settings = load_settings().with_ports(free_port(), free_port(), free_port())
    if not rasa_model(settings).exists():
        mp.undo()
        pytest.fail("no trained Rasa model: run `make setup` (the README's test command does)")
    svc = Services(settings)
    svc.start()
    yield settings, svc
    svc.stop()
    mp.undo()


