"""Every setting Gavel reads, from the environment (and `.env`); see `.env.example`."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, AliasChoices, BeforeValidator, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.rate_limits import Rate
from domain.discovery import TrendingPolicy
from domain.fraud.rules import FraudPolicy
from domain.settlement import SettlementPolicy, bps_from_percent


def _rate(text: str) -> str:
    Rate.parse(text)  # checked at start-up: a typo fails loudly, not at the first bid
    return text


RateText = Annotated[str, AfterValidator(_rate)]


def _percent(value: Decimal) -> Decimal:
    bps_from_percent(value, name="a settlement percentage")  # 0..100, two decimals at most
    return value


Percent = Annotated[Decimal, AfterValidator(_percent)]


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # External servers. Left empty, the dev runner and the tests start embedded ones.
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    # REDIS_URL names one node of a Redis Cluster: the client learns the others from it.
    redis_cluster: bool = Field(default=False, alias="GAVEL_REDIS_CLUSTER")
    # Set: search runs on that Meilisearch server (see "Search: Meilisearch" below).
    meili_url: str | None = Field(
        default=None, validation_alias=AliasChoices("MEILI_URL", "GAVEL_MEILI_URL")
    )
    stripe_api_key: SecretStr | None = Field(default=None, alias="STRIPE_API_KEY")
    stripe_api_base: str | None = Field(default=None, alias="STRIPE_API_BASE")

    # Where embedded servers and uploads keep their files.
    data_dir: Path = Field(default=Path(".gavel-data"), alias="GAVEL_DATA_DIR")

    # Auth. Without a secret the app makes a random one per process (tokens die on restart).
    jwt_secret: SecretStr | None = Field(default=None, alias="GAVEL_JWT_SECRET")
    access_token_ttl_seconds: int = Field(default=900, alias="GAVEL_ACCESS_TOKEN_TTL")
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, alias="GAVEL_REFRESH_TOKEN_TTL")
    email_token_ttl_seconds: int = Field(default=48 * 3600, alias="GAVEL_EMAIL_TOKEN_TTL")

    # Listings.
    min_auction_duration_seconds: int = Field(default=10, alias="GAVEL_MIN_AUCTION_SECONDS")
    max_auction_duration_days: int = Field(default=90, alias="GAVEL_MAX_AUCTION_DAYS")

    # GraphQL limits.
    graphql_max_depth: int = Field(default=10, alias="GAVEL_GRAPHQL_MAX_DEPTH")
    graphql_max_tokens: int = Field(default=2000, alias="GAVEL_GRAPHQL_MAX_TOKENS")
    graphql_max_aliases: int = Field(default=30, alias="GAVEL_GRAPHQL_MAX_ALIASES")

    # GraphQL document size: fields of an operation once its fragments are expanded
    # (schema/limits.py); a few chained fragments can otherwise expand to billions.
    graphql_max_fields: int = Field(default=1000, alias="GAVEL_GRAPHQL_MAX_FIELDS")

    # placeBid/buyNow documents that only read the bid's result skip graphql-core's
    # execution (schema/compiled_bid.py); off: every request takes the generic path.
    compiled_bids: bool = Field(default=True, alias="GAVEL_COMPILED_BIDS")
    max_page_size: int = Field(default=100, alias="GAVEL_MAX_PAGE_SIZE")
    max_request_bytes: int = Field(default=2 * 1024 * 1024, alias="GAVEL_MAX_REQUEST_BYTES")

    # Background work every app process runs: the outbox persister always; the scheduler
    # (start/close auctions, Dutch price steps) unless switched off here.
    run_scheduler: bool = Field(default=True, alias="GAVEL_RUN_SCHEDULER")

    # Faults: outages of PostgreSQL or Redis (services/unavailable.py). Account states in
    # Redis let requests authenticate without PostgreSQL (realtime/account_states.py).
    account_state_ttl_seconds: int = Field(default=24 * 3600, alias="GAVEL_ACCOUNT_STATE_TTL")
    redis_health_check_seconds: float = Field(default=1.0, alias="GAVEL_REDIS_HEALTH_CHECK_SECONDS")

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
    # Login attempts on one account across all addresses (services/limits.py): a budget
    # much larger than GAVEL_RATE_LOGIN_ACCOUNT (which counts one account from one
    # address), so strangers cannot lock the owner out, yet a guesser spread over many
    # addresses is bounded.
    rate_login_account_all: RateText = Field(
        default="100/3600", alias="GAVEL_RATE_LOGIN_ACCOUNT_ALL"
    )
    rate_register_ip: RateText = Field(default="10/3600", alias="GAVEL_RATE_REGISTER_IP")
    rate_ws_connections_ip: int = Field(default=100, ge=1, alias="GAVEL_RATE_WS_CONNECTIONS_IP")
    rate_ws_subscribe: RateText = Field(default="10/1", alias="GAVEL_RATE_WS_SUBSCRIBE")
    # Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For names
    # the client; empty: the TCP peer is the client.
    trusted_proxies: str = Field(default="", alias="GAVEL_TRUSTED_PROXIES")
    # Threads that hash and verify passwords (argon2 releases the GIL; each hash takes
    # ~64 MiB and tens of ms of a core). Logins beyond this many wait their turn.
    password_hash_threads: int = Field(default=2, ge=1, alias="GAVEL_PASSWORD_HASH_THREADS")

    # --- Multi-factor login and password reset (services/mfa.py, services/password_reset.py)
    # A mailed password-reset token's life, seconds (single use).
    password_reset_ttl_seconds: int = Field(default=1800, ge=60, alias="GAVEL_PASSWORD_RESET_TTL")
    # requestPasswordReset per email asked for (known or not, so no enumeration) and per
    # client address; over the limit: RATE_LIMITED, nothing mailed.
    rate_password_reset_email: RateText = Field(
        default="3/3600", alias="GAVEL_RATE_PASSWORD_RESET_EMAIL"
    )
    rate_password_reset_ip: RateText = Field(
        default="20/3600", alias="GAVEL_RATE_PASSWORD_RESET_IP"
    )

    # --- Metrics (observability/metrics.py; GET /metrics, Prometheus text format) -----
    metrics_enabled: bool = Field(default=True, alias="GAVEL_METRICS_ENABLED")
    # Comma-separated client addresses or networks that may scrape (the client as
    # GAVEL_TRUSTED_PROXIES resolves it); others get 404. Default: loopback and private.
    metrics_allowed_networks: str = Field(
        default="127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7",
        alias="GAVEL_METRICS_ALLOWED_NETWORKS",
    )
    # The scrape reads the outbox lag of at most this many live auctions, and gives Redis
    # this long (seconds) before it leaves the lag series out.
    metrics_outbox_scan_limit: int = Field(
        default=1000, ge=1, alias="GAVEL_METRICS_OUTBOX_SCAN_LIMIT"
    )
    metrics_scrape_timeout_seconds: float = Field(
        default=2.0, gt=0, alias="GAVEL_METRICS_SCRAPE_TIMEOUT_SECONDS"
    )

    # --- Graceful shutdown (SIGTERM, Ctrl-C; gavel_app.py, adapters/shutdown.py) --------
    # The signal turns /readyz unready ("draining") at once; `shutdown_delay` seconds later
    # (time for a load balancer to notice) live streams end and uvicorn stops taking
    # connections; requests in flight then get `shutdown_timeout` seconds to finish
    # (uvicorn's --timeout-graceful-shutdown, passed wherever Gavel starts uvicorn), and the
    # outbox persister's final drain as long again to write what is left to PostgreSQL.
    shutdown_delay_seconds: float = Field(default=0.0, ge=0, alias="GAVEL_SHUTDOWN_DELAY")
    shutdown_timeout_seconds: int = Field(default=10, ge=1, alias="GAVEL_SHUTDOWN_TIMEOUT")

    # --- Environment and browser-facing defences --------------------------------------
    # production: introspection, field suggestions and GraphiQL off, verified email
    # required, and the app refuses to start without real secrets (production_problems). The
    # three overrides below, left unset, follow the environment.
    env: Literal["development", "production", "test"] = Field(
        default="development", alias="GAVEL_ENV"
    )
    introspection_override: bool | None = Field(default=None, alias="GAVEL_GRAPHQL_INTROSPECTION")
    suggestions_override: bool | None = Field(default=None, alias="GAVEL_GRAPHQL_SUGGESTIONS")
    verified_email_override: bool | None = Field(default=None, alias="GAVEL_REQUIRE_VERIFIED_EMAIL")
    # Comma-separated origins (https://shop.example) whose pages may open a WebSocket;
    # same-origin pages and non-browser clients always may.
    allowed_origins_text: str = Field(default="", alias="GAVEL_ALLOWED_ORIGINS")

    # --- Image uploads (adapters/images.py) -----------------------------------------
    # Threads per process that decode and re-encode uploaded images (Pillow releases the
    # GIL while it works: each worker can take a whole core); uploads beyond them queue,
    # and one that waits longer than GAVEL_IMAGE_WAIT_SECONDS answers UNAVAILABLE.
    image_workers: int = Field(default=1, ge=1, alias="GAVEL_IMAGE_WORKERS")
    image_wait_seconds: float = Field(default=20.0, gt=0, alias="GAVEL_IMAGE_WAIT_SECONDS")
    # createAuction (the one mutation that takes uploads) per user; RATE_LIMITED beyond.
    rate_listing_user: RateText = Field(default="30/3600", alias="GAVEL_RATE_LISTING_USER")
    # searchAuctions first pages (ranking, facets, a snapshot kept for later pages) per
    # client address; RATE_LIMITED beyond. Later pages (`after`) are not counted.
    rate_search_ip: RateText = Field(default="30/1", alias="GAVEL_RATE_SEARCH_IP")

    # --- Payment rate limits (services/limits.py; docs/security.md) -------------------
    # Per user: every mutation execution that calls the payment gateway (savePaymentMethod,
    # createSetupIntent, payTransaction) and each gateway read of a paymentClientSecret.
    rate_payment_user: RateText = Field(default="10/60", alias="GAVEL_RATE_PAYMENT_USER")
    # Per user, on top: attempts to save a card (savePaymentMethod, createSetupIntent). Kept
    # strict against card testing: a setup-intent-and-save flow costs two.
    rate_card_user: RateText = Field(default="10/3600", alias="GAVEL_RATE_CARD_USER")

    # --- Logs (adapters/logging_setup.py) -------------------------------------------
    # console: readable lines for a terminal; json: one JSON object per line. Every line
    # logged while serving a request carries its request_id (X-Request-ID).
    log_format: Annotated[Literal["console", "json"], BeforeValidator(_lower)] = Field(
        default="console", alias="GAVEL_LOG_FORMAT"
    )
    log_level: Annotated[
        Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], BeforeValidator(_upper)
    ] = Field(default="INFO", alias="GAVEL_LOG_LEVEL")

    # --- Dispute evidence URLs (adapters/signed_media.py; docs/security.md) ------------
    # Uploaded dispute evidence is served only at URLs signed with a key derived from
    # GAVEL_JWT_SECRET, each valid this many seconds from the read that returned it.
    evidence_url_ttl_seconds: int = Field(
        default=300, ge=1, le=86400, alias="GAVEL_EVIDENCE_URL_TTL_SECONDS"
    )

    # --- Settlement (services/settlement, docs/settlement.md) --------------------------
    # Every app process runs the settlement worker (start sales, lapse unpaid ones,
    # capture before authorizations expire, auto-release, resume interrupted steps)
    # every GAVEL_SETTLEMENT_INTERVAL seconds, unless switched off here.
    run_settlement: bool = Field(default=True, alias="GAVEL_RUN_SETTLEMENT")
    settlement_interval_seconds: float = Field(default=5.0, gt=0, alias="GAVEL_SETTLEMENT_INTERVAL")
    # A SOLD sale not paid within this lapses (an unpaid strike on the buyer).
    payment_window_seconds: int = Field(
        default=3 * 86400, ge=60, alias="GAVEL_PAYMENT_WINDOW_SECONDS"
    )
    # Escrow is released this long after shipment unless the buyer confirms or disputes.
    hold_window_seconds: int = Field(default=14 * 86400, ge=0, alias="GAVEL_HOLD_WINDOW_SECONDS")
    # The buyer may open a dispute this long after shipment (at any time before it).
    dispute_window_seconds: int = Field(
        default=14 * 86400, ge=0, alias="GAVEL_DISPUTE_WINDOW_SECONDS"
    )
    # How long a card authorization lasts when the gateway gives no capture_before, and
    # how long before that deadline the worker captures into the platform's balance.
    authorization_lifetime_seconds: int = Field(
        default=7 * 86400, ge=3600, alias="GAVEL_AUTHORIZATION_LIFETIME_SECONDS"
    )
    capture_margin_seconds: int = Field(
        default=12 * 3600, ge=0, alias="GAVEL_CAPTURE_MARGIN_SECONDS"
    )
    # Percentages (0-100, at most two decimals): the buyer's premium on top of the price,
    # the platform's fee out of the price. Both are platform revenue.
    buyer_premium_percent: Percent = Field(default=Decimal(0), alias="GAVEL_BUYER_PREMIUM_PERCENT")
    platform_fee_percent: Percent = Field(default=Decimal(5), alias="GAVEL_PLATFORM_FEE_PERCENT")
    # Reputation's prior: a new user counts as this many ratings of this mean.
    reputation_prior_mean: Decimal = Field(
        default=Decimal(4), ge=1, le=5, alias="GAVEL_REPUTATION_PRIOR_MEAN"
    )
    reputation_prior_weight: int = Field(default=5, ge=1, alias="GAVEL_REPUTATION_PRIOR_WEIGHT")

    # --- Settlement: shipping window (services/settlement/jobs.py) ---------------------
    # A paid sale the seller has not shipped this long after payment is refunded to the
    # buyer in full by the worker (unless a dispute is open); shipping is refused after.
    shipping_window_seconds: int = Field(
        default=7 * 86400, ge=3600, alias="GAVEL_SHIPPING_WINDOW_SECONDS"
    )

    # --- Notifications (services/notifications, docs/notifications.md) -----------------
    # Watchers and bidders are told once when an auction has at most this long left.
    ending_soon_seconds: int = Field(default=900, ge=60, alias="GAVEL_ENDING_SOON_SECONDS")
    # Every app process runs the ending-soon job and the email dispatch (safe side by
    # side) every GAVEL_NOTIFICATION_JOB_INTERVAL seconds, unless switched off here.
    run_notification_jobs: bool = Field(default=True, alias="GAVEL_RUN_NOTIFICATION_JOBS")
    notification_job_interval_seconds: float = Field(
        default=5.0, gt=0, le=300, alias="GAVEL_NOTIFICATION_JOB_INTERVAL"
    )
    # Each live myNotifications subscriber also re-reads this often, whatever wake-ups
    # PostgreSQL's NOTIFY delivered (the safety poll); and the LISTEN connection is
    # checked this often.
    notification_poll_seconds: float = Field(
        default=5.0, gt=0, le=300, alias="GAVEL_NOTIFICATION_POLL_SECONDS"
    )
    # Wait before reconnecting the LISTEN connection after it was lost.
    notification_reconnect_seconds: float = Field(
        default=1.0, gt=0, le=60, alias="GAVEL_NOTIFICATION_RECONNECT_SECONDS"
    )

    # --- Saved searches and the category feed (issue 16 E; docs/search.md) -----------
    # A user keeps at most this many saved searches (more: LIMIT_REACHED).
    saved_search_limit: int = Field(default=50, ge=1, le=1000, alias="GAVEL_SAVED_SEARCH_LIMIT")
    # Every app process runs the matcher (safe side by side) unless switched off; it
    # looks for newly published listings this often, at most this many at a time.
    saved_search_matcher: bool = Field(default=True, alias="GAVEL_SAVED_SEARCH_MATCHER")
    saved_search_interval_seconds: float = Field(
        default=1.0, gt=0, le=300, alias="GAVEL_SAVED_SEARCH_INTERVAL"
    )
    saved_search_batch: int = Field(default=200, ge=1, le=1000, alias="GAVEL_SAVED_SEARCH_BATCH")
    # Only without the indexer's queue (search_pending): how long after publishing a
    # listing is taken to be in the index.
    saved_search_index_delay_seconds: float = Field(
        default=2.0, ge=0, le=60, alias="GAVEL_SAVED_SEARCH_INDEX_DELAY"
    )
    # auctionFeed: events a subscriber may have waiting before it is cut off (SLOW_CONSUMER).
    auction_feed_queue: int = Field(default=100, ge=1, le=10_000, alias="GAVEL_AUCTION_FEED_QUEUE")

    # --- Fraud scoring (domain/fraud, services/fraud; docs/fraud.md) ------------------
    # Every app process runs the scorer (off the bid path): it reads newly persisted bids
    # every GAVEL_FRAUD_POLL_SECONDS and scores the bidders they touch.
    fraud_scorer: bool = Field(default=True, alias="GAVEL_FRAUD_SCORER")
    fraud_poll_seconds: float = Field(default=1.0, gt=0, alias="GAVEL_FRAUD_POLL_SECONDS")
    # Scores 0..100: a signal at the flag threshold opens a flag for the admin queue; an
    # account's combined score at the hold threshold puts it on FRAUD_HOLD.
    fraud_flag_threshold: int = Field(default=60, ge=1, le=100, alias="GAVEL_FRAUD_FLAG_THRESHOLD")
    fraud_hold_threshold: int = Field(default=70, ge=1, le=100, alias="GAVEL_FRAUD_HOLD_THRESHOLD")
    # A "new account" is younger than this; a "high-value bid" at least this many minor
    # units of the auction's currency.
    fraud_new_account_days: float = Field(default=7, ge=0, alias="GAVEL_FRAUD_NEW_ACCOUNT_DAYS")
    fraud_high_value_bid: int = Field(default=100_000, ge=1, alias="GAVEL_FRAUD_HIGH_VALUE_BID")
    # Bids by one account within any minute, across auctions, that count as a signal.
    fraud_velocity_per_minute: int = Field(
        default=30, ge=1, alias="GAVEL_FRAUD_VELOCITY_PER_MINUTE"
    )
    # Retractions / bids from which retracting counts as abuse (at least 2 retractions).
    fraud_retraction_ratio: float = Field(
        default=0.2, gt=0, le=1, alias="GAVEL_FRAUD_RETRACTION_RATIO"
    )
    # How far back a bidder's activity is read (auctions, bids, retractions).
    fraud_lookback_days: int = Field(default=30, ge=1, alias="GAVEL_FRAUD_LOOKBACK_DAYS")
    # Key of the HMAC that stores IP addresses and device fingerprints (never raw);
    # unset: derived from GAVEL_JWT_SECRET (set it to keep matches across JWT rotations).
    fraud_sighting_secret: SecretStr | None = Field(
        default=None, alias="GAVEL_FRAUD_SIGHTING_SECRET"
    )

    # --- Fraud: forged signals (fix F3; docs/fraud.md "Sightings") ---------------------
    # Distinct device fingerprints an account keeps per look-back window; a further one
    # is not stored and flags the account `fingerprint_spraying`.
    fraud_device_limit: int = Field(default=5, ge=1, alias="GAVEL_FRAUD_DEVICE_LIMIT")
    # A value (IP address, fingerprint) seen on more accounts than this links nobody.
    fraud_shared_value_accounts: int = Field(
        default=8, ge=1, alias="GAVEL_FRAUD_SHARED_VALUE_ACCOUNTS"
    )
    # A shared identity counts towards the total only beside a shill signal at least this.
    fraud_shill_corroboration: int = Field(
        default=60, ge=0, le=100, alias="GAVEL_FRAUD_SHILL_CORROBORATION"
    )
    # Flag-level shill signals on this many auctions of one seller combine (and can hold).
    fraud_repeat_auctions: int = Field(default=3, ge=2, alias="GAVEL_FRAUD_REPEAT_AUCTIONS")

    # --- Search: core (services/search/query.py; docs/search.md "Paging") ---------------
    # How long a search's ordered results stay pageable with its cursors, seconds.
    search_snapshot_ttl: int = Field(
        default=600, ge=10, le=86_400, alias="GAVEL_SEARCH_SNAPSHOT_TTL"
    )

    @property
    def fraud_policy(self) -> FraudPolicy:
        return FraudPolicy(
            flag_threshold=self.fraud_flag_threshold,
            hold_threshold=self.fraud_hold_threshold,
            new_account_age=timedelta(days=self.fraud_new_account_days),
            high_value_bid=self.fraud_high_value_bid,
            velocity_per_minute=self.fraud_velocity_per_minute,
            retraction_ratio=self.fraud_retraction_ratio,
            lookback=timedelta(days=self.fraud_lookback_days),
            device_limit=self.fraud_device_limit,
            shared_value_accounts=self.fraud_shared_value_accounts,
            shill_corroboration=self.fraud_shill_corroboration,
            repeat_auctions=self.fraud_repeat_auctions,
        )

    @property
    def settlement_policy(self) -> SettlementPolicy:
        return SettlementPolicy(
            payment_window=timedelta(seconds=self.payment_window_seconds),
            hold_window=timedelta(seconds=self.hold_window_seconds),
            dispute_window=timedelta(seconds=self.dispute_window_seconds),
            authorization_lifetime=timedelta(seconds=self.authorization_lifetime_seconds),
            capture_margin=timedelta(seconds=self.capture_margin_seconds),
            buyer_premium_bps=bps_from_percent(self.buyer_premium_percent, name="premium"),
            platform_fee_bps=bps_from_percent(self.platform_fee_percent, name="fee"),
            reputation_prior_mean=self.reputation_prior_mean,
            reputation_prior_weight=self.reputation_prior_weight,
            shipping_window=timedelta(seconds=self.shipping_window_seconds),
        )

    # --- Discovery: trending and recommendations (services/search/trending.py,
    # services/search/recommendations.py; docs/search.md "Trending") ------------------
    # A bid, a new watcher or a distinct view adds its weight to the auction's trending
    # score; every contribution halves each GAVEL_TRENDING_HALF_LIFE seconds.
    trending_half_life_seconds: float = Field(
        default=6 * 3600.0, gt=0, alias="GAVEL_TRENDING_HALF_LIFE"
    )
    trending_bid_weight: float = Field(default=5.0, ge=0, alias="GAVEL_TRENDING_BID_WEIGHT")
    trending_watch_weight: float = Field(default=3.0, ge=0, alias="GAVEL_TRENDING_WATCH_WEIGHT")
    trending_view_weight: float = Field(default=1.0, ge=0, alias="GAVEL_TRENDING_VIEW_WEIGHT")
    # One viewer's views of one auction count once within this many seconds.
    trending_view_dedupe_seconds: int = Field(
        default=1800, ge=1, alias="GAVEL_TRENDING_VIEW_DEDUPE_SECONDS"
    )
    # "Bidders on X also bid on Y" needs at least this many distinct co-bidders on Y.
    recommend_min_co_bidders: int = Field(default=1, ge=1, alias="GAVEL_RECOMMEND_MIN_CO_BIDDERS")

    @property
    def trending_policy(self) -> TrendingPolicy:
        return TrendingPolicy(
            half_life_seconds=self.trending_half_life_seconds,
            bid_weight=self.trending_bid_weight,
            watch_weight=self.trending_watch_weight,
            view_weight=self.trending_view_weight,
            view_dedupe_seconds=self.trending_view_dedupe_seconds,
        )

    # --- Payments: Stripe (adapters/stripe_gateway.py, adapters/stripe_webhook.py) -----
    # STRIPE_API_KEY / STRIPE_API_BASE (above) unset: the localstripe emulator that
    # `make run` and the tests start (devservers/localstripe.py) on 127.0.0.1, at
    # GAVEL_STRIPE_EMULATOR_PORT unless STRIPE_API_BASE names one. A key (sk_test_...,
    # sk_live_...) talks to Stripe itself. The webhook secret (whsec_...) verifies
    # POST /webhooks/stripe; unset, every webhook is refused. `make run` generates one for
    # the emulator; production refuses to start without a key and a secret of its own.
    stripe_webhook_secret: SecretStr | None = Field(default=None, alias="STRIPE_WEBHOOK_SECRET")
    # Oldest webhook signature accepted, seconds (Stripe's default: 300); older: 400.
    stripe_webhook_tolerance_seconds: int = Field(
        default=300, ge=1, alias="GAVEL_STRIPE_WEBHOOK_TOLERANCE_SECONDS"
    )
    stripe_timeout_seconds: float = Field(default=20.0, gt=0, alias="GAVEL_STRIPE_TIMEOUT_SECONDS")
    stripe_emulator_port: int = Field(default=8420, alias="GAVEL_STRIPE_EMULATOR_PORT")

    # --- Search: Meilisearch (adapters/search/meilisearch.py; docs/search.md "Meilisearch")
    # With MEILI_URL (or GAVEL_MEILI_URL) set, search runs on that server instead of the
    # embedded PostgreSQL backend. The API key is the server's master key or a key with
    # the search, documents, indexes, settings and tasks actions (never commit it).
    meili_api_key: SecretStr | None = Field(default=None, alias="MEILI_API_KEY")
    # The live index's name; a reindex builds `<name>_build_<n>` beside it, then swaps.
    meili_index: str = Field(
        default="auctions", pattern=r"^[A-Za-z0-9_-]{1,200}$", alias="GAVEL_MEILI_INDEX"
    )
    # One HTTP request to Meilisearch, whole seconds (the client's unit); past it, or with
    # the server unreachable, search answers UNAVAILABLE.
    meili_timeout_seconds: int = Field(default=5, ge=1, le=300, alias="GAVEL_MEILI_TIMEOUT")
    # How long a write (documents, settings, swap) may take to be applied before it counts
    # as failed: writes return only once searches see them.
    meili_task_timeout_seconds: float = Field(
        default=30.0, gt=0, le=3600, alias="GAVEL_MEILI_TASK_TIMEOUT"
    )

    # --- Search freshness: the indexer (services/search/indexer.py; docs/search.md) -----
    # Every app process runs one: it wakes on PostgreSQL's NOTIFY from the change-capture
    # triggers, waits GAVEL_SEARCH_INDEX_COLLECT_MS so a burst becomes one batch, and
    # indexes up to GAVEL_SEARCH_INDEX_BATCH queued auctions per transaction; it also
    # looks every GAVEL_SEARCH_INDEX_POLL_MS (the safety poll, for a lost wake-up).
    search_indexer: bool = Field(default=True, alias="GAVEL_SEARCH_INDEXER")
    # A batch's documents are built and written on the app's event loop: a smaller batch
    # keeps a backlog's passes from stalling requests for long (docs/performance.md).
    search_index_batch: int = Field(default=200, ge=1, le=10_000, alias="GAVEL_SEARCH_INDEX_BATCH")
    search_index_poll_ms: int = Field(
        default=500, ge=10, le=60_000, alias="GAVEL_SEARCH_INDEX_POLL_MS"
    )
    search_index_collect_ms: int = Field(
        default=10, ge=0, le=1_000, alias="GAVEL_SEARCH_INDEX_COLLECT_MS"
    )

    # Admin and seller app (issue 17, admin_ui/): whether this process serves /admin.
    # NiceGUI keeps each open page's state in the process that rendered it, so a load
    # balancer sends a browser's /admin traffic to one process (docs/admin-app.md).
    admin_ui: bool = Field(default=True, alias="GAVEL_ADMIN_UI")
    # A page's live figures refresh this often (seconds); the bid chart and tickers are
    # pushed by the event bus as bids are persisted, not polled.
    admin_refresh_seconds: float = Field(
        default=2.0, ge=0.2, le=60.0, alias="GAVEL_ADMIN_REFRESH_SECONDS"
    )

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def graphql_introspection(self) -> bool:
        """Schema introspection: on unless production (GAVEL_GRAPHQL_INTROSPECTION wins)."""
        override = self.introspection_override
        return not self.production if override is None else override

    @property
    def graphql_suggestions(self) -> bool:
        """ "Did you mean ...?" hints in GraphQL errors, which spell out the schema: on
        unless production (GAVEL_GRAPHQL_SUGGESTIONS wins)."""
        override = self.suggestions_override
        return not self.production if override is None else override

    @property
    def graphiql(self) -> bool:
        """The GraphiQL page at GET /graphql: never in production."""
        return not self.production

    @property
    def require_verified_email(self) -> bool:
        """Bidding needs a verified email: in production (GAVEL_REQUIRE_VERIFIED_EMAIL
        wins)."""
        override = self.verified_email_override
        return self.production if override is None else override

    @property
    def allowed_origins(self) -> list[str]:
        return [o.strip() for o in self.allowed_origins_text.split(",") if o.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


MIN_SECRET_LENGTH = 32
MIN_SECRET_DISTINCT_CHARS = 10
# Files the dev runner (`make run`) writes a generated secret to, under GAVEL_DATA_DIR.
DEV_SECRET_FILES = {
    "GAVEL_JWT_SECRET": "jwt-secret",
    "GAVEL_ADMIN_STORAGE_SECRET": "admin-storage-secret",
    "STRIPE_WEBHOOK_SECRET": "stripe-webhook-secret",
}


class ProductionConfigError(RuntimeError):
    """Raised by the composition root when GAVEL_ENV=production is not safe to serve."""


def _secret_problem(name: str, value: SecretStr | None, data_dir: Path) -> str | None:
    secret = value.get_secret_value().strip() if value is not None else ""
    if not secret:
        return f"{name} is not set (a random per-process secret is for development only)"
    if len(secret) < MIN_SECRET_LENGTH or len(set(secret)) < MIN_SECRET_DISTINCT_CHARS:
        return f"{name} is too weak: use at least {MIN_SECRET_LENGTH} random characters"
    if "change_me" in secret.lower():
        return f"{name} is still the .env.example placeholder"
    generated = data_dir / DEV_SECRET_FILES[name]
    try:
        if generated.is_file() and generated.read_text().strip() == secret:
            return f"{name} is the one `make run` generated in {generated}"
    except OSError:
        pass
    return None


def production_problems(settings: Settings) -> list[str]:
    """Why `settings` must not serve production; empty when they may (or when not
    production). Secrets must be set by the operator: not empty, not short or repetitive,
    not a placeholder, not generated by the dev runner; DATABASE_URL and REDIS_URL must
    name real servers."""
    if not settings.production:
        return []
    problems = [
        problem
        for name, value in (
            ("GAVEL_JWT_SECRET", settings.jwt_secret),
            ("GAVEL_ADMIN_STORAGE_SECRET", settings.admin_storage_secret),
            ("STRIPE_WEBHOOK_SECRET", settings.stripe_webhook_secret),
        )
        if (problem := _secret_problem(name, value, settings.data_dir)) is not None
    ]
    if not settings.database_url:
        problems.append("DATABASE_URL is not set")
    if not settings.redis_url:
        problems.append("REDIS_URL is not set")
    if settings.stripe_api_key is None or not settings.stripe_api_key.get_secret_value():
        problems.append("STRIPE_API_KEY is not set (the Stripe emulator is for development)")
    if settings.meili_url and (problem := _meili_key_problem(settings.meili_api_key)):
        problems.append(problem)
    return problems


def _meili_key_problem(key: SecretStr | None) -> str | None:
    """A Meilisearch server in production runs with a master key (16 bytes at least), so
    search without one only fails later, on every call."""
    value = key.get_secret_value().strip() if key is not None else ""
    if not value:
        return "MEILI_API_KEY is not set while MEILI_URL is"
    if "change_me" in value.lower():
        return "MEILI_API_KEY is still the .env.example placeholder"
    return None
