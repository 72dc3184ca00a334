"""Document limits over HTTP (schema/limits.py): coded errors, in time linear in the
document, whatever fragments the document chains."""

from __future__ import annotations

import time

from tests.unit.test_limits import chain, nest

AUCTION_BIDS = "auctions edges node bids edges node auction"


async def test_a_forty_level_fragment_chain_is_refused_quickly(gql):
    started = time.perf_counter()
    body = await gql("query Q { ...F40 } " + chain(40))
    elapsed = time.perf_counter() - started
    assert [e["extensions"]["code"] for e in body["errors"]] == ["QUERY_TOO_COMPLEX"], body
    assert "data" not in body or body["data"] is None
    assert elapsed < 1.0, elapsed  # validation alone is a few ms (tests/unit/test_limits.py)


async def test_limits_answer_with_codes(gql):
    deep = "{ " + nest(f"{AUCTION_BIDS} bids edges node auction item seller") + " }"
    aliases = (
        "{ ...A ...A } fragment A on Query { "
        + " ".join(f"a{i}: categories" for i in range(16))
        + " }"
    )
    wide = "{ ...F10 } " + chain(10, leaf="categories")  # 1024 fields, no alias
    for document, code in [
        (deep, "QUERY_TOO_DEEP"),
        (aliases, "TOO_MANY_ALIASES"),  # 32: each spread of A counts
        (wide, "QUERY_TOO_COMPLEX"),
    ]:
        body = await gql(document)
        assert [e["extensions"]["code"] for e in body["errors"]] == [code], (document, body)
    fits = "{ ...F9 } " + chain(9, leaf="categories")  # 512 fields
    assert "errors" not in await gql(fits)


async def test_an_unknown_fragment_is_a_validation_error(gql):
    for document in ["query { categories ...Nope }", "{ auctions { ...Nope edges { cursor } } }"]:
        body = await gql(document)
        assert [e["message"] for e in body["errors"]] == ["Unknown fragment 'Nope'."], body
