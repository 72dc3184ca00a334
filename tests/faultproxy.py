"""A TCP proxy in front of Redis that can lose a reply: the real failure a retry must survive.

Everything is forwarded both ways, unchanged. `lose_next_reply(marker)` arms it: the next
request chunk a client sends that contains `marker` reaches Redis (which runs it), but the
reply is never delivered; the client's connection is closed instead, as when a network
or a server restart cuts a connection after the command ran. Only one reply is lost per
arming. Runs in the test's event loop; the app (in-process or a uvicorn subprocess) points
its REDIS_URL at `url`.
"""

from __future__ import annotations

import asyncio
import contextlib


class FaultProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._marker: bytes | None = None
        self.lost = 0  # replies lost so far
        self._links: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._links):
            task.cancel()
        await asyncio.gather(*self._links, return_exceptions=True)

    def lose_next_reply(self, marker: bytes) -> None:
        self._marker = marker

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._links.add(task)
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.close()
            self._links.discard(task)
            return
        doomed = asyncio.Event()  # this connection's next reply is to be lost

        async def upstream() -> None:
            while chunk := await client_r.read(65536):
                if self._marker is not None and self._marker in chunk:
                    self._marker = None
                    doomed.set()
                server_w.write(chunk)
                await server_w.drain()

        async def downstream() -> None:
            while chunk := await server_r.read(65536):
                if doomed.is_set():
                    self.lost += 1
                    return  # the command ran; its reply goes nowhere
                client_w.write(chunk)
                await client_w.drain()

        pumps = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            pass  # the proxy is closing
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            for writer in (client_w, server_w):
                with contextlib.suppress(Exception):
                    writer.transport.abort()
            self._links.discard(task)
