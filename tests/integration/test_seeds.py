"""The demo-data loader fills a fresh database and is idempotent.

`database_url` is shared by the session, so the checks below look only at the seeded rows
(their ids are fixed), never at rows other tests may have added.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from devservers.stack import StackUrls
from domain.enums import AuctionStatus, AuctionType
from domain.pricing import increment
from seeds import load
from seeds.builder import build
from storage.db import make_engine
from tests.conftest import create_database, migrate


@pytest.fixture
async def seed_database(stack: StackUrls) -> str:
    """A database of its own, so the demo rows never leak into other tests' counts."""
    url = await create_database(stack.database_url, f"gavel_seed_{uuid.uuid4().hex[:8]}")
    await migrate(url)
    return url


async def test_seeds_load_twice(seed_database: str) -> None:
    database_url = seed_database
    first = await load(database_url, progress=False)
    assert first["users"] >= 50
    assert first["items"] >= 200
    assert first["auctions"] == first["items"]
    assert first["bids"] > 0

    second = await load(database_url, progress=False)
    assert set(second) == set(first)
    assert all(count == 0 for count in second.values()), second

    seeded = [a.id for a in build(datetime.now(UTC), defaultdict(str)).auctions]
    assert len(seeded) == first["auctions"]
    ids = bindparam("ids", seeded, type_=ARRAY(UUID(as_uuid=True)))
    engine = make_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            seeded_items = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM items i JOIN users u ON u.id = i.seller_id"
                        " WHERE u.email LIKE '%@gavel.test'"
                    )
                )
            ).scalar_one()
            assert seeded_items >= 200
            admin = (
                await conn.execute(text("SELECT roles FROM users WHERE email = 'admin@gavel.test'"))
            ).scalar_one()
            assert set(admin) == {"ADMIN", "SELLER", "BIDDER"}

            pairs = {
                (row.type, row.status): row.n
                for row in await conn.execute(
                    text(
                        "SELECT type, status, count(*) AS n FROM auctions"
                        " WHERE id = ANY(:ids) GROUP BY 1, 2"
                    ).bindparams(ids)
                )
            }
            for kind in AuctionType:
                for status in AuctionStatus:
                    assert pairs.get((kind.value, status.value), 0) >= 3, (kind, status)

            bids: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
            rows = await conn.execute(
                text(
                    "SELECT b.auction_id, b.sequence, b.amount, b.currency, a.type, a.bid_count"
                    " FROM bids b JOIN auctions a ON a.id = b.auction_id"
                    " WHERE a.id = ANY(:ids) ORDER BY b.auction_id, b.sequence"
                ).bindparams(ids)
            )
            for row in rows:
                bids[str(row.auction_id)].append((row.sequence, row.amount, row.type))
                assert row.bid_count >= 1
            for auction_bids in bids.values():
                assert [seq for seq, _, _ in auction_bids] == list(range(1, len(auction_bids) + 1))
            english = await conn.execute(
                text(
                    "SELECT b.auction_id, b.amount, a.currency FROM bids b"
                    " JOIN auctions a ON a.id = b.auction_id"
                    " WHERE a.type = 'ENGLISH' AND a.id = ANY(:ids)"
                    " ORDER BY b.auction_id, b.sequence"
                ).bindparams(ids)
            )
            previous: tuple[str, int] | None = None
            for row in english:
                if previous is not None and previous[0] == str(row.auction_id):
                    assert row.amount >= previous[1] + increment(previous[1], row.currency)
                previous = (str(row.auction_id), row.amount)

            mismatched = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM auctions a WHERE a.id = ANY(:ids) AND (a.bid_count <>"
                        " (SELECT count(*) FROM bids b WHERE b.auction_id = a.id)"
                        " OR a.last_sequence <>"
                        " (SELECT count(*) FROM auction_events e WHERE e.auction_id = a.id))"
                    ).bindparams(ids)
                )
            ).scalar_one()
            assert mismatched == 0
    finally:
        await engine.dispose()
