"""Live-connection limits: open WebSockets and event streams per client address,
subscribe messages per socket.

Both are counted in this process. A socket lives in one process, so its message rate
needs no shared store; connections are counted where they are held, which is exact and
never leaks a count when a process dies (with N app processes an address may hold up to
N times the limit).

One count per address covers every long-lived connection: WebSockets (both protocols)
and HTTP responses streamed to a subscriber (server-sent events; schema/app.py counts
those), all under GAVEL_RATE_WS_CONNECTIONS_IP. A place is held while the connection
is served and given back when it ends, however it ends (the client's close or
disconnect, the server's close, an error).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

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


class LiveConnections:
    """Open long-lived connections per client address (its `limit_key`), at most
    `per_ip` at once."""

    def __init__(self, per_ip: int) -> None:
        self.per_ip = per_ip
        self.open: Counter[str] = Counter()

    @contextmanager
    def held(self, ip: str | None) -> Iterator[bool]:
        """Takes a place for the block (yields True), or yields False when the address
        already holds `per_ip`; a place taken is given back however the block ends."""
        key = limit_key(ip or "")
        if self.open[key] >= self.per_ip:
            yield False
            return
        self.open[key] += 1
        try:
            yield True
        finally:
            self.open[key] -= 1
            if self.open[key] <= 0:
                del self.open[key]


class WebSocketConnectionLimit:
    """ASGI middleware: a WebSocket takes a place of `connections` while open. One more
    than its address may hold is accepted and at once closed with 4429 (a refusal before
    the handshake would reach a browser as a bare failed connection, without the code)."""

    def __init__(
        self, app: ASGIApp, *, connections: LiveConnections, proxies: tuple[Network, ...] = ()
    ) -> None:
        self.app = app
        self.connections = connections
        self.proxies = proxies

    @property
    def per_ip(self) -> int:
        return self.connections.per_ip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        with self.connections.held(client_ip(scope, self.proxies)) as admitted:
            if admitted:
                await self.app(scope, receive, send)
            else:
                await self._refuse(scope, receive, send)

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
