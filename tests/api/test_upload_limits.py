"""Image uploads cannot pin the CPU (adapters/images.py): caps read from the headers
refuse an image before any pixel is decoded, an animation costs its first frame only,
image work runs on a bounded pool whose queue answers UNAVAILABLE when too long, and
createAuction is rate limited per user.

Decoding is observed through Pillow's own decoder factory (`Image._getdecoder`, called
once per frame decoded) and the store's `_save_still` (one call per image re-encoded),
both wrapped around the real code.
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import text

from adapters import images
from domain.errors import ValidationFailed
from gavel_app import create_app
from settings import Settings
from tests.helpers import Account, listing, register

PREFLIGHT = {"Apollo-Require-Preflight": "true"}
CREATE_WITH_IMAGES = """
mutation($input: CreateAuctionInput!) {
  createAuction(input: $input) {
    auction { id item { imageUrls } }
    errors { code message field retryAfter }
  }
}"""


def _png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("L", size, 7).save(out, "PNG", compress_level=1)
    return out.getvalue()


def _gif_200_frames() -> bytes:
    """The attack's file: 200 frames of 1000x1000 (distinct, so Pillow keeps them all)."""
    frames = [Image.new("P", (1000, 1000), i) for i in range(200)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    return out.getvalue()


async def _create(client: httpx.AsyncClient, seller: Account, blobs: list[bytes]) -> dict[str, Any]:
    operation = {
        "query": CREATE_WITH_IMAGES,
        "variables": {"input": {**listing(), "imageUploads": [None] * len(blobs)}},
    }
    mapping = {str(i): [f"variables.input.imageUploads.{i}"] for i in range(len(blobs))}
    response = await client.post(
        "/graphql",
        data={"operations": json.dumps(operation), "map": json.dumps(mapping)},
        files={str(i): (f"{i}.bin", blob, "image/png") for i, blob in enumerate(blobs)},
        headers={"Authorization": f"Bearer {seller.token}", **PREFLIGHT},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _listings_of(app: FastAPI, seller: Account) -> int:
    async with app.state.engine.connect() as conn:
        count = await conn.scalar(
            text("SELECT count(*) FROM auctions WHERE seller_id = :u"), {"u": seller.id}
        )
    return int(count)


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every pixel decoder Pillow makes (one per frame decoded), by decoder name."""
    made: list[str] = []
    real = Image._getdecoder

    def counting(mode: str, decoder_name: str, *args: Any, **kwargs: Any) -> Any:
        made.append(decoder_name)
        return real(mode, decoder_name, *args, **kwargs)

    monkeypatch.setattr(Image, "_getdecoder", counting)
    return made


@pytest.fixture(scope="module")
async def seller(gql) -> Account:
    return await register(gql, seller=True)


async def test_a_200_frame_gif_costs_its_first_frame_only(client, seller, decodes):
    gif = _gif_200_frames()
    started = time.perf_counter()
    body = await _create(client, seller, [gif])
    elapsed = time.perf_counter() - started
    created = body["data"]["createAuction"]
    assert created["errors"] == [], body
    assert decodes == ["gif"]  # one frame decoded, not 200
    assert elapsed < 3, elapsed  # was ~9 s of CPU
    served = await client.get(created["auction"]["item"]["imageUrls"][0])
    with Image.open(io.BytesIO(served.content)) as stored:
        assert (stored.size, getattr(stored, "n_frames", 1)) == ((1000, 1000), 1)


@pytest.mark.parametrize(
    ("blobs", "message"),
    [
        (lambda: [_png((6000, 5000))], "6000x5000"),  # 30 MP > 25 MP per image
        (lambda: [_png((10_001, 100))], "10001x100"),  # a side > 10,000 pixels
        (lambda: [_png((5000, 4000))] * 3 + [_png((10, 10))], "megapixels together"),
    ],
    ids=["pixels", "side", "listing"],
)
async def test_images_over_the_caps_are_refused_before_any_decoding(
    app, client, seller, decodes, blobs: Callable[[], list[bytes]], message: str
):
    before = await _listings_of(app, seller)
    body = await _create(client, seller, blobs())
    errors = body["data"]["createAuction"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID_INPUT", "imageUploads")]
    assert message in errors[0]["message"], errors
    assert decodes == []
    assert await _listings_of(app, seller) == before


def test_a_jpeg_with_too_many_scans_is_refused_from_its_bytes(decodes):
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (9, 9, 9)).save(out, "JPEG", progressive=True)
    progressive = out.getvalue()
    assert images.clean(progressive).content_type == "image/jpeg"  # 10 scans: fine
    head, _, tail = progressive.rpartition(b"\xff\xd9")
    bomb = head + b"\xff\xda" * (images.MAX_JPEG_SCANS + 1) + b"\xff\xd9" + tail
    decodes.clear()
    with pytest.raises(ValidationFailed, match="scans"):
        images.clean(bomb)
    assert decodes == []


async def test_images_at_the_caps_are_accepted(client, seller):
    # 25 MP and a 10,000-pixel side each, 60 MP together: every cap reached, none passed.
    blobs = [_png((10_000, 2_500)), _png((5_000, 5_000)), _png((5_000, 2_000))]
    body = await _create(client, seller, blobs)
    created = body["data"]["createAuction"]
    assert created["errors"] == [], body
    assert len(created["auction"]["item"]["imageUrls"]) == 3


class _Running:
    """Counts `_save_still` calls running at once (the real one runs inside)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, hold: float) -> None:
        self.now = self.most = self.calls = 0
        self._lock = threading.Lock()
        real = images._save_still

        def counting(*args: Any) -> None:
            with self._lock:
                self.now += 1
                self.calls += 1
                self.most = max(self.most, self.now)
            try:
                time.sleep(hold)  # long enough for the other uploads to arrive meanwhile
                real(*args)
            finally:
                with self._lock:
                    self.now -= 1

        monkeypatch.setattr(images, "_save_still", counting)


async def test_concurrent_uploads_never_exceed_the_worker_bound(client, seller, monkeypatch):
    # The suite's app has the default bound: GAVEL_IMAGE_WORKERS=1.
    running = _Running(monkeypatch, hold=0.3)
    bodies = await asyncio.gather(
        *(_create(client, seller, [_png((300, 200)), _png((200, 300))]) for _ in range(4))
    )
    assert [b["data"]["createAuction"]["errors"] for b in bodies] == [[]] * 4, bodies
    assert (running.calls, running.most) == (8, 1)


@pytest.fixture(scope="module")
async def strict(settings: Settings) -> AsyncIterator[FastAPI]:
    """An app whose uploads wait at most 0.5 s for a worker, with 2 listings per user."""
    update = {"image_wait_seconds": 0.5, "rate_listing_user": "2/3600", "run_scheduler": False}
    app = create_app(settings.model_copy(update=update), fast_hash=True)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def strict_client(strict: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=strict)
    async with httpx.AsyncClient(transport=transport, base_url="http://gavel.test") as c:
        yield c


async def test_an_upload_waiting_too_long_answers_unavailable(
    strict, strict_client, gql, monkeypatch
):
    running = _Running(monkeypatch, hold=1.5)
    sellers = [await register(gql, seller=True) for _ in range(2)]
    first, second = await asyncio.gather(
        *(_create(strict_client, s, [_png((30, 20))]) for s in sellers)
    )
    answers = sorted([first, second], key=lambda b: "errors" in b)
    assert answers[0]["data"]["createAuction"]["errors"] == [], answers
    refused = answers[1]
    assert [e["extensions"] for e in refused["errors"]] == [
        {"code": "UNAVAILABLE", "retryAfter": images.BUSY_RETRY_AFTER_SECONDS}
    ], refused
    assert running.calls == 1  # the refused upload never reached a worker
    counts = sorted([await _listings_of(strict, s) for s in sellers])
    assert counts == [0, 1]


async def test_listings_per_user_are_rate_limited(strict, strict_client, gql, decodes):
    seller = await register(gql, seller=True)
    for _ in range(2):
        body = await _create(strict_client, seller, [_png((30, 20))])
        assert body["data"]["createAuction"]["errors"] == [], body
    decodes.clear()
    body = await _create(strict_client, seller, [_png((30, 20))])
    assert body["data"]["createAuction"]["auction"] is None
    [error] = body["data"]["createAuction"]["errors"]
    assert error["code"] == "RATE_LIMITED", error
    assert 1 <= error["retryAfter"] <= 1800, error
    assert decodes == []  # refused before any image work
    assert await _listings_of(strict, seller) == 2
