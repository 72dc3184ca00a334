"""The embedded servers together, as one context manager, for the dev runner and tests.

A server whose URL is already given in the environment (DATABASE_URL / REDIS_URL) is not
started: pointing those at real servers switches the embedded ones off (SPEC section 1).
The same goes for the Stripe emulator: STRIPE_API_KEY (real Stripe) or STRIPE_API_BASE
(a Stripe-compatible server of your own) keeps it off.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from devservers.localstripe import EmbeddedStripe
from devservers.ports import free_port
from devservers.postgres import EmbeddedPostgres
from devservers.redis import EmbeddedRedis


@dataclass(frozen=True)
class StackUrls:
    """Where the servers are; `postgres`/`redis`/`stripe` are None when not embedded
    (`stripe_api_base` is then STRIPE_API_BASE, or None for Stripe itself)."""

    database_url: str
    redis_url: str
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None
    stripe_api_base: str | None = None
    stripe: EmbeddedStripe | None = None


def stripe_emulated() -> bool:
    """Whether the stack runs the Stripe emulator: neither a key nor a base is given."""
    return not os.environ.get("STRIPE_API_KEY") and not os.environ.get("STRIPE_API_BASE")


@contextmanager
def embedded_stack(
    data_dir: Path,
    *,
    pg_port: int | None = None,
    redis_port: int | None = None,
    durable: bool = True,
    stripe_port: int | None = None,
    stripe_webhook_url: str | None = None,
    stripe_webhook_secret: str | None = None,
) -> Iterator[StackUrls]:
    """Start what is needed under data_dir (pg/, redis/, stripe/); stop it on exit, even on
    errors.

    A None port means a free one. `durable=False` (tests) turns PostgreSQL's fsync off and
    uses `appendfsync everysec` for Redis. With `stripe_webhook_url` and its secret the
    emulator signs and POSTs its events there.
    """
    data_dir = Path(data_dir).absolute()
    with ExitStack() as stack:
        postgres: EmbeddedPostgres | None = None
        redis: EmbeddedRedis | None = None

        database_url = os.environ.get("DATABASE_URL", "")
        if not database_url:
            postgres = EmbeddedPostgres(data_dir / "pg", pg_port or free_port(), durable=durable)
            stack.callback(postgres.stop)
            database_url = postgres.start()

        redis_url = os.environ.get("REDIS_URL", "")
        if not redis_url:
            fsync = "always" if durable else "everysec"
            redis = EmbeddedRedis(data_dir / "redis", redis_port or free_port(), appendfsync=fsync)
            stack.callback(redis.stop)
            redis_url = redis.start()

        stripe: EmbeddedStripe | None = None
        stripe_api_base = os.environ.get("STRIPE_API_BASE") or None
        if stripe_emulated():
            stripe = EmbeddedStripe(
                data_dir / "stripe",
                stripe_port or free_port(),
                webhook_url=stripe_webhook_url,
                webhook_secret=stripe_webhook_secret,
            )
            stack.callback(stripe.stop)
            stripe_api_base = stripe.start()

        yield StackUrls(database_url, redis_url, postgres, redis, stripe_api_base, stripe)
