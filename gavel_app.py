"""The composition root: settings in, one ASGI app out. Tests build the same app."""

from __future__ import annotations

import asyncio
import gc
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from fastapi import FastAPI
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute

from adapters.body_limit import BodyLimit
from adapters.client_address import address_in, client_ip, parse_networks
from adapters.csrf import CsrfGuard
from adapters.images import ImageStore, ImageWork
from adapters.json_errors import PlainErrorsAsJson, graphql_http_error
from adapters.logging_setup import configure_logging
from adapters.mailer import LogMailer
from adapters.media import MediaFiles
from adapters.metrics import (
    CONTENT_TYPE,
    SSE_STREAMS_OPEN,
    WEBSOCKETS_OPEN,
    Reading,
    exposition,
)
from adapters.passwords import PasswordHasher
from adapters.rate_limits import Rate, RedisBuckets
from adapters.request_id import RequestIdMiddleware
from adapters.search.choice import open_search_index
from adapters.security_headers import SecurityHeaders
from adapters.shutdown import GracefulShutdown
from adapters.signed_media import SignedMedia
from adapters.stripe_gateway import build_gateway
from adapters.stripe_webhook import stripe_webhook_endpoint
from adapters.tokens import TokenService
from adapters.trending_redis import RedisTrending
from adapters.verify_email_page import VerifyEmailPage
from adapters.ws_limits import LiveConnections, WebSocketConnectionLimit
from admin_ui.context import AdminContext
from admin_ui.mount import mount_admin
from background_loops import BackgroundLoops
from domain.listing import ListingPolicy
from domain.payments import PaymentGateway
from realtime.account_states import AccountStates
from realtime.activity_pulse import ActivityPulse
from realtime.auction_feed import AuctionFeed
from realtime.broadcast import BoundedBroadcast, RedisPubSubBackend
from realtime.events import Bus
from realtime.lag import closer_lag, outbox_lag
from realtime.notification_feed import NotificationFeed, plain_dsn
from realtime.persister import Persister
from realtime.scheduler import Scheduler
from realtime.slots import AuctionSlots
from realtime.stream import EventSource
from schema.app import GavelGraphQL
from schema.build import build_bid_compiler, build_schema
from schema.graphiql import STATIC_PATH as GRAPHIQL_STATIC
from schema.graphiql import asset as graphiql_asset
from schema.live_delivery import LiveDelivery
from schema.outage import OutageGuard
from services import catalog
from services.deps import Deps, Outbox
from services.fraud.scorer import FraudScorer
from services.fraud.sightings import sighting_key
from services.limits import Rates, Throttle
from services.notifications.email import EmailDispatch
from services.notifications.ending_soon import EndingSoonJob
from services.search.indexer import SearchIndexer
from services.search.port import SearchIndex
from services.search.saved_search_matcher import SavedSearchMatcher
from services.search.trending import ActivityRecorder
from services.settlement import apply_gateway_event
from services.settlement.worker import SettlementWorker
from services.unavailable import Unavailable
from settings import ProductionConfigError, Settings, get_settings, production_problems
from storage.db import make_engine, make_session_factory
from storage.uow import UnitOfWorkFactory

log = logging.getLogger("gavel")


