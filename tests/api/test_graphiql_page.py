"""GraphiQL's page and assets come from the app itself: no CDN, pinned files, licences kept.

The browser-level proof (chromium with every outside request refused) is
tests/e2e/test_graphiql_browser.py; these check what the app answers.
"""

from __future__ import annotations

import re
import shutil

import pytest

from schema.graphiql import STATIC_PATH
from schema.graphiql_assets import PACKAGES, SERVED, present

BROWSER = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture(autouse=True)
def _assets() -> None:
    if not present():
        if shutil.which("npm"):
            pytest.fail("GraphiQL's assets are missing: run `make venv`")
        pytest.skip("GraphiQL's assets are missing and npm, which fetches them, is not installed")


async def test_page_loads_every_asset_from_this_app(client):
    page = await client.get("/graphql", headers=BROWSER)
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]*)"', page.text)
    assets = [u for u in urls if u != "data:,"]
    assert {u.split("?")[0].rsplit("/", 1)[-1] for u in assets} == SERVED
    assert all(u.startswith(STATIC_PATH + "/") for u in assets), assets
    assert not re.search(r"https?://", page.text), "the page names another host"
    for url in assets:
        answer = await client.get(url)
        assert answer.status_code == 200, url
        kind = "text/css" if url.split("?")[0].endswith(".css") else "text/javascript"
        assert answer.headers["content-type"].startswith(kind), (url, answer.headers)
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert len(answer.content) > 500


async def test_page_allows_only_its_own_scripts_by_a_fresh_nonce(client):
    nonces = []
    for _ in range(2):
        page = await client.get("/graphql", headers=BROWSER)
        policy = page.headers["content-security-policy"]
        nonce = re.search(r"'nonce-([^']+)'", policy)
        assert nonce, policy
        assert f'<script nonce="{nonce.group(1)}">' in page.text
        assert "script-src 'self' 'nonce-" in policy and "unsafe-eval" not in policy
        assert "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
        nonces.append(nonce.group(1))
    assert nonces[0] != nonces[1]


async def test_licences_are_served_beside_the_assets(client):
    notice = await client.get(f"{STATIC_PATH}/NOTICE")
    assert notice.status_code == 200
    for package in PACKAGES:
        assert f"{package.spec}  licence: MIT" in notice.text
    for name in ("LICENSE-graphiql", "LICENSE-react", "LICENSE-react-dom"):
        licence = await client.get(f"{STATIC_PATH}/{name}")
        assert licence.status_code == 200
        assert "Permission is hereby granted, free of charge" in licence.text


@pytest.mark.parametrize(
    "name", ["PINS", "graphiql.js", "..%2Fgavel_app.py", "%2E%2E", "", "react.production.min.js/x"]
)
async def test_only_the_pinned_files_are_served(client, name):
    answer = await client.get(f"{STATIC_PATH}/{name}")
    assert answer.status_code == 404
