"""Settings: paths, ports and models, from defaults overridden by ASSISTANT_* variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from assistant.errors import ConfigError


def find_root(start: Path | None = None) -> Path:
    """The project folder: $ASSISTANT_HOME, else the nearest folder holding domain.yml and knowledge/."""
    env = os.environ.get("ASSISTANT_HOME")
    if env:
        return Path(env).resolve()
    candidates = [start or Path.cwd(), Path(__file__).resolve().parent.parent]
    for base in candidates:
        for p in (base, *base.parents):
            if (p / "domain.yml").is_file() and (p / "knowledge").is_dir():
                return p
    return Path.cwd()


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if not 0 < value < 65536:
        raise ConfigError(f"{name}={value} is not a port number")
    return value


@dataclass(frozen=True)
class Settings:
    root: Path
    host: str = "127.0.0.1"
    rasa_port: int = 5005
    action_port: int = 5055
    webchat_port: int = 8088
    embed_model: str = ""           # a sentence-transformers name or folder; "" = converted e5
    query_prefix: str = "query: "
    passage_prefix: str = "passage: "
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def knowledge_dir(self) -> Path:
        return self.root / "knowledge"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def e5_dir(self) -> Path:
        return self.models_dir / "e5-small"

    @property
    def model_path(self) -> str:
        return self.embed_model or str(self.e5_dir)

    @property
    def index_dir(self) -> Path:
        return self.models_dir / "index"

    @property
    def rasa_model_dir(self) -> Path:
        return self.models_dir / "rasa"

    @property
    def run_dir(self) -> Path:
        return self.root / ".run"

    @property
    def rasa_python(self) -> Path:
        return Path(os.environ.get("ASSISTANT_RASA_VENV", self.root / ".venv" / "rasa")) / "bin" / "python"

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        return f"http://{self.host}:{self.action_port}"

    @property
    def webchat_url(self) -> str:
        return f"http://{self.host}:{self.webchat_port}"

    def with_ports(self, rasa_port: int | None = None, action_port: int | None = None,
                   webchat_port: int | None = None) -> Settings:
        return replace(self, rasa_port=rasa_port or self.rasa_port, action_port=action_port or self.action_port,
                       webchat_port=webchat_port or self.webchat_port)


def load_settings(root: Path | None = None) -> Settings:
    model = os.environ.get("ASSISTANT_EMBED_MODEL", "")
    is_e5 = not model or "e5" in model.lower()
    return Settings(
        root=(root or find_root()).resolve(),
        host=os.environ.get("ASSISTANT_HOST", "127.0.0.1"),
        rasa_port=_int("ASSISTANT_RASA_PORT", 5005),
        action_port=_int("ASSISTANT_ACTION_PORT", 5055),
        webchat_port=_int("ASSISTANT_WEBCHAT_PORT", 8088),
        embed_model=model,
        query_prefix=os.environ.get("ASSISTANT_QUERY_PREFIX", "query: " if is_e5 else ""),
        passage_prefix=os.environ.get("ASSISTANT_PASSAGE_PREFIX", "passage: " if is_e5 else ""),
    )
