"""The search indexer: keeps the index (services/search/port.py) within a second of
PostgreSQL, off the bid path.

Change capture is in PostgreSQL itself (migration 0011, storage/search_queue_tables.py):
statement-level triggers on `auctions` (insert, delete, any update that changes the row)
and `items` (title, description, category, condition) queue the auction's id in
`search_pending` and `pg_notify('gavel_search', '')` in the writer's transaction. So
every writer is caught in one place: the persister applying the engine's events (bids,
extensions, Dutch price steps, ends, voids), listing create/update/publish/cancel, the
scheduler and closer, seeds, the corpus loader. The bid path itself writes Redis only
(the persister writes PostgreSQL afterwards, in batches), so nothing here runs on it.

Every app process runs one `SearchIndexer` (several side by side share the queue). It
wakes on the NOTIFY (one LISTEN connection, reconnected when lost) and every
`poll_seconds` as a safety poll, waits `collect_seconds` so a burst becomes one batch,
then runs `index_pending` passes until the queue is drained. A pass, in one
transaction: claims up to `batch` ids (oldest first, `FOR UPDATE SKIP LOCKED`, deleted
from the queue), loads their documents (services/search/documents.py), upserts them
(deletes drafts and vanished auctions) in the index, then commits. A crash or an index
outage before the commit leaves them queued: at least once, and idempotent, since a
document is rebuilt whole from the source of record. The trigger keeps an auction's
queued row locked until its writer commits, and passes skip locked rows, so no pass
reads an auction before a queued change to it is committed; a writer changing an
auction whose id a pass holds waits for that pass's commit before queueing it again, so
a later pass never writes an older document over a newer one.

Lag (`gavel_search_index_lag_seconds`): from the queueing (the trigger's clock) to the
document written, measured on PostgreSQL's clock at the claim plus the local time the
pass took since.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text

from adapters import metrics
from realtime.background import StopSignal, cancelling
from realtime.pg_listen import Listener
from services.search.documents import load_documents
from services.search.port import SearchIndex
from storage.search_queue_tables import SEARCH_CHANNEL
from storage.uow import UnitOfWorkFactory

log = logging.getLogger("gavel.search")

_CLAIM = text(
    """
    DELETE FROM search_pending WHERE auction_id IN (
        SELECT auction_id FROM search_pending ORDER BY queued_at
        LIMIT :batch FOR UPDATE SKIP LOCKED)
    RETURNING auction_id, queued_at, clock_timestamp() AS claimed_at
    """
)

# Every auction the index should hold, queued again (an empty index at start-up: a new
# Meilisearch server, a wiped index table); ids already queued stay as they are.
_QUEUE_ALL = text(
    """
    INSERT INTO search_pending (auction_id, queued_at)
    SELECT id, clock_timestamp() FROM auctions WHERE status <> 'DRAFT'
    ON CONFLICT (auction_id) DO NOTHING
    """
)


@dataclass(slots=True)
class Pass:
    """What one pass did: auctions written, and each one's lag in seconds."""

    upserted: int = 0
    deleted: int = 0
    lags: list[float] = field(default_factory=list)

    @property
    def claimed(self) -> int:
        return self.upserted + self.deleted


async def index_pending(
    uow: UnitOfWorkFactory,
    index: SearchIndex,
    *,
    batch: int = 200,
    clock: Callable[[], datetime],
) -> Pass:
    """One pass (see the module docstring): claims up to `batch` queued auctions and
    writes their documents; returns what it did. Raises what the index or PostgreSQL
    raised (the claimed auctions then stay queued)."""
    done = Pass()
    async with uow() as work:
        conn = await work.session.connection()
        claimed = (await conn.execute(_CLAIM, {"batch": batch})).all()
        if not claimed:
            return done
        started = time.monotonic()
        ids = [row.auction_id for row in claimed]
        documents, missing = await load_documents(work.session, ids, clock())
        if documents:
            await index.upsert(documents)
        if missing:
            await index.delete(missing)
        await work.commit()
    spent = time.monotonic() - started
    done.upserted, done.deleted = len(documents), len(missing)
    done.lags = [(row.claimed_at - row.queued_at).total_seconds() + spent for row in claimed]
    for lag in done.lags:
        metrics.SEARCH_INDEX_LAG.observe(lag)
    metrics.SEARCH_INDEXED.inc(done.claimed)
    return done


async def queue_all(uow: UnitOfWorkFactory) -> None:
    """Queue every auction the index should hold (at most once each)."""
    async with uow() as work:
        conn = await work.session.connection()
        await conn.execute(_QUEUE_ALL)
        await conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": SEARCH_CHANNEL})
        await work.commit()


class SearchIndexer:
    """The loop every app process runs (gavel_app.py); `run` until `stop`."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        index: SearchIndex,
        dsn: str,
        *,
        clock: Callable[[], datetime],
        batch: int = 200,
        poll_seconds: float = 0.5,
        collect_seconds: float = 0.01,
        reconnect_seconds: float = 1.0,
    ) -> None:
        self.uow = uow
        self.index = index
        self.dsn = dsn
        self.clock = clock
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.collect_seconds = collect_seconds
        self.reconnect_seconds = reconnect_seconds
        self.stopping = StopSignal()
        self._wake = asyncio.Event()
        # Every (re)connection wakes the worker for what was queued while no one listened.
        self._listener = Listener(
            dsn,
            SEARCH_CHANNEL,
            self._notified,
            stopping=self.stopping,
            application_name="gavel-search-indexer",
            log=log,
            connected=self._wake.set,
            reconnect_seconds=reconnect_seconds,
        )
        self.listening = self._listener.listening  # set while the LISTEN connection is up

    def stop(self) -> None:
        self.stopping.set()
        self._wake.set()

    async def run(self) -> None:
        listener = asyncio.create_task(self._listener.run(), name="search-indexer-listen")
        try:
            await self._start()
            await self._work()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _start(self) -> None:
        """An empty index (a fresh engine, a wiped index) gets every auction queued: a
        fresh demo is searchable without a manual step, whatever wrote its rows."""
        while not self.stopping.is_set:
            try:
                await self.index.prepare()
                if await self.index.count() == 0:
                    await queue_all(self.uow)
                return
            except Exception as err:
                if cancelling():
                    raise
                log.warning("search index not ready (%r); retrying", err)
                await self.stopping.sleep(self.reconnect_seconds)

    async def _work(self) -> None:
        while not self.stopping.is_set:
            woken = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                woken = True
            if self.stopping.is_set:
                return
            if woken and self.collect_seconds > 0:
                await self.stopping.sleep(self.collect_seconds)
            # Cleared before the pass: a wake-up during it asks for another.
            self._wake.clear()
            await self._drain()

    async def _drain(self) -> None:
        """Passes until the queue is empty (a full batch shows a backlog)."""
        while not self.stopping.is_set:
            try:
                done = await index_pending(self.uow, self.index, batch=self.batch, clock=self.clock)
            except Exception as err:
                if cancelling():
                    raise
                metrics.SEARCH_INDEX_FAILURES.inc()
                log.warning("search indexing failed (%r); the auctions stay queued", err)
                await self.stopping.sleep(self.reconnect_seconds)
                return
            if done.claimed < self.batch:
                return
            await asyncio.sleep(0)  # the app's requests share this event loop

    def _notified(self, _payload: str) -> None:
        self._wake.set()
