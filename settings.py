"""Every setting Gavel reads, from the environment (and `.env`); see `.env.example`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.rate_limits import Rate


def _rate(text: str) -> str:
    Rate.parse(text)  # checked at start-up: a typo fails loudly, not at the first bid
    return text


RateText = Annotated[str, AfterValidator(_rate)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # External servers. Left empty, the dev runner and the tests start embedded ones.
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    # REDIS_URL names one node of a Redis Cluster: the client learns the others from it.
    redis_cluster: bool = Field(default=False, alias="GAVEL_REDIS_CLUSTER")
    meili_url: str | None = Field(default=None, alias="MEILI_URL")
    stripe_api_key: SecretStr | None = Field(default=None, alias="STRIPE_API_KEY")
    stripe_api_base: str | None = Field(default=None, alias="STRIPE_API_BASE")

    # Where embedded servers and uploads keep their files.
    data_dir: Path = Field(default=Path(".gavel-data"), alias="GAVEL_DATA_DIR")

    # Auth. Without a secret the app makes a random one per process (tokens die on restart).
    jwt_secret: SecretStr | None = Field(default=None, alias="GAVEL_JWT_SECRET")
    access_token_ttl_seconds: int = Field(default=900, alias="GAVEL_ACCESS_TOKEN_TTL")
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, alias="GAVEL_REFRESH_TOKEN_TTL")
    email_token_ttl_seconds: int = Field(default=48 * 3600, alias="GAVEL_EMAIL_TOKEN_TTL")
    require_verified_email: bool = Field(default=False, alias="GAVEL_REQUIRE_VERIFIED_EMAIL")

    # Listings.
    min_auction_duration_seconds: int = Field(default=10, alias="GAVEL_MIN_AUCTION_SECONDS")
    max_auction_duration_days: int = Field(default=90, alias="GAVEL_MAX_AUCTION_DAYS")

    # GraphQL limits.
    graphql_max_depth: int = Field(default=10, alias="GAVEL_GRAPHQL_MAX_DEPTH")
    graphql_max_tokens: int = Field(default=2000, alias="GAVEL_GRAPHQL_MAX_TOKENS")
    graphql_max_aliases: int = Field(default=30, alias="GAVEL_GRAPHQL_MAX_ALIASES")
    graphql_introspection: bool = Field(default=True, alias="GAVEL_GRAPHQL_INTROSPECTION")
    # placeBid/buyNow documents that only read the bid's result skip graphql-core's
    # execution (schema/compiled_bid.py); off: every request takes the generic path.
    compiled_bids: bool = Field(default=True, alias="GAVEL_COMPILED_BIDS")
    max_page_size: int = Field(default=100, alias="GAVEL_MAX_PAGE_SIZE")
    max_request_bytes: int = Field(default=2 * 1024 * 1024, alias="GAVEL_MAX_REQUEST_BYTES")

    # Background work every app process runs: the outbox persister always; the scheduler
    # (start/close auctions, Dutch price steps) unless switched off here.
    run_scheduler: bool = Field(default=True, alias="GAVEL_RUN_SCHEDULER")

    # Serving.
    host: str = Field(default="127.0.0.1", alias="GAVEL_HOST")
    port: int = Field(default=8000, alias="GAVEL_PORT")
    admin_storage_secret: SecretStr | None = Field(default=None, alias="GAVEL_ADMIN_STORAGE_SECRET")

    # Rate limits (services/limits.py): token buckets in Redis, 'COUNT/SECONDS' = a burst of
    # COUNT, refilled evenly over SECONDS. Exceeded: RATE_LIMITED with a retry-after.
    rate_limits: bool = Field(default=True, alias="GAVEL_RATE_LIMITS")
    rate_bid_user: RateText = Field(default="20/1", alias="GAVEL_RATE_BID_USER")
    rate_bid_user_auction: RateText = Field(default="10/1", alias="GAVEL_RATE_BID_USER_AUCTION")
    rate_bid_ip: RateText = Field(default="200/1", alias="GAVEL_RATE_BID_IP")
    rate_login_account: RateText = Field(default="10/300", alias="GAVEL_RATE_LOGIN_ACCOUNT")
    rate_login_ip: RateText = Field(default="60/300", alias="GAVEL_RATE_LOGIN_IP")
    rate_login_backoff_max: int = Field(default=32, ge=1, alias="GAVEL_RATE_LOGIN_BACKOFF_MAX")
    rate_register_ip: RateText = Field(default="10/3600", alias="GAVEL_RATE_REGISTER_IP")
    rate_ws_connections_ip: int = Field(default=100, ge=1, alias="GAVEL_RATE_WS_CONNECTIONS_IP")
    rate_ws_subscribe: RateText = Field(default="10/1", alias="GAVEL_RATE_WS_SUBSCRIBE")
    # Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For names
    # the client; empty: the TCP peer is the client.
    trusted_proxies: str = Field(default="", alias="GAVEL_TRUSTED_PROXIES")
    # Threads that hash and verify passwords (argon2 releases the GIL; each hash takes
    # ~64 MiB and tens of ms of a core). Logins beyond this many wait their turn.
    password_hash_threads: int = Field(default=2, ge=1, alias="GAVEL_PASSWORD_HASH_THREADS")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
