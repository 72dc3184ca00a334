"""Both servers together, as one context manager, for the dev runner and the test suite.

A server whose URL is already given in the environment (DATABASE_URL / REDIS_URL) is not
started: pointing those at real servers switches the embedded ones off (SPEC section 1).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from devservers.ports import free_port
from devservers.postgres import EmbeddedPostgres
from devservers.redis import EmbeddedRedis


@dataclass(frozen=True)
class StackUrls:
    """Where the servers are; `postgres`/`redis` are None when an env URL was used."""

    database_url: str
    redis_url: str
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None


@contextmanager
def embedded_stack(
    data_dir: Path,
    *,
    pg_port: int | None = None,
    redis_port: int | None = None,
    durable: bool = True,
) -> Iterator[StackUrls]:
    """Start what is needed under data_dir (pg/, redis/); stop it on exit, even on errors.

    A None port means a free one. `durable=False` (tests) turns PostgreSQL's fsync off and
    uses `appendfsync everysec` for Redis.
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

        yield StackUrls(database_url, redis_url, postgres, redis)
