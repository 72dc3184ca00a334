"""Fixtures of the admin app's page tests: `ui_user` is a simulated browser on the admin
app, served by the session's real app (its Deps, PostgreSQL, Redis and event bus)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

import pytest
from fastapi import FastAPI
from nicegui.testing.user import User

from admin_ui.context import AdminContext
from gavel_app import lag_readings, open_live_connections
from settings import Settings
from tests.admin_ui.simulation import admin_simulation


def admin_context_of(app: FastAPI, settings: Settings) -> AdminContext:
    state = app.state
    return AdminContext(
        deps=state.deps,
        redis=state.redis,
        bus=state.bus,
        engine=state.engine,
        refresh_seconds=0.5,
        lag_readings=partial(lag_readings, state.redis, settings),
        open_sockets=open_live_connections,
        stripe_mode=state.payments.mode,
    )


@pytest.fixture
async def ui_user(
    app: FastAPI, settings: Settings, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[User]:
    async with admin_simulation(admin_context_of(app, settings)) as user:
        yield user
    errors = [r for r in caplog.get_records("call") if r.levelname == "ERROR"]
    assert not errors, f"the admin app logged errors: {[r.getMessage() for r in errors]}"
