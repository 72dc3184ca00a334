"""A scripted stand-in for the Meilisearch HTTP API, on a loopback socket.

No Meilisearch server can be installed on these machines (the contract suite runs the
real one when MEILI_URL is set). This stand-in answers the few routes the adapter calls
with the shapes the API documents, records every request, and lets a test script how a
task ends; it checks how the adapter uses the protocol (which requests, in which order,
waiting for tasks, failures), never search semantics: it does not search.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from domain.enums import AuctionStatus, AuctionType, ItemCondition
from services.search.port import SearchDocument

ENQUEUED_AT = "2026-11-30T12:00:00.000000Z"
# A fresh index's settings, as Meilisearch answers them.
FRESH_SETTINGS: dict[str, Any] = {
    "displayedAttributes": ["*"],
    "searchableAttributes": ["*"],
    "filterableAttributes": [],
    "sortableAttributes": [],
    "rankingRules": ["words", "typo", "proximity", "attribute", "sort", "exactness"],
    "typoTolerance": {
        "enabled": True,
        "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 9},
        "disableOnWords": [],
        "disableOnAttributes": [],
    },
    "faceting": {"maxValuesPerFacet": 100, "sortFacetValuesBy": {"*": "alpha"}},
    "pagination": {"maxTotalHits": 1000},
}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class StandIn:
    """State: indexes (uid -> settings), documents per index, tasks and their script."""

    indexes: dict[str, dict[str, Any]] = field(default_factory=dict)
    documents: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    # What GET /tasks/{uid} answers, in turn, per task type (the last one repeats).
    task_script: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    multi_search_answer: dict[str, Any] = field(default_factory=lambda: {"results": []})
    _tasks: dict[int, tuple[str, str | None, list[dict[str, Any]]]] = field(default_factory=dict)

    def paths(self, method: str | None = None) -> list[str]:
        return [r.path for r in self.requests if method is None or r.method == method]

    def writes(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests if r.method != "GET"]

    def add_index(self, uid: str, settings: dict[str, Any] | None = None) -> None:
        self.indexes[uid] = json.loads(json.dumps(settings or FRESH_SETTINGS))
        self.documents.setdefault(uid, {})

    def _task(self, kind: str, index_uid: str | None) -> web.Response:
        uid = len(self._tasks) + 1
        steps = self.task_script.get(kind, [{"status": "processing"}, {"status": "succeeded"}])
        self._tasks[uid] = (kind, index_uid, list(steps))
        info = {
            "taskUid": uid,
            "indexUid": index_uid,
            "status": "enqueued",
            "type": kind,
            "enqueuedAt": ENQUEUED_AT,
        }
        return web.json_response(info, status=202)

    def _task_state(self, uid: int) -> web.Response:
        kind, index_uid, steps = self._tasks[uid]
        step = steps.pop(0) if len(steps) > 1 else steps[0]
        body = {"uid": uid, "indexUid": index_uid, "type": kind, "enqueuedAt": ENQUEUED_AT}
        return web.json_response({**body, **step})

    @staticmethod
    def _not_found(uid: str) -> web.Response:
        message = {"message": f"Index `{uid}` not found.", "code": "index_not_found"}
        return web.json_response({**message, "type": "invalid_request", "link": ""}, status=404)

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body: Any = json.loads(raw) if raw else None
        path, method = request.path, request.method
        self.requests.append(Request(method, path, dict(request.query), body))
        if m := re.fullmatch(r"/tasks/(\d+)", path):
            return self._task_state(int(m.group(1)))
        if path == "/indexes" and method == "POST":
            self.add_index(body["uid"])
            return self._task("indexCreation", body["uid"])
        if path == "/multi-search":
            return web.json_response(self.multi_search_answer)
        if path == "/swap-indexes":
            a, b = body[0]["indexes"]
            self.indexes[a], self.indexes[b] = self.indexes[b], self.indexes[a]
            self.documents[a], self.documents[b] = self.documents[b], self.documents[a]
            return self._task("indexSwap", None)
        m = re.fullmatch(r"/indexes/([^/]+)(/.*)?", path)
        if m is None:
            return web.json_response({"message": "no route"}, status=404)
        uid, rest = m.group(1), m.group(2) or ""
        if uid not in self.indexes:
            return self._not_found(uid)
        if rest == "" and method == "GET":
            return web.json_response({"uid": uid, "primaryKey": "auction_id"})
        if rest == "" and method == "DELETE":
            del self.indexes[uid]
            return self._task("indexDeletion", uid)
        if rest == "/settings" and method == "GET":
            return web.json_response(self.indexes[uid])
        if rest == "/settings" and method == "PATCH":
            self.indexes[uid].update(body)
            return self._task("settingsUpdate", uid)
        if rest == "/documents" and method == "POST":
            for document in body:
                self.documents[uid][document["auction_id"]] = document
            return self._task("documentAdditionOrUpdate", uid)
        if rest == "/documents/delete" and method == "POST":
            return self._task("documentDeletion", uid)
        if rest == "/stats":
            count = len(self.documents[uid])
            stats = {"numberOfDocuments": count, "isIndexing": False, "fieldDistribution": {}}
            return web.json_response(stats)
        return web.json_response({"message": f"no route {method} {path}"}, status=404)


async def serve(stand_in: StandIn) -> tuple[web.AppRunner, str]:
    """Serve `stand_in` on a free loopback port; the runner (to clean up) and its URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", stand_in.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


NOW = datetime(2026, 11, 30, tzinfo=UTC)


def document(title: str = "Vintage camera") -> SearchDocument:
    """A small valid document for the adapter's requests."""
    return SearchDocument(
        auction_id=uuid.uuid4(),
        title=title,
        description="",
        category="cameras/film",
        condition=ItemCondition.USED,
        type=AuctionType.ENGLISH,
        status=AuctionStatus.ACTIVE,
        seller_id=uuid.uuid4(),
        currency="USD",
        price=1000,
        price_scaled=100_000,
        bid_count=0,
        reserve_met=True,
        has_buy_now=False,
        featured=False,
        ends_at=NOW,
        listed_at=NOW,
    )
