"""IP and device sightings (services/fraud/sightings.py): recorded at register and login
as keyed hashes, never raw; the same value hashes the same for two accounts."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from services.fraud.sightings import observed, sighting_key, value_hash
from tests.helpers import LOGIN, PASSWORD, REGISTER


async def post(app: FastAPI, ip: str, device: str | None, query: str, variables: Any) -> Any:
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    headers = {"X-Device-Fingerprint": device} if device is not None else {}
    async with httpx.AsyncClient(transport=transport, base_url="http://gavel.test") as client:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        return response.json()


async def sightings(app: FastAPI, user_id: str) -> list[Any]:
    async with app.state.deps.uow() as uow:
        conn = await uow.session.connection()
        result = await conn.execute(
            text(
                "SELECT kind, value_hash, times_seen, first_seen_at, last_seen_at "
                "FROM fraud_sightings WHERE user_id = :u ORDER BY kind"
            ),
            {"u": uuid.UUID(user_id)},
        )
        return list(result.all())


async def register(app: FastAPI, ip: str, device: str | None) -> tuple[str, str]:
    name = f"s{uuid.uuid4().hex[:10]}"
    email = f"{name}@example.com"
    variables = {"input": {"username": name, "email": email, "password": PASSWORD}}
    body = await post(app, ip, device, REGISTER, variables)
    assert body["data"]["register"]["errors"] == [], body
    return body["data"]["register"]["user"]["id"], email


async def test_register_and_login_record_hashed_sightings(app):
    device = f"fp-{uuid.uuid4()}"
    user_id, email = await register(app, "10.9.0.7", device)
    seen = await sightings(app, user_id)
    assert [s.kind for s in seen] == ["device", "ip"]
    for s in seen:
        assert len(s.value_hash) == 64 and s.times_seen == 1
        assert device not in s.value_hash and "10.9.0.7" not in s.value_hash
    assert seen[0].value_hash == value_hash(app.state.deps.sighting_key, "device", device)

    login = await post(app, "10.9.0.7", None, LOGIN, {"email": email, "password": PASSWORD})
    assert login["data"]["login"]["errors"] == [], login
    again = {s.kind: s for s in await sightings(app, user_id)}
    assert again["ip"].times_seen == 2 and again["device"].times_seen == 1
    assert again["ip"].last_seen_at >= again["ip"].first_seen_at


async def test_a_shared_device_hashes_alike_and_a_failed_login_records_nothing(app):
    device = f"fp-{uuid.uuid4()}"
    first, _ = await register(app, "10.9.1.1", device)
    second, email = await register(app, "10.9.1.2", device)
    one = {s.kind: s.value_hash for s in await sightings(app, first)}
    two = {s.kind: s.value_hash for s in await sightings(app, second)}
    assert one["device"] == two["device"] and one["ip"] != two["ip"]

    wrong = await post(app, "10.9.1.3", None, LOGIN, {"email": email, "password": "wrong horse"})
    assert wrong["data"]["login"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
    assert len(await sightings(app, second)) == 2


def test_only_plausible_values_are_kept_and_the_key_is_derived():
    assert observed(None, None) == []
    assert observed(" 10.0.0.1 ", "  ") == [("ip", "10.0.0.1")]
    assert observed(None, "x" * 513) == []
    # Loopback is the server's own host (a local run, a same-machine proxy): not recorded.
    assert observed("127.0.0.1", None) == observed("::1", None) == []
    assert observed("127.8.0.1", "d") == [("device", "d")]
    assert observed("not-an-ip", None) == [("ip", "not-an-ip")]
    assert sighting_key("a") != sighting_key("b") and len(sighting_key("a")) == 32
    assert value_hash(b"k", "ip", "1.2.3.4") != value_hash(b"k2", "ip", "1.2.3.4")
