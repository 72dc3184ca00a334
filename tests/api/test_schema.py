"""The served schema: committed SDL, the public contract, limits and error masking."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from schema.export import sdl

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_TOOL = ROOT.parent / "shared" / "tools" / "check_contract.py"


def test_committed_schema_matches_the_code():
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == sdl(), "schema.graphql is stale: run `make schema` and commit it"


@pytest.mark.skipif(
    not CONTRACT_TOOL.exists(),
    reason=f"the team's contract checker is not beside this clone ({CONTRACT_TOOL}); CI has it",
)
def test_schema_contains_the_whole_contract():
    result = subprocess.run(
        [sys.executable, str(CONTRACT_TOOL), str(ROOT / "schema.graphql")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


async def test_depth_limit(gql):
    deep = (
        "{ auctions { edges { node { bids { edges { node { auction { bids { edges { node {"
        " auction { item { seller { id } } } } } } } } } } } } } }"
    )
    body = await gql(deep)
    assert body["errors"] and "exceeds maximum operation depth" in body["errors"][0]["message"]


async def test_alias_limit(gql):
    query = "{ " + " ".join(f"a{i}: categories" for i in range(40)) + " }"
    body = await gql(query)
    assert body["errors"] and "aliases" in body["errors"][0]["message"]


async def test_token_limit(gql):
    query = "{ " + " ".join("__typename" for _ in range(3000)) + " }"
    body = await gql(query)
    assert body["errors"] and "token" in body["errors"][0]["message"].lower()


async def test_unexpected_errors_are_masked_and_logged(caplog):
    import strawberry

    from domain.errors import NotFound
    from schema.errors import GavelMaskErrors

    @strawberry.type
    class Query:
        @strawberry.field
        def broken(self) -> int:
            raise RuntimeError("password=hunter2 in a stack trace")

        @strawberry.field
        def missing(self) -> int:
            raise NotFound("no such thing", field="id")

    schema = strawberry.Schema(query=Query, extensions=[GavelMaskErrors])
    with caplog.at_level("ERROR", logger="gavel.graphql"):
        result = await schema.execute("{ broken }")
    assert result.errors is not None
    error = result.errors[0]
    assert "hunter2" not in error.message
    assert error.extensions is not None and error.extensions["code"] == "INTERNAL"
    assert error.extensions["errorId"] in caplog.text and "hunter2" in caplog.text
    result = await schema.execute("{ missing }")
    assert result.errors is not None
    assert result.errors[0].message == "no such thing"
    assert result.errors[0].extensions == {"code": "NOT_FOUND", "field": "id"}


async def test_oversized_request_bodies_are_refused(client):
    huge = "x" * (3 * 1024 * 1024)
    response = await client.post("/graphql", json={"query": "{ categories }", "x": huge})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"
    assert (await client.post("/graphql", json={"query": "{ categories }"})).status_code == 200


async def test_methods_graphql_does_not_serve_are_graphql_errors(client):
    for method in ("PUT", "DELETE", "PATCH"):
        response = await client.request(method, "/graphql", json={"query": "{ categories }"})
        assert response.status_code == 405, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    other = await client.put("/healthz")
    assert other.status_code == 405 and "detail" in other.json()  # FastAPI's own elsewhere
