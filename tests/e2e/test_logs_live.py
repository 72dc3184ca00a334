"""The logs of a real server (uvicorn in its own process, GAVEL_LOG_FORMAT=json): every
line is JSON, uvicorn's included; the access line carries the request id the answer
returned; a WebSocket's lines carry its connection's id and the operation's id; README
step 2 works from the log alone; a session of client errors logs no traceback."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from devservers.app_server import app_server
from settings import Settings

REGISTER = (
    """mutation($i: RegisterInput!) { register(input: $i) { accessToken errors { code } } }"""
)


@pytest.fixture(scope="module")
def live(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    log_file = tmp_path_factory.mktemp("logs") / "server.log"
    env = {
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "GAVEL_JWT_SECRET": "e2e-logs-" + "x" * 40,
        "GAVEL_DATA_DIR": str(settings.data_dir),
        "GAVEL_LOG_FORMAT": "json",
        "GAVEL_LOG_LEVEL": "INFO",
    }
    with app_server(env, log_file=log_file) as base:
        yield base, log_file


def _lines(log_file: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log_file.read_text().splitlines()]


def test_every_line_is_json_and_the_access_line_has_the_request_id(live):
    base, log_file = live
    answer = httpx.get(f"{base}/healthz", headers={"X-Request-ID": "probe-1"})
    assert answer.headers["x-request-id"] == "probe-1"
    lines = _lines(log_file)  # each line parses, uvicorn's start-up lines included
    assert any(line["logger"].startswith("uvicorn.") for line in lines)
    access = [line for line in lines if line.get("request_id") == "probe-1"]
    assert len(access) == 1, access
    assert access[0]["logger"] == "uvicorn.access"
    assert (access[0]["path"], access[0]["status"]) == ("/healthz", 200)


def test_readme_step_2_from_the_log_alone(live):
    base, log_file = live
    name = f"logs{uuid.uuid4().hex[:8]}"
    email = f"{name}@example.com"
    body = httpx.post(
        f"{base}/graphql",
        json={
            "query": REGISTER,
            "variables": {"i": {"username": name, "email": email, "password": "long enough pw"}},
        },
    ).json()
    token = body["data"]["register"]["accessToken"]
    mail = next(line for line in _lines(log_file) if line.get("mail_to") == email)
    assert mail["level"] == "info"
    link = re.search(r"/verify-email\?token=\S+", mail["event"])
    assert link
    page = httpx.get(f"{base}{link.group(0)}")
    assert page.status_code == 200
    verify_token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert verify_token
    done = httpx.post(f"{base}/verify-email", data={"token": verify_token.group(1)})
    assert done.status_code == 200
    me = httpx.post(
        f"{base}/graphql",
        json={"query": "{ me { emailVerified } }"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert me["data"]["me"]["emailVerified"] is True
    # Only the mail holds the token: the access lines of the link show it redacted.
    others = [line for line in _lines(log_file) if line.get("mail_to") != email]
    assert verify_token.group(1) not in json.dumps(others)
    assert any("token=[redacted]" in line.get("path", "") for line in others)


async def test_a_websocket_operation_logs_with_its_connection_and_operation_ids(live):
    base, log_file = live
    url = base.replace("http://", "ws://") + "/graphql"
    async with connect(
        url,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        additional_headers={"X-Request-ID": "socket-7"},
        open_timeout=10,
    ) as ws:
        assert ws.response is not None and ws.response.headers["x-request-id"] == "socket-7"
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        query = 'subscription { auctionUpdated(auctionId: "not-an-id") { sequence } }'
        await ws.send(json.dumps({"id": "op-1", "type": "subscribe", "payload": {"query": query}}))
        while (reply := json.loads(await asyncio.wait_for(ws.recv(), 10)))["type"] == "ping":
            pass
        assert reply["id"] == "op-1"
    await asyncio.sleep(0.2)
    lines = [line for line in _lines(log_file) if line.get("request_id") == "socket-7"]
    errors = [line for line in lines if line.get("code") == "INVALID_ID"]
    assert len(errors) == 1 and errors[0]["operation_id"] == "op-1", lines
    assert "exception" not in errors[0]


def test_client_errors_leave_no_traceback(live):
    base, log_file = live
    before = len(_lines(log_file))
    documents = [
        "{ nope }",
        "{ categories ",
        "mutation { becomeSeller { ok } }",
        '{ trendingAuctions(category: "nope") { id } }',
        '{ auction(id: "not-an-id") { id } }',
    ]
    for document in documents:
        httpx.post(f"{base}/graphql", json={"query": document})
    httpx.post(f"{base}/graphql", content=b"not json", headers={"content-type": "application/json"})
    httpx.get(f"{base}/verify-email", params={"token": "forged"})
    new = _lines(log_file)[before:]
    assert new, "nothing was logged"
    assert [line for line in new if "exception" in line or line["level"] == "error"] == []
