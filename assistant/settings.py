"""Settings: one typed object built from defaults and environment variables, checked once at start.

``load_settings()`` reads the environment once; a bad value raises ``ConfigError`` naming the
variable and the value. The object is passed down (``run(args, settings)``, constructors); no other
module reads ``os.environ`` except the code that spawns child processes. Every setting is listed in
the README's "Settings" table.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from assistant.errors import ConfigError

TELEGRAM_API = "https://api.telegram.org/bot"
WECOM_API = "https://qyapi.weixin.qq.com/cgi-bin"
MAX_HANDOFF_MINUTES = 7 * 24 * 60


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


# Fields whose empty value means "not set" (the default); the embedding prefixes keep "" (no prefix).
_KEEP_EMPTY = {"query_prefix", "passage_prefix"}
_CATEGORY = re.compile(r"^[a-z][a-z_]*$")
_PORTS = ("rasa_port", "action_port", "webchat_port", "console_port", "wecom_port")


class Settings(BaseSettings):
    """Every setting of the assistant; the field's alias is its environment variable."""

    model_config = SettingsConfigDict(frozen=True, case_sensitive=True, populate_by_name=True, extra="ignore",
                                      env_ignore_empty=False)

    # paths and servers
    root: Path = Field(default_factory=find_root, validation_alias="ASSISTANT_HOME")
    host: str = Field("127.0.0.1", validation_alias="ASSISTANT_HOST")
    rasa_port: int = Field(5005, validation_alias="ASSISTANT_RASA_PORT")
    action_port: int = Field(5055, validation_alias="ASSISTANT_ACTION_PORT")
    webchat_port: int = Field(8088, validation_alias="ASSISTANT_WEBCHAT_PORT")
    rasa_venv: Path | None = Field(None, validation_alias="ASSISTANT_RASA_VENV")
    # Rasa's HTTP API (trackers, trigger_intent) answers only with this token; unset: models/rasa_token
    rasa_token: SecretStr | None = Field(None, validation_alias="ASSISTANT_RASA_TOKEN")
    # retrieval
    embed_model: str = Field("", validation_alias="ASSISTANT_EMBED_MODEL")  # a sentence-transformers name/folder
    query_prefix: str | None = Field(None, validation_alias="ASSISTANT_QUERY_PREFIX")      # None: by model
    passage_prefix: str | None = Field(None, validation_alias="ASSISTANT_PASSAGE_PREFIX")
    # the e5 ONNX export (Rasa's features and retrieval): int8 weights (when they pass the check) instead of float
    e5_int8: bool = Field(False, validation_alias="ASSISTANT_E5_INT8")
    # the desk: tickets, handoffs, sweeps
    tickets_url: SecretStr | None = Field(None, validation_alias="ASSISTANT_TICKETS_URL")
    tickets_sla: Path | None = Field(None, validation_alias="ASSISTANT_TICKETS_SLA")
    tickets_actor: str | None = Field(None, validation_alias="ASSISTANT_TICKETS_ACTOR")
    dedup_hours: float = Field(24.0, validation_alias="ASSISTANT_DEDUP_HOURS")
    handoff_minutes: float = Field(30.0, validation_alias="ASSISTANT_HANDOFF_TIMEOUT")
    handoff_roster: Path | None = Field(None, validation_alias="ASSISTANT_HANDOFF_ROSTER")
    handoff_admin: str | None = Field(None, validation_alias="ASSISTANT_HANDOFF_ADMIN")
    sensitive_categories: Annotated[frozenset[str], NoDecode] = Field(
        frozenset({"fees"}), validation_alias="ASSISTANT_SENSITIVE_CATEGORIES")
    sweep_seconds: float = Field(60.0, validation_alias="ASSISTANT_SWEEP_SECONDS")
    # the residents' group
    residents_csv: Path | None = Field(None, validation_alias="ASSISTANT_RESIDENTS_CSV")
    webhook_secret: SecretStr | None = Field(None, validation_alias="ASSISTANT_WEBHOOK_SECRET")
    telegram_bot_token: SecretStr | None = Field(None, validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_base_url: str = Field(TELEGRAM_API, validation_alias="ASSISTANT_TELEGRAM_BASE_URL")
    # WeCom (企业微信): the 自建应用 with 微信客服 permission, its callback, the admins' group robot
    wecom_corp_id: str | None = Field(None, validation_alias="ASSISTANT_WECOM_CORP_ID")
    wecom_agent_id: int | None = Field(None, validation_alias="ASSISTANT_WECOM_AGENT_ID")
    wecom_secret: SecretStr | None = Field(None, validation_alias="ASSISTANT_WECOM_SECRET")
    wecom_kf_secret: SecretStr | None = Field(None, validation_alias="ASSISTANT_WECOM_KF_SECRET")
    wecom_token: SecretStr | None = Field(None, validation_alias="ASSISTANT_WECOM_TOKEN")
    wecom_aes_key: SecretStr | None = Field(None, validation_alias="ASSISTANT_WECOM_AES_KEY")
    wecom_open_kfid: str | None = Field(None, validation_alias="ASSISTANT_WECOM_OPEN_KFID")
    wecom_base_url: str = Field(WECOM_API, validation_alias="ASSISTANT_WECOM_BASE_URL")
    wecom_port: int = Field(8092, validation_alias="ASSISTANT_WECOM_PORT")
    wecom_robot_key: SecretStr | None = Field(None, validation_alias="ASSISTANT_WECOM_ROBOT_KEY")
    wecom_robot_url: str = Field(WECOM_API + "/webhook/send", validation_alias="ASSISTANT_WECOM_ROBOT_URL")
    console_url: str | None = Field(None, validation_alias="ASSISTANT_CONSOLE_URL")
    # the admins
    notify_webhook: SecretStr | None = Field(None, validation_alias="ASSISTANT_NOTIFY_WEBHOOK")
    admin_conversation: str | None = Field(None, validation_alias="ASSISTANT_ADMIN_CONVERSATION")
    admin_channel: str | None = Field(None, validation_alias="ASSISTANT_ADMIN_CHANNEL")
    knowledge: Path | None = Field(None, validation_alias="ASSISTANT_KNOWLEDGE_DIR")   # learning: another KB folder
    console_port: int = Field(8090, validation_alias="ASSISTANT_CONSOLE_PORT")
    console_tokens: Path | None = Field(None, validation_alias="ASSISTANT_CONSOLE_TOKENS")
    console_trusted_proxies: Annotated[tuple[str, ...], NoDecode] = Field(
        (), validation_alias="ASSISTANT_CONSOLE_TRUSTED_PROXIES")
    # the group's routines (assistant/schedule)
    schedule_groups: Annotated[tuple[str, ...], NoDecode] = Field(
        ("terminal:terminal-group",), validation_alias="ASSISTANT_SCHEDULE_GROUPS")
    schedule_grace_minutes: float = Field(30.0, validation_alias="ASSISTANT_SCHEDULE_GRACE")
    group_admins: Annotated[frozenset[str], NoDecode] = Field(frozenset(), validation_alias="ASSISTANT_GROUP_ADMINS")
    discussion_hours: str | None = Field(None, validation_alias="ASSISTANT_DISCUSSION_HOURS")
    notice_min_score: float = Field(0.88, validation_alias="ASSISTANT_NOTICE_MIN_SCORE")
    # the community seam: anonymous suggestions per sender per day
    feedback_daily_limit: int = Field(3, validation_alias="ASSISTANT_FEEDBACK_DAILY_LIMIT")

    # the environment as it was when loaded, for options that name a variable (--secret-env)
    _env: dict[str, str] = PrivateAttr(default_factory=dict)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigError(_message(type(self), exc)) from None

    # -- checks: each names the variable and the bad value --------------------------------------
    @field_validator(*_PORTS, mode="before")
    @classmethod
    def _port(cls, value: Any, info: ValidationInfo) -> int:
        name = _alias(cls, info)
        try:
            port = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name}={value!r} is not a whole number") from None
        if not 0 < port < 65536:
            raise ValueError(f"{name}={port} is not a port number")
        return port

    @field_validator("dedup_hours", mode="before")
    @classmethod
    def _hours(cls, value: Any) -> float:
        return max(_number(value, "ASSISTANT_DEDUP_HOURS", "a number of hours"), 0.0)

    @field_validator("handoff_minutes", mode="before")
    @classmethod
    def _minutes(cls, value: Any) -> float:
        minutes = _number(value, "ASSISTANT_HANDOFF_TIMEOUT", "a number of minutes (e.g. 30)")
        if not 0 < minutes < MAX_HANDOFF_MINUTES:
            raise ValueError(f"ASSISTANT_HANDOFF_TIMEOUT={value!r} is not a number of minutes (e.g. 30)")
        return minutes

    @field_validator("feedback_daily_limit", mode="before")
    @classmethod
    def _feedback_limit(cls, value: Any) -> int:
        try:
            n = int(str(value).strip())
        except (TypeError, ValueError):
            raise ValueError(f"ASSISTANT_FEEDBACK_DAILY_LIMIT={value!r} is not a whole number (e.g. 3)") from None
        if not 1 <= n <= 100:
            raise ValueError(f"ASSISTANT_FEEDBACK_DAILY_LIMIT={value!r} is not between 1 and 100")
        return n

    @field_validator("sweep_seconds", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> float:
        return _number(value, "ASSISTANT_SWEEP_SECONDS", "a number of seconds (e.g. 60)")

    @field_validator("sensitive_categories", mode="before")
    @classmethod
    def _categories(cls, value: Any) -> frozenset[str]:
        names = value.split(",") if isinstance(value, str) else list(value)
        found = frozenset(str(c).strip() for c in names if str(c).strip())
        if not all(_CATEGORY.match(c) for c in found):
            raise ValueError(f"ASSISTANT_SENSITIVE_CATEGORIES={value!r} is not a comma-separated list of "
                             "category keys (e.g. fees,safety)")
        return found

    @field_validator("console_trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: Any) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else list(value)
        found = tuple(str(x).strip() for x in items if str(x).strip())
        for item in found:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"ASSISTANT_CONSOLE_TRUSTED_PROXIES={value!r}: {item!r} is not an address "
                                 "or network (e.g. 127.0.0.1,10.0.0.0/8)") from None
        return found

    @field_validator("schedule_groups", mode="before")
    @classmethod
    def _groups(cls, value: Any) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else list(value)
        found = tuple(str(x).strip() for x in items if str(x).strip())
        for item in found:
            platform, sep, conversation = item.partition(":")
            if not (sep and platform.strip() and conversation.strip()):
                raise ValueError(f"ASSISTANT_SCHEDULE_GROUPS={value!r}: {item!r} is not platform:conversation "
                                 "(e.g. terminal:terminal-group,telegram:-1001234)")
        return found

    @field_validator("schedule_grace_minutes", mode="before")
    @classmethod
    def _grace(cls, value: Any) -> float:
        minutes = _number(value, "ASSISTANT_SCHEDULE_GRACE", "a number of minutes (e.g. 30)")
        if not 0 < minutes <= 1440:
            raise ValueError(f"ASSISTANT_SCHEDULE_GRACE={value!r} is not a number of minutes from 1 to 1440")
        return minutes

    @field_validator("group_admins", mode="before")
    @classmethod
    def _admins(cls, value: Any) -> frozenset[str]:
        items = value.split(",") if isinstance(value, str) else list(value)
        return frozenset(str(x).strip() for x in items if str(x).strip())

    @field_validator("discussion_hours")
    @classmethod
    def _discussion(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d-([01]?\d|2[0-4]):[0-5]\d", value):
            raise ValueError(f"ASSISTANT_DISCUSSION_HOURS={value!r} is not a span like 19:00-21:00")
        return value

    @field_validator("notice_min_score", mode="before")
    @classmethod
    def _notice_score(cls, value: Any) -> float:
        score = _number(value, "ASSISTANT_NOTICE_MIN_SCORE", "a similarity from 0 to 1 (e.g. 0.88)")
        if not 0 <= score <= 1:
            raise ValueError(f"ASSISTANT_NOTICE_MIN_SCORE={value!r} is not a similarity from 0 to 1 (e.g. 0.88)")
        return score

    @field_validator("telegram_base_url", "wecom_base_url", "wecom_robot_url", "console_url")
    @classmethod
    def _base_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{_alias(cls, info)}={value!r} is not an http(s) URL")
        return value

    @field_validator("wecom_agent_id", mode="before")
    @classmethod
    def _agent_id(cls, value: Any) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not str(value).strip().isdigit():
            raise ValueError(f"ASSISTANT_WECOM_AGENT_ID={value!r} is not the app's AgentId (digits, e.g. 1000002)")
        return int(str(value).strip())

    # defined last, so it runs first: blank means the default
    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_default(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and info.field_name not in _KEEP_EMPTY:
            value = value.strip()
            if value == "":
                field = cls.model_fields[str(info.field_name)]
                return field.get_default(call_default_factory=True)
        return value

    @model_validator(mode="after")
    def _derived(self) -> Settings:
        # the e5 models expect "query: " / "passage: " before each text; other models nothing
        is_e5 = not self.embed_model or "e5" in self.embed_model.lower()
        object.__setattr__(self, "root", self.root.resolve())
        if self.query_prefix is None:
            object.__setattr__(self, "query_prefix", "query: " if is_e5 else "")
        if self.passage_prefix is None:
            object.__setattr__(self, "passage_prefix", "passage: " if is_e5 else "")
        return self

    # -- paths ----------------------------------------------------------------------------------
    @property
    def knowledge_dir(self) -> Path:
        return self.knowledge.resolve() if self.knowledge else self.root / "knowledge"

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
        # another knowledge folder keeps its index beside it (the shared models/index stays the real KB's)
        return self.knowledge.resolve().parent / "index" if self.knowledge else self.models_dir / "index"

    @property
    def rasa_model_dir(self) -> Path:
        return self.models_dir / "rasa"

    @property
    def run_dir(self) -> Path:
        return self.root / ".run"

    @property
    def rasa_python(self) -> Path:
        return (self.rasa_venv or self.root / ".venv" / "rasa") / "bin" / "python"

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def rasa_token_path(self) -> Path:
        return self.models_dir / "rasa_token"

    def rasa_api_token(self) -> str:
        """The token of Rasa's HTTP API: $ASSISTANT_RASA_TOKEN, else the one in models/rasa_token
        (created on first use, readable by the owner only)."""
        if self.rasa_token is not None:
            return self.rasa_token.get_secret_value()
        path = self.rasa_token_path
        try:
            return path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(32)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(token + "\n")
        try:
            os.link(tmp, path)      # fails if another process made it first: theirs wins
        except FileExistsError:
            token = path.read_text(encoding="utf-8").strip()
        finally:
            tmp.unlink()
        return token

    @property
    def action_url(self) -> str:
        return f"http://{self.host}:{self.action_port}"

    @property
    def webchat_url(self) -> str:
        return f"http://{self.host}:{self.webchat_port}"

    # -- the desk -------------------------------------------------------------------------------
    @property
    def desk_url(self) -> str:
        """The tickets' (and handoffs', notices') database: $ASSISTANT_TICKETS_URL, else models/tickets.db."""
        if self.tickets_url is not None:
            return self.tickets_url.get_secret_value()
        return f"sqlite:///{self.models_dir / 'tickets.db'}"

    @property
    def dedup_window(self) -> timedelta:
        """How long a resident's repeat complaint of the same category is appended, not a new ticket."""
        return timedelta(hours=self.dedup_hours)

    @property
    def handoff_timeout(self) -> timedelta:
        """How long a handoff may wait for an admin before the resident is told and a ticket keeps it."""
        return timedelta(minutes=self.handoff_minutes)

    @property
    def sweep_every(self) -> float:
        """Seconds between the desk's sweeps while the assistant runs (at least one)."""
        return max(self.sweep_seconds, 1.0)

    @property
    def wecom_dir(self) -> Path:
        """The WeCom channel's files (the shared access-token cache)."""
        return self.models_dir / "wecom"

    @property
    def feedback_key_path(self) -> Path:
        """The anonymous suggestions' rate-limit key of the day (replaced daily; assistant/community)."""
        return self.models_dir / "community_feedback.key"

    @property
    def console_tokens_path(self) -> Path:
        return self.console_tokens or self.models_dir / "console_tokens.yml"

    # -- copies and variables -------------------------------------------------------------------
    def with_ports(self, rasa_port: int | None = None, action_port: int | None = None,
                   webchat_port: int | None = None) -> Settings:
        return self.replace(rasa_port=rasa_port or self.rasa_port, action_port=action_port or self.action_port,
                            webchat_port=webchat_port or self.webchat_port)

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (by field name)."""
        copy = self.model_copy(update=changes)
        copy._env = self._env
        return copy

    def secret_from(self, name: str) -> SecretStr | None:
        """The value of the variable ``name`` (given by an option such as --secret-env), as loaded."""
        for field, info in type(self).model_fields.items():
            if info.validation_alias == name and name not in self._env:
                value = getattr(self, field)
                return value if isinstance(value, SecretStr) or value is None else SecretStr(str(value))
        raw = self._env.get(name)
        return None if raw is None else SecretStr(raw)

    def child_env(self) -> dict[str, str]:
        """The variables a child process (the action server) needs to load these same settings,
        including what options and scratch databases changed after loading."""
        env = {"ASSISTANT_HOME": str(self.root), "ASSISTANT_HOST": self.host,
               "ASSISTANT_RASA_PORT": str(self.rasa_port), "ASSISTANT_ACTION_PORT": str(self.action_port),
               "ASSISTANT_WEBCHAT_PORT": str(self.webchat_port)}
        if self.tickets_url is not None:
            env["ASSISTANT_TICKETS_URL"] = self.tickets_url.get_secret_value()
        if self.knowledge is not None:
            env["ASSISTANT_KNOWLEDGE_DIR"] = str(self.knowledge.resolve())
        return env


def _alias(cls: type[Settings], info: ValidationInfo) -> str:
    return str(cls.model_fields[str(info.field_name)].validation_alias)


def _number(value: Any, name: str, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} is not {what}") from None
    if number != number:        # NaN
        raise ValueError(f"{name}={value!r} is not {what}")
    return number


def _message(cls: type[Settings], exc: ValidationError) -> str:
    """The first problem, naming the variable and the bad value."""
    err = exc.errors()[0]
    original = (err.get("ctx") or {}).get("error")
    if isinstance(original, ValueError):
        return str(original)
    where = str(err["loc"][0]) if err.get("loc") else "?"
    field = cls.model_fields.get(where)
    name = str(field.validation_alias) if field is not None and field.validation_alias else where
    return f"{name}={err.get('input')!r}: {err.get('msg')}"


def load_settings(root: Path | None = None) -> Settings:
    """The settings from the environment, read once here (``root`` overrides $ASSISTANT_HOME).
    Raises ``ConfigError`` naming the first variable with a bad value."""
    settings = Settings(root=root) if root is not None else Settings()
    settings._env = dict(os.environ)
    return settings
