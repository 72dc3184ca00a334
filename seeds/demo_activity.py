"""`python -m seeds.demo_activity URL`: demo bidders bidding now and then, through the API.

`make run` starts this beside the app (GAVEL_DEMO_BID_SECONDS, default 4; 0 turns it
off) so the seeded demo is alive: the admin overview's bids-per-minute chart moves and
sellers' live monitors tick. Every bid is a real `placeBid` over GraphQL/HTTP by a seeded
bidder (its demo password), on a live English auction, at the auction's minimum next bid;
refusals (a held account, an auction that just ended) are skipped. Development only: the
runner never starts it in production, where the demo accounts do not exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import sys
from typing import Any

import asyncpg
import httpx

from seeds.builder import DEMO_PASSWORD

log = logging.getLogger("gavel.demo")

LIVE_ENGLISH = """query { auctions(filter: {statuses: [ACTIVE], types: [ENGLISH]}, first: 50) {
  edges { node { id minimumNextBid { amount } } } } }"""
LOGIN = """mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken errors { code } } }"""
BID = """mutation($a: ID!, $amount: Decimal!) { placeBid(auctionId: $a, amount: $amount) {
  __typename ... on BidRejected { reason } } }"""


def bid_interval() -> float:
    """GAVEL_DEMO_BID_SECONDS: the mean seconds between demo bids (0: no demo bidding)."""
    raw = os.environ.get("GAVEL_DEMO_BID_SECONDS", "4").strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        return 4.0


async def demo_bidders(database_url: str) -> list[str]:
    """The seeded bidders' emails (bidders only: never a seller bidding on a listing)."""
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await conn.fetch(
            "SELECT email FROM users WHERE roles = '{BIDDER}' AND email LIKE '%@gavel.test'"
            " AND banned_at IS NULL AND NOT fraud_hold ORDER BY email"
        )
    finally:
        await conn.close()
    return [r["email"] for r in rows]


async def _call(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str | None
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    return response.json().get("data") or {}


async def run(base_url: str, database_url: str, every: float, rng: random.Random) -> None:
    emails = await demo_bidders(database_url)
    if not emails:
        log.info("demo bidding: no seeded bidders")
        return
    tokens: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        while True:
            await asyncio.sleep(rng.uniform(0.5, 1.5) * every)
            try:
                data = await _call(http, LIVE_ENGLISH, {}, None)
                live = [e["node"] for e in data["auctions"]["edges"] if e["node"]["minimumNextBid"]]
                if not live:
                    continue
                auction = rng.choice(live)
                email = rng.choice(emails)
                if email not in tokens:
                    login = (
                        await _call(http, LOGIN, {"email": email, "password": DEMO_PASSWORD}, None)
                    )["login"]
                    if not login["accessToken"]:
                        emails.remove(email)
                        continue
                    tokens[email] = login["accessToken"]
                result = await _call(
                    http,
                    BID,
                    {"a": auction["id"], "amount": auction["minimumNextBid"]["amount"]},
                    tokens[email],
                )
                if not result:  # an expired token: log in again next time
                    tokens.pop(email, None)
            except (httpx.HTTPError, KeyError, TypeError, ValueError) as err:
                log.info("demo bidding: %r", err)
                await asyncio.sleep(every)


def main() -> int:
    every = bid_interval()
    database_url = os.environ.get("DATABASE_URL", "")
    if every <= 0 or len(sys.argv) < 2 or not database_url:
        return 0
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(sys.argv[1], database_url, every, random.Random()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
