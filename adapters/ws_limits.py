"""WebSocket limits: open connections per client address, subscribe messages per socket.

Both are counted in this process. A socket lives in one process, so its message rate
needs no shared store; connections are counted where they are held, which is exact and
never leaks a count when a process dies (with N app processes an address may hold up to
N times the limit).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.client_address import Network, client_ip, limit_key
from adapters.rate_limits import Rate

# Close code for a socket refused by a limit (4000-4999: the application's; 429 as HTTP).
CLOSE_RATE_LIMITED = 4429


class LocalBucket:
    """One token bucket in memory: `rate.count` at once, refilled over `rate.seconds`."""

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.clock = clock
        self.tokens = float(rate.count)
        self.updated = clock()

    def take(self) -> float:
        """0.0 if a token was taken, else the seconds until one is there."""
        now = self.clock()
        per_second = self.rate.count / self.rate.seconds
        self.tokens = min(self.rate.count, self.tokens + (now - self.updated) * per_second)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / per_second


class WebSocketConnectionLimit:
    """ASGI middleware: at most `per_ip` open WebSockets per client address. One more is
    accepted and at once closed with 4429 (a refusal before the handshake would reach a
    browser as a bare failed connection, without the code)."""

    def __init__(self, app: ASGIApp, *, per_ip: int, proxies: tuple[Network, ...] = ()) -> None:
        self.app = app
        self.per_ip = per_ip
        self.proxies = proxies
        self.open: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        ip = limit_key(client_ip(scope, self.proxies) or "")
        if self.open[ip] >= self.per_ip:
            await self._refuse(scope, receive, send)
            return
        self.open[ip] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.open[ip] -= 1
            if self.open[ip] <= 0:
                del self.open[ip]

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        protocols = scope.get("subprotocols") or []
        await send({"type": "websocket.accept", "subprotocol": protocols[0] if protocols else None})
        await send(
            {
                "type": "websocket.close",
                "code": CLOSE_RATE_LIMITED,
                "reason": f"RATE_LIMITED: more than {self.per_ip} open connections",
            }
        )