def build_deps(
    settings: Settings,
    sessions: UnitOfWorkFactory,
    slots: AuctionSlots,
    *,
    bus: Bus | None = None,
    outbox: Outbox | None = None,
    throttle: Throttle | None = None,
    payments: PaymentGateway | None = None,
    fast_hash: bool = False,
) -> Deps:
    """The use cases' dependencies; `bus` and `outbox` are the live ports (services/deps.py),
    `throttle` the rate limits (none when None)."""
    secret = (
        settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
    ) or secrets.token_urlsafe(48)
    if settings.jwt_secret is None:
        log.warning("GAVEL_JWT_SECRET is not set: using a random one; tokens die on restart")
    media = settings.data_dir / "media"
    return Deps(
        uow=sessions,
        hasher=PasswordHasher(fast=fast_hash, threads=settings.password_hash_threads),
        tokens=TokenService(
            secret,
            access_ttl=timedelta(seconds=settings.access_token_ttl_seconds),
            email_ttl=timedelta(seconds=settings.email_token_ttl_seconds),
        ),
        mailer=LogMailer(),
        images=ImageStore(
            media, work=ImageWork(settings.image_workers, settings.image_wait_seconds)
        ),
        listing_policy=ListingPolicy(
            min_duration=timedelta(seconds=settings.min_auction_duration_seconds),
            max_duration=timedelta(days=settings.max_auction_duration_days),
        ),
        refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_seconds),
        slots=slots,
        bus=bus,
        outbox=outbox,
        private_media=SignedMedia(media, secret, settings.evidence_url_ttl_seconds),
        throttle=throttle or Throttle(),
        payments=payments,
        settlement_policy=settings.settlement_policy,
        password_reset_ttl=timedelta(seconds=settings.password_reset_ttl_seconds),
        # At least an access token's life: a token still valid finds its account's state.
        account_states=AccountStates(
            slots.redis,
            ttl_seconds=max(
                settings.account_state_ttl_seconds, settings.access_token_ttl_seconds + 60
            ),
        ),
        require_verified_email=settings.require_verified_email,
        public_base_url=f"http://{settings.host}:{settings.port}",
        media_dir=media,
        trusted_proxies=parse_networks(settings.trusted_proxies),
        sighting_key=sighting_key(
            settings.fraud_sighting_secret.get_secret_value()
            if settings.fraud_sighting_secret
            else secret
        ),
        fraud_policy=settings.fraud_policy,
    )


def rates(settings: Settings) -> Rates:
    """The rate limits' settings (services/limits.py)."""
    return Rates(
        bid_user=Rate.parse(settings.rate_bid_user),
        bid_user_auction=Rate.parse(settings.rate_bid_user_auction),
        bid_ip=Rate.parse(settings.rate_bid_ip),
        login_account=Rate.parse(settings.rate_login_account),
        login_account_all=Rate.parse(settings.rate_login_account_all),
        login_ip=Rate.parse(settings.rate_login_ip),
        login_backoff_max=settings.rate_login_backoff_max,
        register_ip=Rate.parse(settings.rate_register_ip),
        ws_connections_ip=settings.rate_ws_connections_ip,
        ws_subscribe=Rate.parse(settings.rate_ws_subscribe),
        listing_user=Rate.parse(settings.rate_listing_user),
        payment_user=Rate.parse(settings.rate_payment_user),
        card_user=Rate.parse(settings.rate_card_user),
        password_reset_email=Rate.parse(settings.rate_password_reset_email),
        password_reset_ip=Rate.parse(settings.rate_password_reset_ip),
        search_ip=Rate.parse(settings.rate_search_ip),
    )


def connect_redis(settings: Settings) -> aioredis.Redis | RedisCluster:
    """The Redis client every part of the app shares: one node, or a Redis Cluster.

    Connections are checked before use: the pool drops one the server closed (restart,
    CLIENT KILL) when it hands it out, a PING precedes reusing one idle for
    `redis_health_check_seconds`, and TCP keepalive finds peers that vanished without a
    word. Commands are never re-sent by redis-py (`Retry(NoBackoff(), 0)`): the reply, not
    the request, may be what was lost, and a bid script run twice tells an accepted bidder
    BID_TOO_LOW. The bid path retries on its own, with a request key that makes the
    script apply a bid at most once (realtime/slots.py); anything else that fails
    reaches the client as UNAVAILABLE (services/unavailable.py).
    """
    url = settings.redis_url or ""
    options: dict[str, Any] = {
        "decode_responses": True,
        "health_check_interval": settings.redis_health_check_seconds,
        "socket_keepalive": True,
        "retry": Retry(NoBackoff(), 0),
    }
    if settings.redis_cluster:
        # redis-py's cluster client also re-sends after a connection error (10 times by
        # default); with no retries the error reaches the caller and the next command
        # reloads the cluster's topology.
        return RedisCluster.from_url(url, **options)
    return aioredis.from_url(url, **options)


