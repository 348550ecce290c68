"""Admin login tokens for the web console.

The file (default ``models/console_tokens.yml``, or ``$ASSISTANT_CONSOLE_TOKENS``) is a YAML list::

    - admin: wang          # a roster admin id
      token: 3q2-...       # at least 16 characters; keep the file private (mode 0600)

``create_tokens`` writes one random token per roster admin into a new file with mode 0600.
``TokenFile`` reads the file again whenever it changes, so a deleted line revokes that token at once.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from assistant.desk.handoff.roster import DutyRoster
from assistant.errors import DataError
from assistant.text.yamlfile import LINE, read_yaml

log = logging.getLogger("assistant.console")
MIN_TOKEN = 16
HEADER = ("# 锦山壹号 admin console login tokens (one per roster admin). Keep this file private (mode 0600).\n"
          "# Each admin logs in with their own token; delete an entry to revoke it.\n")


class TokenFileError(DataError):
    """The tokens file is wrong; the message names the file, line and field."""


@dataclass(frozen=True)
class AdminToken:
    admin: str
    token: str

    def __repr__(self) -> str:            # never print a token
        return f"AdminToken(admin={self.admin!r}, token=<hidden>)"


def default_tokens_path(root: Path | None = None) -> Path:
    """<project root>/models/console_tokens.yml (the console uses ``Settings.console_tokens_path``,
    which $ASSISTANT_CONSOLE_TOKENS overrides)."""
    if root is None:
        from assistant.settings import find_root
        root = find_root()
    return Path(root) / "models" / "console_tokens.yml"


def as_tokens(tokens: Iterable[AdminToken] | Mapping[str, str]) -> tuple[AdminToken, ...]:
    """AdminTokens from a list of them or a mapping admin id -> token."""
    if isinstance(tokens, Mapping):
        return tuple(AdminToken(str(a), str(t)) for a, t in tokens.items())
    return tuple(tokens)


def load_tokens(path: str | Path, roster: DutyRoster | None = None) -> tuple[AdminToken, ...]:
    """Read and check a tokens file; with a roster, every admin must be in it."""
    p = Path(path)
    raw = read_yaml(p, error=TokenFileError)
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise TokenFileError("must be a list of {admin: <roster admin id>, token: <text>}", path=str(p), line=1)
    out: list[AdminToken] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        line = item.get(LINE) if isinstance(item, dict) else None
        if not isinstance(item, dict):
            raise TokenFileError("each entry must be a mapping with admin and token", path=str(p), field=f"[{i}]")
        extra = sorted(str(k) for k in item if k not in ("admin", "token", LINE))
        if extra:
            raise TokenFileError(f"unknown key(s) {', '.join(extra)}", path=str(p), line=line, field=f"[{i}]")
        admin, token = item.get("admin"), item.get("token")
        if not isinstance(admin, str) or not admin.strip():
            raise TokenFileError("admin must be a roster admin id", path=str(p), line=line, field=f"[{i}].admin")
        admin = admin.strip()
        if roster is not None and roster.get(admin) is None:
            known = ", ".join(a.id for a in roster.admins)
            raise TokenFileError(f"unknown admin {admin!r} (roster: {known})", path=str(p), line=line,
                                 field=f"[{i}].admin")
        if not isinstance(token, str) or len(token.strip()) < MIN_TOKEN:
            raise TokenFileError(f"token must be text of at least {MIN_TOKEN} characters", path=str(p), line=line,
                                 field=f"[{i}].token")
        token = token.strip()
        if token in seen:
            raise TokenFileError("the same token is listed twice", path=str(p), line=line, field=f"[{i}].token")
        seen.add(token)
        out.append(AdminToken(admin, token))
    if not out:
        raise TokenFileError("no tokens: nobody could log in", path=str(p))
    return tuple(out)


class TokenFile:
    """The tokens of a file, read again when the file changes (checked on every call of ``current``).
    A file that becomes unreadable or invalid lets nobody in until it is fixed (the error is logged)."""

    def __init__(self, path: str | Path, roster: DutyRoster | None = None) -> None:
        self.path, self.roster = Path(path), roster
        self._lock = threading.Lock()
        self._stamp = self._stat()
        self._tokens = load_tokens(self.path, roster)        # a bad file at start is an error

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def current(self) -> tuple[AdminToken, ...]:
        stamp = self._stat()
        with self._lock:
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    self._tokens = load_tokens(self.path, self.roster)
                    log.info("console tokens reloaded: %d token(s)", len(self._tokens))
                except (TokenFileError, OSError) as exc:
                    log.error("console tokens file unusable, nobody can log in until it is fixed: %s", exc)
                    self._tokens = ()
            return self._tokens


def create_tokens(path: str | Path, roster: DutyRoster) -> tuple[AdminToken, ...]:
    """Write a new tokens file (mode 0600) with one random token per roster admin; refuses to overwrite."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tokens = tuple(AdminToken(a.id, secrets.token_urlsafe(24)) for a in roster.admins)
    body = HEADER + yaml.safe_dump([{"admin": t.admin, "token": t.token} for t in tokens],
                                   allow_unicode=True, sort_keys=False)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(body)
    os.chmod(p, 0o600)            # whatever the umask
    return tokens


def readable_by_others(path: str | Path) -> bool:
    """True when group or others may read or write the file."""
    return bool(Path(path).stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))
