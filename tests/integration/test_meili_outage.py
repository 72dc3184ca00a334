"""The Meilisearch adapter when the server is not there (adapters/search/meilisearch.py):
real sockets on loopback, no Meilisearch needed. Down, silent, or a gateway saying it is
down: UNAVAILABLE (services/unavailable.py); the server refusing our key: a configuration
error, never UNAVAILABLE."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import pytest

from adapters.search.meilisearch import MeiliRefused, MeiliSearchIndex
from services.search.port import SearchDocument, SearchFilter, SearchRequest
from services.unavailable import Unavailable, unavailable
from tests.integration.meili_stand_in import document

DOCUMENT = document()


async def _batches() -> AsyncIterator[Sequence[SearchDocument]]:
    yield [DOCUMENT]


def _operations(index: MeiliSearchIndex) -> dict[str, Callable[[], Awaitable[object]]]:
    return {
        "prepare": index.prepare,
        "upsert": lambda: index.upsert([DOCUMENT]),
        "delete": lambda: index.delete([DOCUMENT.auction_id]),
        "search": lambda: index.search(
            SearchRequest(text="camera", filter=SearchFilter(), facets=True)
        ),
        "count": index.count,
        "rebuild": lambda: index.rebuild(_batches(), lambda _: None),
    }


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_refused_connection_is_unavailable_for_every_operation():
    index = MeiliSearchIndex(f"http://127.0.0.1:{_closed_port()}", timeout_seconds=2)
    for name, operation in _operations(index).items():
        with pytest.raises(Unavailable) as raised:
            await operation()
        assert raised.value.extensions["code"] == "UNAVAILABLE", name
        assert unavailable(raised.value) is raised.value


async def test_a_server_that_never_answers_is_unavailable_after_the_timeout():
    with socket.socket() as listener:  # the kernel accepts; nobody ever answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        index = MeiliSearchIndex(f"http://127.0.0.1:{port}", timeout_seconds=1)
        started = time.monotonic()
        with pytest.raises(Unavailable):
            await index.search(SearchRequest(text="camera", filter=SearchFilter()))
        assert time.monotonic() - started < 10


async def _answering(status: str, body: bytes) -> tuple[asyncio.Server, int]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_a_gateway_saying_the_server_is_down_is_unavailable():
    server, port = await _answering("503 Service Unavailable", b"upstream down")
    async with server:
        index = MeiliSearchIndex(f"http://127.0.0.1:{port}", timeout_seconds=2)
        with pytest.raises(Unavailable):
            await index.count()


async def test_a_refused_key_is_a_configuration_error_not_an_outage():
    body = (
        b'{"message":"The provided API key is invalid.","code":"invalid_api_key",'
        b'"type":"auth","link":"https://docs.meilisearch.com/errors#invalid_api_key"}'
    )
    server, port = await _answering("403 Forbidden", body)
    async with server:
        index = MeiliSearchIndex(f"http://127.0.0.1:{port}", api_key="wrong", timeout_seconds=2)
        with pytest.raises(MeiliRefused) as raised:
            await index.count()
        assert (raised.value.code, raised.value.status_code) == ("invalid_api_key", 403)
        assert unavailable(raised.value) is None