def node_url(url: str, host: str, port: int | str) -> str:
    """`url` (scheme, credentials, options) pointed at another node."""
    parts = urlsplit(url)
    credentials, _, _ = parts.netloc.rpartition("@")
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=f"{credentials}@{address}" if credentials else address))


async def lag_readings(redis: Any, settings: Settings) -> list[Reading]:
    """The scrape-time gauges (realtime/lag.py): read within the scrape timeout, else
    left out, with `gavel_lag_scrape_success` 0 (a scrape must not hang on Redis)."""
    now_ms = int(time.time() * 1000)
    try:
        async with asyncio.timeout(settings.metrics_scrape_timeout_seconds):
            outbox = await outbox_lag(
                redis, now_ms=now_ms, limit=settings.metrics_outbox_scan_limit
            )
            closer = await closer_lag(redis, now_ms=now_ms)
    except Exception as err:  # a failed read is a missing series, never a failed scrape
        log.warning("metrics: the lag read failed: %r", err)
        return [Reading("gavel_lag_scrape_success", "1 if the lag read from Redis worked.", 0)]
    return [
        Reading("gavel_lag_scrape_success", "1 if the lag read from Redis worked.", 1),
        Reading(
            "gavel_outbox_pending_events",
            "Events in live auctions' outbox streams not yet persisted to PostgreSQL.",
            outbox.pending,
        ),
        Reading(
            "gavel_outbox_oldest_pending_seconds",
            "Age of the oldest event not yet persisted (0 when none).",
            outbox.oldest_seconds,
        ),
        Reading(
            "gavel_outbox_auctions_read",
            "Live auctions whose outbox this scrape read (GAVEL_METRICS_OUTBOX_SCAN_LIMIT).",
            outbox.auctions,
        ),
        Reading(
            "gavel_closer_overdue_auctions",
            "Auctions on the closer's agenda past their end.",
            closer.overdue,
        ),
        Reading(
            "gavel_closer_lag_seconds",
            "How long past its end the oldest auction the closer has not ended is (0: none).",
            closer.seconds,
        ),
    ]


def admin_storage_secret(settings: Settings) -> str:
    """GAVEL_ADMIN_STORAGE_SECRET, or a random one (admin sessions end on restart)."""
    if settings.admin_storage_secret is not None:
        return settings.admin_storage_secret.get_secret_value()
    log.warning("GAVEL_ADMIN_STORAGE_SECRET is not set: admin sessions end on restart")
    return secrets.token_urlsafe(48)


def open_live_connections() -> int:
    """This process's open WebSockets and event streams (the /metrics gauges)."""
    return int(WEBSOCKETS_OPEN._value.get() + SSE_STREAMS_OPEN._value.get())


