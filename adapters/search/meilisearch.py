"""The search index on Meilisearch (services/search/port.py), used when `MEILI_URL` is set.

The official client is synchronous (requests): every call runs in a worker thread
(`asyncio.to_thread`), never on the event loop. Writes are tasks on the server; each
write waits for its task (`wait_for_task`, GAVEL_MEILI_TASK_TIMEOUT) so that what it wrote
is visible to searches on return, as the port requires. A failed task raises
`MeiliTaskFailed`, an error answer `MeiliRefused` (configuration errors). An unreachable
or timed-out server, and a 502/503/504 from a proxy in front of it, raises
`services.unavailable.Unavailable`: the API answers UNAVAILABLE.

Settings (adapters/search/meili_settings.py), documents (meili_documents.py), filters,
sorts and the facet plan (meili_queries.py) live beside this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial
from typing import Any, ParamSpec, TypeVar

import meilisearch
from meilisearch.errors import (
    MeilisearchApiError,
    MeilisearchCommunicationError,
    MeilisearchTimeoutError,
)
from meilisearch.models.task import Task, TaskInfo

from adapters.search.meili_documents import PRIMARY_KEY, body_of
from adapters.search.meili_queries import answer_of, ids_clause, plan
from adapters.search.meili_settings import index_settings, settings_to_change
from services.search.port import Progress, SearchAnswer, SearchDocument, SearchRequest
from services.unavailable import Unavailable
from settings import Settings

log = logging.getLogger("gavel.search")

P = ParamSpec("P")
T = TypeVar("T")

# A gateway or load balancer in front of the server saying it is down or restarting.
_GATEWAY_DOWN = {502, 503, 504}
# Deleting by an id filter: ids per filter expression (keeps each request small).
_DELETE_CHUNK = 500
# How often a write polls its task: from 5 ms, doubling up to 200 ms.
_FIRST_POLL_SECONDS = 0.005
_LAST_POLL_SECONDS = 0.2


class MeiliTaskFailed(RuntimeError):
    """Meilisearch refused or failed a write (its task ended other than "succeeded")."""

    def __init__(self, task: Task) -> None:
        error = task.error or {}
        self.code = error.get("code")
        super().__init__(
            f"Meilisearch task {task.uid} ({task.type}) {task.status}: "
            f"{error.get('code')}: {error.get('message')}"
        )


class MeiliRefused(RuntimeError):
    """Meilisearch answered a request with an error: a wrong key, a missing index, a bug
    of ours. Not an outage, so raised without the client's cause (a requests error, an
    OSError, would read as one in services/unavailable.py): a configuration error."""

    def __init__(self, err: MeilisearchApiError) -> None:
        self.code = err.code
        self.status_code = err.status_code
        super().__init__(f"Meilisearch refused a request ({err.status_code} {err.code}): {err}")


class MeiliSearchIndex:
    """`SearchIndex` on one Meilisearch index named `index` (GAVEL_MEILI_INDEX)."""

    name = "meilisearch"

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        index: str = "auctions",
        timeout_seconds: int = 5,
        task_timeout_seconds: float = 30.0,
        temporary: bool = False,
    ) -> None:
        """`temporary`: close() deletes the index (a test's throwaway index)."""
        self._client = meilisearch.Client(url, api_key, timeout=timeout_seconds)
        self.index_uid = index
        self._task_timeout_ms = max(1, int(task_timeout_seconds * 1000))
        self._temporary = temporary
        self._prepared = False

    async def prepare(self) -> None:
        """Create the index (primary key `auction_id`) if missing, then apply the settings
        that differ from meili_settings.index_settings() (nothing when all match). Until
        it has succeeded once, every other call tries it first: a server that was down
        at start-up gets its index and settings when it is back."""
        await self._run(self._prepare, self.index_uid)
        self._prepared = True

    async def _ready(self) -> None:
        if not self._prepared:
            await self.prepare()

    async def upsert(self, documents: Sequence[SearchDocument]) -> None:
        if not documents:
            return
        await self._ready()
        bodies = [body_of(d) for d in documents]
        index = self._client.index(self.index_uid)
        add = partial(index.add_documents, bodies, primary_key=PRIMARY_KEY)
        await self._run(self._write, add)

    async def delete(self, auction_ids: Sequence[uuid.UUID]) -> None:
        if not auction_ids:
            return
        await self._ready()
        index = self._client.index(self.index_uid)
        for start in range(0, len(auction_ids), _DELETE_CHUNK):
            expression = ids_clause(auction_ids[start : start + _DELETE_CHUNK])
            await self._run(self._write, partial(index.delete_documents, filter=expression))

    async def search(self, request: SearchRequest) -> SearchAnswer:
        """One multi-search call: the ids and total, and when asked each facet under every
        filter but its own (adapters/search/meili_queries.py `plan`)."""
        search_plan = plan(self.index_uid, request)
        bodies = [q.body for q in search_plan.queries if q.body is not None]
        results: list[dict[str, Any]] = []
        if bodies:
            await self._ready()
            answer = await self._run(self._client.multi_search, bodies)
            results = answer["results"]
        return answer_of(request, search_plan, results)

    async def rebuild(
        self, batches: AsyncIterator[Sequence[SearchDocument]], progress: Progress
    ) -> int:
        """Fill `<index>_build_<ms>_<hex>` (same settings) beside the live index, swap the two
        (one atomic server task: searches see the old documents until then, the new ones
        after), then delete the build name, which then holds the old documents. A failure
        before the swap deletes the half-built index and leaves the live one as it was."""
        await self.prepare()  # the swap needs a live index
        # Unique even for two rebuilds in one millisecond: each swaps in its own index.
        build = f"{self.index_uid}_build_{time.time_ns() // 1_000_000}_{secrets.token_hex(3)}"
        written = 0
        try:
            await self._run(self._prepare, build)
            index = self._client.index(build)
            async for batch in batches:
                if not batch:
                    continue
                bodies = [body_of(d) for d in batch]
                add = partial(index.add_documents, bodies, primary_key=PRIMARY_KEY)
                await self._run(self._write, add)
                written += len(bodies)
                progress(len(bodies))
            pair: dict[str, list[str] | bool] = {"indexes": [self.index_uid, build]}
            await self._run(self._write, lambda: self._client.swap_indexes([pair]))
        except BaseException:
            with contextlib.suppress(Exception):
                await self._run(self._write, lambda: self._client.delete_index(build))
            raise
        # Now the old documents: dropping them is housekeeping, the swap already counted.
        try:
            await self._run(self._write, lambda: self._client.delete_index(build))
        except Exception:
            log.warning("reindex: could not delete the old index, now named %s", build)
        return written

    async def count(self) -> int:
        """Documents in the live index (its stats; 0 when the index does not exist)."""
        await self._ready()
        index = self._client.index(self.index_uid)
        try:
            stats = await self._run(index.get_stats)
        except MeiliRefused as err:
            if err.code == "index_not_found":
                return 0
            raise
        return stats.number_of_documents

    async def close(self) -> None:
        """Nothing to release (the client opens a connection per request); a temporary
        index is deleted."""
        if self._temporary:
            await self._run(self._write, lambda: self._client.delete_index(self.index_uid))

    # --- in the worker thread ------------------------------------------------------

    async def _run(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await asyncio.to_thread(call, *args, **kwargs)
        except (MeilisearchCommunicationError, MeilisearchTimeoutError) as err:
            raise Unavailable("the search engine is unavailable; retry shortly") from err
        except MeilisearchApiError as err:
            if err.status_code in _GATEWAY_DOWN:
                raise Unavailable("the search engine is unavailable; retry shortly") from err
            raise MeiliRefused(err) from None

    def _write(self, start: Callable[[], TaskInfo]) -> Task:
        """Start a write and wait until searches see it (sync, in the worker thread)."""
        task = self._wait(start().task_uid)
        if task.status != "succeeded":
            raise MeiliTaskFailed(task)
        return task

    def _wait(self, task_uid: int) -> Task:
        """The task once finished. Polled often at first (a small write takes a few ms:
        the freshness budget is a second), then less (a batch of thousands takes seconds);
        past GAVEL_MEILI_TASK_TIMEOUT the write counts as failed (an outage), though the
        server may still apply it later."""
        deadline = time.monotonic() + self._task_timeout_ms / 1000
        pause = _FIRST_POLL_SECONDS
        while True:
            task = self._client.get_task(task_uid)
            if task.status not in ("enqueued", "processing"):
                return task
            if time.monotonic() + pause > deadline:
                raise MeilisearchTimeoutError(
                    f"task {task_uid} not finished within {self._task_timeout_ms} ms"
                )
            time.sleep(pause)
            pause = min(pause * 2, _LAST_POLL_SECONDS)

    def _prepare(self, uid: str) -> None:
        try:
            described = self._client.get_raw_index(uid)
        except MeilisearchApiError as err:
            if err.code != "index_not_found":
                raise
            try:
                self._write(lambda: self._client.create_index(uid, {"primaryKey": PRIMARY_KEY}))
            except MeiliTaskFailed as failed:
                if failed.code != "index_already_exists":  # another process was first
                    raise
        else:
            key = described.get("primaryKey")
            if key is None:
                self._write(lambda: self._client.index(uid).update(primary_key=PRIMARY_KEY))
            elif key != PRIMARY_KEY:
                raise RuntimeError(
                    f"Meilisearch index {uid!r} has primary key {key!r}, not {PRIMARY_KEY!r}:"
                    " set GAVEL_MEILI_INDEX to another name or delete that index"
                )
        index = self._client.index(uid)
        change = settings_to_change(index.get_settings(), index_settings())
        if change:
            log.info("search: applying Meilisearch settings to %s: %s", uid, sorted(change))
            self._write(lambda: index.update_settings(change))


def meili_index_of(settings: Settings) -> MeiliSearchIndex | None:
    """The Meilisearch index when MEILI_URL is set, else None."""
    if not settings.meili_url:
        return None
    return MeiliSearchIndex(
        settings.meili_url,
        api_key=settings.meili_api_key.get_secret_value() if settings.meili_api_key else None,
        index=settings.meili_index,
        timeout_seconds=settings.meili_timeout_seconds,
        task_timeout_seconds=settings.meili_task_timeout_seconds,
    )
