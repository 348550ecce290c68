"""Console sessions in signed cookies, so a restart of the console keeps admins logged in.

The cookie holds a random session id, the id of the admin's token (an HMAC of it, never the token),
when the session began and when it was last used, signed with itsdangerous under a secret kept in a
file next to the tokens file (mode 0600, made on first start). The app checks the token id against the
tokens file on every request, so removing a token ends its sessions at once. A session ends after
``idle`` seconds without a request, ``max_age`` seconds after login, at logout, or when the secret
file is deleted (a new one is made at the next start). Logouts are remembered in memory only: a
logged-out cookie copied elsewhere works again after a restart until it expires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from itsdangerous import BadData, URLSafeSerializer

from assistant.errors import DataError

SESSION_IDLE = 12 * 3600          # seconds without a request before a session ends
SESSION_MAX_AGE = 7 * 24 * 3600   # seconds after login before a session ends, however busy
REFRESH = 60                      # re-sign the cookie at most once a minute
MIN_SECRET = 32


@dataclass
class Session:
    id: str
    token_id: str
    issued: float
    seen: float
    csrf: str


class Sessions:
    """Makes and reads session cookies signed with ``secret``."""

    def __init__(self, secret: str | bytes, idle: float = SESSION_IDLE, max_age: float = SESSION_MAX_AGE,
                 clock: Callable[[], float] = time.time) -> None:
        self._key = secret.encode() if isinstance(secret, str) else bytes(secret)
        self.idle, self.max_age, self.clock = idle, max_age, clock
        self._signer = URLSafeSerializer(self._key, salt="assistant.console.session")
        self._ended: dict[str, float] = {}          # session id -> when its cookie would expire anyway
        self._lock = threading.Lock()

    def _mac(self, purpose: str, value: str) -> str:
        digest = hmac.new(self._key, f"{purpose}:{value}".encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:24]).decode()

    def token_id(self, token: str) -> str:
        """The id of a token as kept in cookies (an HMAC under the secret: it tells nothing of the token)."""
        return self._mac("token", token.strip())

    def new(self, token_id: str) -> Session:
        sid, now = secrets.token_urlsafe(24), self.clock()
        return Session(sid, token_id, now, now, self._mac("csrf", sid))

    def dump(self, s: Session) -> str:
        """The cookie value for ``s``."""
        return str(self._signer.dumps({"s": s.id, "t": s.token_id, "i": int(s.issued), "a": int(s.seen)}))

    def read(self, cookie: str | None) -> Session | None:
        """The session in a cookie, or None when it is missing, forged, expired or logged out."""
        if not cookie:
            return None
        try:
            data: Any = self._signer.loads(cookie)
        except (BadData, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        sid, tid, issued, seen = data.get("s"), data.get("t"), data.get("i"), data.get("a")
        if not (isinstance(sid, str) and isinstance(tid, str) and isinstance(issued, int) and isinstance(seen, int)):
            return None
        now = self.clock()
        if now - seen > self.idle or now - issued > self.max_age or seen > now + REFRESH:
            return None
        with self._lock:
            if sid in self._ended:
                return None
        return Session(sid, tid, float(issued), float(seen), self._mac("csrf", sid))

    def touch(self, s: Session) -> bool:
        """Mark ``s`` used now; True when its cookie should be sent again (to keep it from idling out)."""
        now = self.clock()
        if now - s.seen < REFRESH:
            return False
        s.seen = now
        return True

    def end(self, s: Session) -> None:
        """Log ``s`` out: its cookie is refused from now on (until a restart)."""
        now = self.clock()
        with self._lock:
            for sid in [k for k, until in self._ended.items() if until < now]:
                del self._ended[sid]
            self._ended[s.id] = min(s.seen + self.idle, s.issued + self.max_age) + REFRESH


def secret_path(tokens_path: str | Path) -> Path:
    """The session secret file next to a tokens file: ``console_tokens.yml`` -> ``console_tokens.key``."""
    p = Path(tokens_path)
    return p.with_name(p.stem + ".key")


def load_secret(path: str | Path) -> bytes:
    """The session secret in ``path``; a new random one (mode 0600) when the file is missing."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_urlsafe(48) + "\n")
        os.chmod(p, 0o600)
    try:
        secret = p.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the console session secret: {exc}", path=str(p)) from None
    if len(secret) < MIN_SECRET:
        raise DataError(f"the console session secret must be at least {MIN_SECRET} characters; "
                        "delete the file to make a new one (this logs every admin out)", path=str(p))
    return secret.encode()