def create_app(settings: Settings | None = None, *, fast_hash: bool = False) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_format)
    if problems := production_problems(settings):
        raise ProductionConfigError("GAVEL_ENV=production refuses to start: " + "; ".join(problems))
    if not settings.database_url or not settings.redis_url:
        raise RuntimeError(
            "DATABASE_URL and REDIS_URL must be set; `make run` starts embedded servers for you"
        )
    engine = make_engine(settings.database_url)
    redis = connect_redis(settings)
    slots = AuctionSlots(redis)
    sessions = UnitOfWorkFactory(make_session_factory(engine))
    bus = BoundedBroadcast(settings.redis_url)
    persister = Persister(redis, slots, sessions)
    # Stripe, or the emulator when no key is set (adapters/stripe_gateway.py).
    payments = build_gateway(settings)
    deps = build_deps(
        settings,
        sessions,
        slots,
        bus=bus,
        outbox=persister,
        throttle=Throttle(RedisBuckets(redis), rates(settings)) if settings.rate_limits else None,
        payments=payments,
        fast_hash=fast_hash,
    )
    # Discovery (issue 16): trending activity, bids recorded once the persister committed.
    deps.activity = ActivityRecorder(RedisTrending(redis, settings.trending_policy), deps)
    deps.recommend_min_co_bidders = settings.recommend_min_co_bidders
    persister.after_commit.append(deps.activity.persisted)
    # The admin overview's live bids per minute: one bus message per persister commit.
    persister.after_commit.append(ActivityPulse(bus).persisted)
    scheduler = Scheduler(sessions, slots, persister, bus, clock=deps.clock)
    # Subscriptions: one live feed per auction, shared by its subscribers (realtime/feed.py).
    live = LiveDelivery(EventSource(slots=slots, uow=sessions, bus=bus))
    settlement_worker = SettlementWorker(deps, interval=settings.settlement_interval_seconds)
    # Notifications: live wake-ups (LISTEN), the ending-soon job and email dispatch.
    deps.notifications = notification_feed = NotificationFeed(
        plain_dsn(settings.database_url),
        poll_seconds=settings.notification_poll_seconds,
        reconnect_seconds=settings.notification_reconnect_seconds,
    )
    notification_jobs: list[EndingSoonJob | EmailDispatch] = [
        EndingSoonJob(
            deps,
            lead=timedelta(seconds=settings.ending_soon_seconds),
            interval=settings.notification_job_interval_seconds,
        ),
        EmailDispatch(deps, interval=settings.notification_job_interval_seconds),
    ]
    # Search (issue 16): PostgreSQL's full-text index unless MEILI_URL names Meilisearch
    # (adapters/search/meilisearch.py; docs/search.md "Meilisearch").
    search_index: SearchIndex = open_search_index(settings, engine)
    deps.search = search_index
    deps.search_snapshot_seconds = settings.search_snapshot_ttl
    # Saved searches and the category feed (issue 16 E; docs/search.md): the matcher
    # of new listings, and one LISTEN connection feeding auctionFeed's subscribers.
    deps.saved_search_limit = settings.saved_search_limit
    deps.auction_feed = auction_feed = AuctionFeed(
        plain_dsn(settings.database_url),
        partial(catalog.get_auction, deps, None),
        queue_size=settings.auction_feed_queue,
        reconnect_seconds=settings.notification_reconnect_seconds,
    )
    saved_search_matcher = SavedSearchMatcher(
        deps,
        interval=settings.saved_search_interval_seconds,
        batch=settings.saved_search_batch,
        index_delay=settings.saved_search_index_delay_seconds,
    )
    # Fraud scoring reads persisted bids, never the bid path (services/fraud/scorer.py).
    fraud_scorer = FraudScorer(deps, settings.fraud_policy, interval=settings.fraud_poll_seconds)
    deps.media_dir.mkdir(parents=True, exist_ok=True)
    schema = build_schema(
        max_depth=settings.graphql_max_depth,
        max_tokens=settings.graphql_max_tokens,
        max_aliases=settings.graphql_max_aliases,
        introspection=settings.graphql_introspection,
        max_fields=settings.graphql_max_fields,
        suggestions=settings.graphql_suggestions,
    )
    compiler = (
        build_bid_compiler(
            schema,
            max_depth=settings.graphql_max_depth,
            max_tokens=settings.graphql_max_tokens,
            max_aliases=settings.graphql_max_aliases,
            max_fields=settings.graphql_max_fields,
        )
        if settings.compiled_bids
        else None
    )
    # WebSockets and event streams of one address share its places (adapters/ws_limits.py).
    live_connections = (
        LiveConnections(settings.rate_ws_connections_ip) if settings.rate_limits else None
    )
    graphql = GavelGraphQL(
        schema,
        deps,
        live=live,
        max_page=settings.max_page_size,
        compiler=compiler,
        live_connections=live_connections,
        graphql_ide="graphiql" if settings.graphiql else None,
        # Pages of other origins may not open a WebSocket (strawberry answers 403).
        # Sockets authenticate with a bearer token in connection_init, never a cookie,
        # so a foreign page could only act anonymously anyway.
        allowed_origins=settings.allowed_origins,
    )
    loops = BackgroundLoops()
    loops.add("persister", persister.run, persister.stop)
    if settings.run_scheduler:
        loops.add("scheduler", scheduler.run, scheduler.stopping.set)
    if settings.run_settlement:
        loops.add("settlement", settlement_worker.run, settlement_worker.stopping.set)
    loops.add("notification-feed", notification_feed.run, notification_feed.stop)
    if settings.run_notification_jobs:
        for job in notification_jobs:
            loops.add(type(job).__name__, job.run, job.stopping.set)
    if settings.fraud_scorer:
        loops.add("fraud-scorer", fraud_scorer.run, fraud_scorer.stopping.set)
    loops.add("auction-feed", auction_feed.run, auction_feed.stop)
    if settings.saved_search_matcher:
        loops.add(
            "saved-search-matcher", saved_search_matcher.run, saved_search_matcher.stopping.set
        )
    # Discovery: trending rebuilt from PostgreSQL once, when Redis holds no score.
    loops.add("trending-warm-start", deps.activity.warm_start_once, lambda: None)
    # Search freshness: the indexer follows PostgreSQL's change capture, off the bid path
    # (services/search/indexer.py); without an index there is nothing to keep fresh.
    search_indexer: SearchIndexer | None = None
    if deps.search is not None and settings.search_indexer:
        search_indexer = SearchIndexer(
            sessions,
            deps.search,
            plain_dsn(settings.database_url),
            clock=deps.clock,
            batch=settings.search_index_batch,
            poll_seconds=settings.search_index_poll_ms / 1000,
            collect_seconds=settings.search_index_collect_ms / 1000,
        )
        loops.add("search-indexer", search_indexer.run, search_indexer.stop)
    media = MediaFiles(deps.media_dir)
    shutdown = GracefulShutdown(delay=settings.shutdown_delay_seconds)
    shutdown.on_stop(live.close)
    shutdown.on_stop(notification_feed.close)
    shutdown.on_stop(auction_feed.close)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Start-up objects (modules, schema, settings) live forever: freezing them keeps
        # every later full collection from walking them again; fewer, larger young
        # collections cut GC pauses under many live connections (docs/performance.md).
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        if isinstance(redis, RedisCluster):
            # Learn the topology now: a wrong node or a non-cluster server fails start-up.
            await redis.initialize()
            if isinstance(bus.backend, RedisPubSubBackend):
                # Every node serves the bus; losing the one in REDIS_URL must not stop it.
                bus.backend.add_fallbacks(
                    [node_url(settings.redis_url or "", n.host, n.port) for n in redis.get_nodes()]
                )
        await bus.connect()
        # Creates the index and applies its settings from code (idempotent).
        try:
            await search_index.prepare()
        except Unavailable:
            # Search being down must not keep auctions from running: searches answer
            # UNAVAILABLE until it is back, and the index prepares itself then.
            log.warning("search (%s) is unavailable at start-up", search_index.name)
        loops.start()
        try:
            with shutdown.signals():  # SIGTERM/SIGINT: unready, then streams end
                yield
        finally:
            # uvicorn comes here once the requests in flight are answered (or cut off
            # after GAVEL_SHUTDOWN_TIMEOUT): no new event can be appended by a request.
            await shutdown.stop()
            # The loops finish their pass (a persister pass cancelled midway would leave
            # entries read and unacknowledged); cancelled only when stuck.
            await loops.stop()
            try:
                # The final drain: every acknowledged bid (and closing event) to PostgreSQL.
                written = await asyncio.wait_for(
                    persister.flush(), timeout=settings.shutdown_timeout_seconds
                )
                log.info("final drain: %d events written to PostgreSQL", written)
            except Exception:
                # Not lost: the outbox keeps them; the next process to start writes them.
                log.exception("final drain failed; events stay in the Redis outbox")
            await bus.disconnect()
            await payments.aclose()
            await search_index.close()
            await redis.aclose()
            await engine.dispose()
            deps.hasher.close()

    async def healthz(_: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    async def readyz(_: Request) -> JSONResponse:
        if shutdown.draining:  # a load balancer sends no new clients to a stopping process
            return JSONResponse({"ready": False, "status": "draining"}, status_code=503)
        checks: dict[str, str] = {}
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["postgres"] = "ok"
        except Exception as err:  # readiness reports any failure, it never raises
            checks["postgres"] = f"error: {type(err).__name__}"
        try:
            if isinstance(redis, RedisCluster):
                # A bare PING reaches one node; every master holds a share of the auctions.
                await redis.ping(target_nodes=RedisCluster.PRIMARIES)
            else:
                await redis.ping()
            checks["redis"] = "ok"
        except Exception as err:
            checks["redis"] = f"error: {type(err).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)

    scrapers = parse_networks(settings.metrics_allowed_networks)

    async def metrics(request: Request) -> Response:
        # Refused as if absent: a stranger learns nothing, not even that it exists.
        address = client_ip(request.scope, deps.trusted_proxies)
        if not settings.metrics_enabled or not address_in(address, scrapers):
            return PlainTextResponse("Not Found", status_code=404)
        body = exposition(await lag_readings(redis, settings))
        return Response(body, media_type=CONTENT_TYPE)

    async def admin_elsewhere(_: Request) -> PlainTextResponse:
        # GAVEL_ADMIN_UI=false: the load balancer routes /admin to admin processes.
        return PlainTextResponse("The admin app is not served by this process.", status_code=404)

    app = FastAPI(
        title="Gavel",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        routes=[
            Route("/graphql", OutageGuard(graphql), methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            *([] if settings.admin_ui else [Route("/admin{rest:path}", admin_elsewhere)]),
            # Before /media/{key:path}, which never serves evidence/ anyway.
            Route("/media/evidence/{name}", deps.private_media.serve, methods=["GET", "HEAD"]),
            Route("/media/{key:path}", media.serve, methods=["GET", "HEAD"]),
            *VerifyEmailPage(deps).routes(),
            Route(
                "/webhooks/stripe",
                stripe_webhook_endpoint(payments, partial(apply_gateway_event, deps)),
                methods=["POST"],
            ),
        ],
    )
    if settings.graphiql:
        # GraphiQL's scripts and styles, served here so the page works offline.
        app.add_route(GRAPHIQL_STATIC + "/{name}", graphiql_asset, methods=["GET", "HEAD"])
    # Outermost last: headers go on every answer, refusals included.
    app.add_middleware(PlainErrorsAsJson, paths=("/graphql",))
    app.add_exception_handler(StarletteHTTPException, graphql_http_error)
    app.add_middleware(CsrfGuard, paths=("/graphql",))
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(SecurityHeaders)
    if live_connections is not None:
        app.add_middleware(
            WebSocketConnectionLimit, connections=live_connections, proxies=deps.trusted_proxies
        )
    # Outermost of all: every answer and every line logged for it carries the request id.
    app.add_middleware(RequestIdMiddleware)
    if settings.admin_ui:
        # The admin and seller app (admin_ui/, docs/admin-app.md), on the same use cases.
        mount_admin(
            app,
            AdminContext(
                deps=deps,
                redis=redis,
                bus=bus,
                engine=engine,
                refresh_seconds=settings.admin_refresh_seconds,
                lag_readings=partial(lag_readings, redis, settings),
                open_sockets=open_live_connections,
                stripe_mode=payments.mode,
            ),
            storage_secret=admin_storage_secret(settings),
            session_ttl=settings.refresh_token_ttl_seconds,
            secure_cookie=settings.production,
        )
    app.state.deps = deps
    app.state.engine = engine
    app.state.redis = redis
    app.state.slots = slots
    app.state.persister = persister
    app.state.scheduler = scheduler
    app.state.settlement_worker = settlement_worker
    app.state.notification_jobs = notification_jobs
    app.state.fraud_scorer = fraud_scorer
    app.state.search_indexer = search_indexer
    app.state.bus = bus
    app.state.payments = payments
    app.state.graphql = graphql
    app.state.shutdown = shutdown
    return app
