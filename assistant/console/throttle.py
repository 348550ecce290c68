"""Failed-login throttling for the console: per client address and per presented token.

Failures are counted in moving windows (the ``limits`` library, in memory). A client that fails too
often is refused for a while, and longer when it keeps failing (the tiers of ``LIMITS``: 10 in ten
minutes, 20 in an hour, 50 in a day). The same wrong token tried from many addresses is refused the
same way. Only failures count, so one client's failures never lock out another client, and a valid
token (which never fails) is never locked.

The client is the socket peer; X-Forwarded-For is read only when the peer is a trusted proxy.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

LIMITS = "10 per 10 minutes; 20 per hour; 50 per day"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Locked:
    """Why a login is refused: ``who`` is "client" or "token"; retry after ``retry_after`` seconds."""

    who: str
    retry_after: int


class Throttle:
    """Counts failures by client key and token key; ``check`` says whether either is locked."""

    def __init__(self, limits: str = LIMITS, clock: Callable[[], float] = time.time) -> None:
        self.items: list[RateLimitItem] = parse_many(limits)
        self.clock = clock                  # must be the clock the storage uses (time.time)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def check(self, client: str, token_key: str | None = None) -> Locked | None:
        """None when the client and the token may try; else who is locked and for how long."""
        for who, key in (("client", client), ("token", token_key)):
            if not key:
                continue
            wait = self._wait(who, key)
            if wait is not None:
                return Locked(who, wait)
        return None

    def fail(self, client: str, token_key: str | None = None) -> None:
        """Count one failure for the client and for the token."""
        for who, key in (("client", client), ("token", token_key)):
            if key:
                for item in self.items:
                    self.limiter.hit(item, who, key)

    def _wait(self, who: str, key: str) -> int | None:
        now, wait = self.clock(), None
        for item in self.items:
            if not self.limiter.test(item, who, key):
                reset = self.limiter.get_window_stats(item, who, key).reset_time
                wait = max(wait or 1, math.ceil(reset - now))
        return wait


def token_key(token: str) -> str | None:
    """A key for a presented token (a short hash; the token itself is never kept)."""
    token = token.strip()
    if not token:
        return None
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def parse_networks(items: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or networks (``127.0.0.1``, ``10.0.0.0/8``, ``::1``); ValueError names a bad one."""
    out = []
    for raw in items:
        raw = raw.strip()
        if not raw:
            continue
        try:
            out.append(ipaddress.ip_network(raw, strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or network: {raw!r}") from None
    return tuple(out)


def _trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def client_address(peer: str | None, forwarded_for: list[str], trusted: tuple[Network, ...]) -> str:
    """The client's address: the socket peer, or when the peer is a trusted proxy the right-most
    X-Forwarded-For entry that is not itself a trusted proxy (entries further left are the client's
    own words and are ignored)."""
    address = peer or "?"
    if not trusted or not _trusted(address, trusted):
        return address
    hops = [h.strip() for line in forwarded_for for h in line.split(",") if h.strip()]
    for hop in reversed(hops):
        address = hop
        if not _trusted(hop, trusted):
            break
    return address


def client_key(address: str) -> str:
    """The throttling key of a client address: IPv6 clients by their /64 (one subscriber's block)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
