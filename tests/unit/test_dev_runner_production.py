"""`make run` with GAVEL_ENV=production: nothing starts until the settings are safe."""

from __future__ import annotations

import pytest

from devservers import __main__ as runner

STRONG = "pR0d-" + "x9Lq2Vz7Wc4Bn8Mk3Hs6Jt1Fd5Gy0Ue-" * 2


@pytest.fixture
def production_env(monkeypatch: pytest.MonkeyPatch, tmp_path):
    for name in ("DATABASE_URL", "REDIS_URL", "GAVEL_JWT_SECRET", "GAVEL_ADMIN_STORAGE_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GAVEL_ENV", "production")
    monkeypatch.setenv("GAVEL_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no repository .env
    return monkeypatch


def test_production_refuses_embedded_servers_even_with_real_secrets(production_env):
    production_env.setenv("GAVEL_JWT_SECRET", STRONG)
    production_env.setenv("GAVEL_ADMIN_STORAGE_SECRET", STRONG[::-1])

    def never(*_args, **_kwargs):
        raise AssertionError("embedded servers started in production")

    production_env.setattr(runner, "embedded_stack", never)
    with pytest.raises(SystemExit) as refused:
        runner.cmd_run()
    message = str(refused.value)
    assert "DATABASE_URL is not set" in message and "REDIS_URL is not set" in message


def test_production_refuses_missing_secrets_before_starting_anything(production_env):
    production_env.setattr(runner, "embedded_stack", lambda *a, **k: pytest.fail("started"))
    with pytest.raises(SystemExit) as refused:
        runner.cmd_run()
    assert "GAVEL_JWT_SECRET" in str(refused.value)


def test_development_is_not_refused(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GAVEL_ENV", "development")
    runner.refuse_unsafe_production()
