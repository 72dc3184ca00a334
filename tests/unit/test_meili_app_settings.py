"""The Meilisearch settings (settings.py, block "Search: Meilisearch"): names, checks at
start-up, and what production refuses."""

from __future__ import annotations

import secrets

import pytest
from pydantic import ValidationError

from adapters.search.meilisearch import MeiliSearchIndex, meili_index_of
from settings import Settings, production_problems

NAMES = ("MEILI_URL", "GAVEL_MEILI_URL", "MEILI_API_KEY", "GAVEL_MEILI_INDEX")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)


def test_unset_means_no_meilisearch():
    settings = Settings(_env_file=None)
    assert settings.meili_url is None
    assert meili_index_of(settings) is None


@pytest.mark.parametrize("name", ["MEILI_URL", "GAVEL_MEILI_URL"])
def test_either_url_name_selects_meilisearch(monkeypatch: pytest.MonkeyPatch, name: str):
    monkeypatch.setenv(name, "http://127.0.0.1:7700")
    monkeypatch.setenv("MEILI_API_KEY", "a-key")
    monkeypatch.setenv("GAVEL_MEILI_INDEX", "auctions_v2")
    settings = Settings(_env_file=None)
    index = meili_index_of(settings)
    assert isinstance(index, MeiliSearchIndex)
    assert index.index_uid == "auctions_v2"
    assert "a-key" not in repr(settings)  # a secret: never printed


@pytest.mark.parametrize("bad", ["", "auctions v2", "auctions/x", 'a"b', "é", "x" * 201])
def test_an_index_name_meilisearch_would_refuse_fails_at_start_up(
    monkeypatch: pytest.MonkeyPatch, bad: str
):
    monkeypatch.setenv("GAVEL_MEILI_INDEX", bad)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


def _production(**overrides: object) -> Settings:
    base: dict[str, object] = {
        "GAVEL_ENV": "production",
        "DATABASE_URL": "postgresql+asyncpg://gavel@db.internal/gavel",
        "REDIS_URL": "redis://cache.internal:6379/0",
        "GAVEL_JWT_SECRET": secrets.token_urlsafe(48),
        "GAVEL_ADMIN_STORAGE_SECRET": secrets.token_urlsafe(48),
        "STRIPE_API_KEY": "sk_live_" + secrets.token_hex(16),
        "STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.token_hex(24),
    }
    return Settings(_env_file=None, **{**base, **overrides})  # type: ignore[arg-type]


def test_production_refuses_meilisearch_without_a_real_key():
    url = {"MEILI_URL": "https://search.internal:7700"}
    assert production_problems(_production()) == []
    assert production_problems(_production(**url, MEILI_API_KEY=secrets.token_hex(16))) == []
    for key in (None, "", "  ", "CHANGE_ME"):
        extra = {} if key is None else {"MEILI_API_KEY": key}
        [problem] = production_problems(_production(**url, **extra))
        assert "MEILI_API_KEY" in problem
