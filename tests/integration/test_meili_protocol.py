"""How the Meilisearch adapter uses the server's HTTP API (adapters/search/meilisearch.py),
against a scripted stand-in on a loopback socket (tests/integration/meili_stand_in.py):
settings applied only where they differ, writes that return once their task is done, a
failed task raised, one multi-search per search, and a rebuild that builds beside, swaps
and cleans up. Search semantics are the contract suite's, on a real server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

import pytest

from adapters.search.meili_documents import body_of
from adapters.search.meili_queries import plan
from adapters.search.meili_settings import index_settings, settings_to_change
from adapters.search.meilisearch import MeiliSearchIndex, MeiliTaskFailed
from domain.enums import AuctionType
from services.search.port import Facets, SearchDocument, SearchFilter, SearchRequest
from services.unavailable import Unavailable
from tests.integration.meili_stand_in import FRESH_SETTINGS, StandIn, document, serve


@pytest.fixture
async def meili() -> AsyncIterator[tuple[StandIn, str]]:
    stand_in = StandIn()
    runner, url = await serve(stand_in)
    yield stand_in, url
    await runner.cleanup()


def adapter(url: str, **options: object) -> MeiliSearchIndex:
    return MeiliSearchIndex(url, api_key="key", timeout_seconds=2, **options)  # type: ignore[arg-type]


async def test_prepare_creates_the_index_and_applies_the_settings_once(meili):
    stand_in, url = meili
    index = adapter(url)
    await index.prepare()
    assert stand_in.writes() == [("POST", "/indexes"), ("PATCH", "/indexes/auctions/settings")]
    create, patch = (r for r in stand_in.requests if r.method != "GET")
    assert create.body == {"uid": "auctions", "primaryKey": "auction_id"}
    assert patch.body == settings_to_change(FRESH_SETTINGS, index_settings())
    # A second start finds everything in place and writes nothing.
    before = len(stand_in.writes())
    await adapter(url).prepare()
    assert len(stand_in.writes()) == before


async def test_prepare_sends_only_the_settings_that_differ(meili):
    stand_in, url = meili
    settings = {**FRESH_SETTINGS, **index_settings()}
    settings["rankingRules"] = ["words", "typo", "proximity", "attribute", "sort", "exactness"]
    stand_in.add_index("auctions", settings)
    await adapter(url).prepare()
    [patch] = [r for r in stand_in.requests if r.method == "PATCH"]
    assert patch.body == {"rankingRules": index_settings()["rankingRules"]}


async def test_a_write_returns_only_once_its_task_has_succeeded(meili):
    stand_in, url = meili
    stand_in.add_index("auctions", {**FRESH_SETTINGS, **index_settings()})
    stand_in.task_script["documentAdditionOrUpdate"] = [
        {"status": "enqueued"},
        {"status": "processing"},
        {"status": "processing"},
        {"status": "succeeded"},
    ]
    doc = document()
    await adapter(url).upsert([doc])
    [add] = [r for r in stand_in.requests if r.path == "/indexes/auctions/documents"]
    assert add.query == {"primaryKey": "auction_id"}
    assert add.body == [body_of(doc)]
    assert stand_in.paths("GET").count("/tasks/1") == 4  # polled until it finished


async def test_a_failed_task_raises_and_is_not_an_outage(meili):
    stand_in, url = meili
    stand_in.add_index("auctions", {**FRESH_SETTINGS, **index_settings()})
    error = {"code": "invalid_document_fields", "message": "bad", "type": "invalid_request"}
    stand_in.task_script["documentAdditionOrUpdate"] = [{"status": "failed", "error": error}]
    with pytest.raises(MeiliTaskFailed) as raised:
        await adapter(url).upsert([document()])
    assert raised.value.code == "invalid_document_fields"


async def test_a_task_that_never_finishes_is_unavailable_after_the_task_timeout(meili):
    stand_in, url = meili
    stand_in.add_index("auctions", {**FRESH_SETTINGS, **index_settings()})
    stand_in.task_script["documentDeletion"] = [{"status": "processing"}]
    with pytest.raises(Unavailable):
        await adapter(url, task_timeout_seconds=0.3).delete([uuid.uuid4()])


async def test_delete_is_by_an_escaped_id_filter_and_nothing_is_sent_for_no_ids(meili):
    stand_in, url = meili
    stand_in.add_index("auctions", {**FRESH_SETTINGS, **index_settings()})
    index = adapter(url)
    await index.delete([])
    assert stand_in.requests == []
    ids = [uuid.uuid4() for _ in range(3)]
    await index.delete(ids)
    [delete] = [r for r in stand_in.requests if r.path == "/indexes/auctions/documents/delete"]
    assert delete.body == {"filter": "auction_id IN [" + ", ".join(f'"{i}"' for i in ids) + "]"}


async def test_a_search_is_one_multi_search_of_the_planned_queries(meili):
    stand_in, url = meili
    stand_in.add_index("auctions", {**FRESH_SETTINGS, **index_settings()})
    a, b = uuid.uuid4(), uuid.uuid4()
    stand_in.multi_search_answer = {
        "results": [
            {
                "indexUid": "auctions",
                "hits": [{"auction_id": str(a)}, {"auction_id": str(b)}],
                "totalHits": 2,
                "facetDistribution": {"category_path": {"cameras": 2}, "condition": {"USED": 2}},
            },
            {
                "indexUid": "auctions",
                "hits": [],
                "totalHits": 5,
                "facetDistribution": {"type": {"ENGLISH": 2, "DUTCH": 3}},
            },
        ]
    }
    request = SearchRequest(
        text="camera", filter=SearchFilter(types=(AuctionType.ENGLISH,)), facets=True
    )
    answer = await adapter(url).search(request)
    [sent] = [r for r in stand_in.requests if r.path == "/multi-search"]
    assert sent.body["queries"] == [q.body for q in plan("auctions", request).queries]
    assert answer.ids == [a, b] and answer.total == 2
    assert answer.facets == Facets(
        category={"cameras": 2}, type={"ENGLISH": 2, "DUTCH": 3}, condition={"USED": 2}
    )


async def test_a_search_that_cannot_match_sends_nothing(meili):
    stand_in, url = meili
    answer = await adapter(url).search(
        SearchRequest(text="x", filter=SearchFilter(statuses=()), facets=True)
    )
    assert (answer.ids, answer.total) == ([], 0)
    assert stand_in.requests == []


async def _batches(docs: Sequence[SearchDocument]) -> AsyncIterator[Sequence[SearchDocument]]:
    yield docs[:2]
    yield []
    yield docs[2:]


async def test_rebuild_fills_a_new_index_beside_swaps_and_drops_the_old(meili):
    stand_in, url = meili
    stand_in.add_index("auctions", {**FRESH_SETTINGS, **index_settings()})
    stale = document("stale")
    stand_in.documents["auctions"][str(stale.auction_id)] = body_of(stale)
    docs = [document(f"doc {i}") for i in range(5)]
    written: list[int] = []
    index = adapter(url)
    assert await index.rebuild(_batches(docs), written.append) == 5
    assert written == [2, 3]
    [build] = {r.path.split("/")[2] for r in stand_in.requests if "_build_" in r.path}
    assert build.startswith("auctions_build_")
    assert stand_in.writes() == [
        ("POST", "/indexes"),  # the build index, with the same settings
        ("PATCH", f"/indexes/{build}/settings"),
        ("POST", f"/indexes/{build}/documents"),
        ("POST", f"/indexes/{build}/documents"),
        ("POST", "/swap-indexes"),
        ("DELETE", f"/indexes/{build}"),  # now holding the old documents
    ]
    [swap] = [r for r in stand_in.requests if r.path == "/swap-indexes"]
    assert swap.body == [{"indexes": ["auctions", build]}]
    assert set(stand_in.indexes) == {"auctions"}
    assert set(stand_in.documents["auctions"]) == {str(d.auction_id) for d in docs}
    assert await index.count() == 5


async def test_a_rebuild_that_fails_leaves_the_live_index_and_no_build_behind(meili):
    stand_in, url = meili
    stand_in.add_index("auctions", {**FRESH_SETTINGS, **index_settings()})
    live = document("live")
    stand_in.documents["auctions"][str(live.auction_id)] = body_of(live)

    async def failing() -> AsyncIterator[Sequence[SearchDocument]]:
        yield [document()]
        raise RuntimeError("the source of record failed mid-way")

    with pytest.raises(RuntimeError):
        await adapter(url).rebuild(failing(), lambda _: None)
    assert set(stand_in.indexes) == {"auctions"}
    assert set(stand_in.documents["auctions"]) == {str(live.auction_id)}
    assert "/swap-indexes" not in stand_in.paths()


async def test_an_index_down_at_start_prepares_itself_on_its_first_call(meili):
    stand_in, url = meili
    index = adapter(url)
    await index.upsert([replace(document(), title="first call")])
    assert stand_in.writes()[:2] == [("POST", "/indexes"), ("PATCH", "/indexes/auctions/settings")]
    assert stand_in.writes()[2] == ("POST", "/indexes/auctions/documents")
    before = len(stand_in.requests)
    await index.upsert([document()])
    assert "/indexes/auctions/settings" not in stand_in.paths()[before:]  # once only


async def test_a_temporary_index_is_deleted_on_close(meili):
    stand_in, url = meili
    index = adapter(url, index="gavel_contract_x", temporary=True)
    await index.prepare()
    await index.close()
    assert stand_in.writes()[-1] == ("DELETE", "/indexes/gavel_contract_x")
    assert stand_in.indexes == {}
