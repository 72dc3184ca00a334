"""`python -m seeds`: load the demo data into DATABASE_URL (migrations must be applied)."""

from __future__ import annotations

import asyncio
import sys
import time

from seeds.builder import BIDDER_COUNT, DEMO_PASSWORD, SELLER_COUNT
from seeds.loader import load, table_counts
from seeds.search_index import index_demo
from seeds.settlement import demo_sales, seed_sales
from seeds.summary import demo_logins
from settings import get_settings


async def _main() -> int:
    settings = get_settings()
    url = settings.database_url
    if not url:
        print("DATABASE_URL is not set; nothing to seed.", file=sys.stderr)
        return 2
    started = time.perf_counter()
    inserted = await load(url, redis_url=settings.redis_url)
    # Sales in every settlement state, made through the use cases and the gateway.
    sales = await seed_sales(settings)
    # Searchable at once; the freshness indexer follows later changes.
    searchable = await index_demo(url) if not settings.meili_url else 0
    totals = await table_counts(url, list(inserted))
    elapsed = time.perf_counter() - started
    width = max(len(name) for name in inserted)
    print(f"{'table':<{width}}  {'inserted':>8}  {'total':>6}")
    for name, count in inserted.items():
        print(f"{name:<{width}}  {count:>8}  {totals[name]:>6}")
    print(f"{'sales':<{width}}  {'':>8}  {sales:>6}")
    print(f"{'searchable':<{width}}  {'':>8}  {searchable:>6}")
    if not any(inserted.values()):
        print("Nothing new: the demo data was already present.")
    print(f"Done in {elapsed:.1f}s.")
    print("Demo logins (development only):")
    for line in await demo_logins(url):
        print(f"  {line}")
    print(
        f"  ... {SELLER_COUNT} sellers and {BIDDER_COUNT} bidders in all: every seeded"
        f" <username>@gavel.test but the admin has the password {DEMO_PASSWORD}"
    )
    print("Demo sales (settlement; docs/settlement.md):")
    for line in await demo_sales(settings):
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_main()))
