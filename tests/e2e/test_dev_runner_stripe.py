"""`make run` with no Stripe settings starts the localstripe emulator on 127.0.0.1, keeps
its state under the data folder, and registers the app's /webhooks/stripe with it: a
payment captured at the emulator is delivered, signed, to the app, which verifies it
(the emulator logs the 2xx). Ctrl-C stops the emulator with the rest.

PostgreSQL and Redis are the test session's (so the runner starts only the emulator)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.stripe_gateway import EMULATOR_API_KEY, StripeGateway
from devservers.ports import free_port, is_listening
from devservers.stack import StackUrls
from tests.conftest import create_database
from tests.helpers import own_redis_db, test_card

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def runner(
    stack: StackUrls, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, Any]]]:
    database = asyncio.run(create_database(stack.database_url, f"runner_{uuid.uuid4().hex[:8]}"))
    port, stripe_port = free_port(), free_port()
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("STRIPE_API_KEY", "STRIPE_API_BASE", "STRIPE_WEBHOOK_SECRET")
    }
    env |= {
        "DATABASE_URL": database,
        "REDIS_URL": own_redis_db(stack.redis_url, 9),
        "GAVEL_DATA_DIR": str(tmp_path / "data"),
        "GAVEL_PORT": str(port),
        "GAVEL_STRIPE_EMULATOR_PORT": str(stripe_port),
        "GAVEL_JWT_SECRET": "runner-" + "r" * 40,
        "GAVEL_ADMIN_STORAGE_SECRET": "runner-admin-" + "a" * 40,
    }
    log = tmp_path / "runner.log"
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "devservers", "run"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    info = {
        "base": f"http://127.0.0.1:{port}",
        "stripe": f"http://127.0.0.1:{stripe_port}",
        "stripe_port": stripe_port,
        "data": tmp_path / "data",
        "log": log,
    }
    try:
        yield proc, info
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:]


def _listeners(port: int) -> list[str]:
    tables = Path("/proc/net/tcp").read_text() + Path("/proc/net/tcp6").read_text()
    return [line for line in tables.splitlines() if f":{port:04X} " in line and " 0A " in line]


async def test_make_run_starts_the_emulator_and_wires_its_webhooks(runner) -> None:
    proc, info = runner
    log = info["log"]
    deadline = time.monotonic() + 180  # migrations and seeds first
    async with httpx.AsyncClient(base_url=info["base"], timeout=5) as client:
        while True:
            assert proc.poll() is None, _tail(log)
            assert time.monotonic() < deadline, _tail(log)
            try:
                if (await client.get("/readyz")).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)

    listeners = _listeners(info["stripe_port"])
    assert listeners and all(" 0100007F:" in line for line in listeners), listeners
    stripe_dir: Path = info["data"] / "stripe"
    assert (info["data"] / "stripe-webhook-secret").is_file()

    gateway = StripeGateway(api_key=EMULATOR_API_KEY, mode="emulator", api_base=info["stripe"])
    customer = await gateway.create_customer(
        email="runner@example.com", user_id="u", idempotency_key=f"runner:{uuid.uuid4()}"
    )
    card = await test_card(gateway, customer.id)
    intent = await gateway.authorize(
        amount=1_500,
        currency="EUR",
        customer_id=customer.id,
        payment_method_id=card,
        metadata={},
        idempotency_key=f"runner:{uuid.uuid4()}",
    )
    await gateway.capture(intent.id, amount=None, idempotency_key=f"runner:{uuid.uuid4()}")
    await gateway.aclose()
    assert (stripe_dir / "state.pickle").is_file()

    emulator_log = stripe_dir / "localstripe.log"
    delivered = 'webhook "payment_intent.succeeded" successfully delivered'
    until = time.monotonic() + 15  # the emulator waits a second before delivering
    while delivered not in emulator_log.read_text(errors="replace"):
        assert time.monotonic() < until, _tail(emulator_log)
        await asyncio.sleep(0.2)
    assert "failed with response code" not in emulator_log.read_text(errors="replace")

    proc.send_signal(signal.SIGINT)
    assert await asyncio.to_thread(proc.wait, 30) == 0
    assert not is_listening("127.0.0.1", info["stripe_port"])
