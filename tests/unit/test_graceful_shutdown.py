"""adapters/shutdown.py with real signals: SIGTERM to this process, a recording handler in
the place of uvicorn's (`Server.handle_exit`, which only sets flags)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Iterator
from types import FrameType

import pytest

from adapters.shutdown import GracefulShutdown


class Server:
    """Stands where uvicorn's signal handler is: records the signals passed on to it."""

    def __init__(self) -> None:
        self.signals: list[int] = []

    def handle_exit(self, sig: int, _frame: FrameType | None) -> None:
        self.signals.append(sig)


@pytest.fixture
def server() -> Iterator[Server]:
    server = Server()
    before = signal.signal(signal.SIGTERM, server.handle_exit)
    try:
        yield server
    finally:
        signal.signal(signal.SIGTERM, before)


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(200):  # 2 s
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


async def test_a_signal_drains_stops_the_streams_and_reaches_the_server(server: Server):
    shutdown = GracefulShutdown()
    stopped: list[str] = []
    shutdown.on_stop(lambda: stopped.append("sync"))

    async def failing() -> None:
        raise RuntimeError("a step that fails does not stop the others")

    async def streams() -> None:
        stopped.append("async")

    shutdown.on_stop(failing)
    shutdown.on_stop(streams)
    with shutdown.signals():
        assert not shutdown.draining
        os.kill(os.getpid(), signal.SIGTERM)
        await until(lambda: shutdown.stopped and stopped == ["sync", "async"])
        assert shutdown.draining and server.signals == [signal.SIGTERM]
    assert signal.getsignal(signal.SIGTERM) == server.handle_exit  # given back
    await shutdown.stop()  # the lifespan calls it again: nothing runs twice
    assert stopped == ["sync", "async"]


async def test_the_delay_keeps_the_server_serving_while_unready(server: Server):
    shutdown = GracefulShutdown(delay=0.3)
    with shutdown.signals():
        os.kill(os.getpid(), signal.SIGTERM)
        await until(lambda: shutdown.draining)
        await asyncio.sleep(0.15)
        assert server.signals == [] and not shutdown.stopped
        await until(lambda: server.signals == [signal.SIGTERM] and shutdown.stopped)
        await asyncio.sleep(0.3)
        assert server.signals == [signal.SIGTERM]


async def test_a_second_signal_cuts_the_delay_short_and_is_passed_on_once(server: Server):
    shutdown = GracefulShutdown(delay=0.5)
    with shutdown.signals():
        os.kill(os.getpid(), signal.SIGTERM)
        await until(lambda: shutdown.draining)
        os.kill(os.getpid(), signal.SIGTERM)
        await until(lambda: shutdown.stopped)
        assert server.signals == [signal.SIGTERM]
        await asyncio.sleep(0.6)  # the delay's end passes nothing on again
        assert server.signals == [signal.SIGTERM]


async def test_a_signal_nobody_handled_is_left_alone():
    before = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        with GracefulShutdown().signals():
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, before)
