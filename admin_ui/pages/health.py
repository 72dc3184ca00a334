"""System health: the stores, the background work's lag and this process's figures
(docs/admin-app.md "Overview and system health").

Each check runs under a timeout (services/admin_dashboard.py) and says what failed in
words; a store that is down or hangs shows as failing while the rest of the page works.
The page re-checks every `HEALTH_REFRESH_SECONDS` at most as often as the app's refresh
setting allows, and on the refresh button.
"""

from __future__ import annotations

import re
from itertools import groupby

from nicegui import ui

from admin_ui.context import admin_context
from admin_ui.formatting import when
from admin_ui.pages.overview import current_admin
from admin_ui.shell import PageEnv, admin_page
from services import admin_dashboard
from services.admin_dashboard import Check, SystemHealth
from services.unavailable import Unavailable
from storage.tables import User

# The checks count the search index's documents and read every live auction's outbox:
# cheap, but not to be repeated every second by every open page.
HEALTH_REFRESH_SECONDS = 5.0


def slug(name: str) -> str:
    """ "Persister lag" -> "persister-lag" (the checks' test markers)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def draw_check(check: Check) -> None:
    marker = f"check-{slug(check.name)}"
    with ui.card().classes("p-4 gap-1 min-w-0").mark(marker):
        with ui.row().classes("w-full items-center gap-2 no-wrap"):
            ui.icon("check_circle" if check.ok else "error").classes(
                "text-2xl " + ("text-positive" if check.ok else "text-negative")
            )
            ui.label(check.name).classes("text-lg font-semibold break-words min-w-0")
            ui.space()
            ui.badge(
                "ok" if check.ok else "failing", color="positive" if check.ok else "negative"
            ).props("rounded").mark(f"{marker}-state")
        ui.label(check.summary).classes("text-sm break-words").mark(f"{marker}-summary")
        if check.latency_ms is not None:
            ui.label(f"answered in {check.latency_ms:.1f} ms").classes("text-xs opacity-70")
        if check.problem:
            ui.label(check.problem).classes("text-sm text-negative break-words").mark(
                f"{marker}-problem"
            )


def draw(health: SystemHealth, env: PageEnv) -> None:
    failing = [c.name for c in health.checks if not c.ok]
    with ui.row().classes("w-full items-center gap-2").mark("health-summary"):
        if failing:
            ui.icon("warning").classes("text-2xl text-negative")
            ui.label(f"Failing: {', '.join(failing)}").classes("text-negative font-semibold")
        else:
            ui.icon("verified").classes("text-2xl text-positive")
            ui.label("Every check passes").classes("font-semibold")
        ui.space()
        ui.label(f"Checked {when(health.checked_at, env.zone, seconds=True)}").classes(
            "text-xs opacity-70"
        ).mark("health-checked-at")
    with ui.element("div").classes("grid grid-cols-1 md:grid-cols-2 xl:grid-cols-3 gap-3 w-full"):
        for check in health.checks:
            draw_check(check)
    with ui.card().classes("w-full p-4 gap-3").mark("process-figures"):
        ui.label(f"This process (pid {health.pid})").classes("text-lg font-semibold")
        ui.label(
            "What /metrics counts for this process since it started; every process has its"
            " own (a scrape of /metrics adds them up)."
        ).classes("text-xs opacity-70")
        with ui.element("div").classes(
            "grid grid-cols-1 sm:grid-cols-2 xl:grid-cols-3 gap-x-8 gap-y-4 w-full"
        ):
            for group, figures in groupby(health.figures, key=lambda f: f.group):
                with ui.column().classes("gap-1 min-w-0"):
                    ui.label(group).classes("font-semibold")
                    for figure in figures:
                        with ui.row().classes("w-full justify-between gap-2 text-sm no-wrap"):
                            ui.label(figure.label).classes("opacity-80 break-words min-w-0")
                            ui.label(figure.value).classes("font-mono")


@admin_page(
    "/health",
    title="System health",
    audience="admin",
    nav="System health",
    icon="monitor_heart",
    order=80,
)
async def health_page(env: PageEnv) -> None:
    context = admin_context()

    async def check_all(viewer: User) -> SystemHealth:
        return await admin_dashboard.system_health(
            context.deps,
            viewer,
            engine=context.engine,
            redis=context.redis,
            stripe_mode=context.stripe_mode,
            lag_readings=context.lag_readings,
        )

    with ui.row().classes("w-full items-center gap-2"):
        ui.label("System health").classes("text-2xl font-semibold")
        ui.space()
        button = ui.button("Check now", icon="refresh").props("outline").mark("health-refresh")
    content = ui.column().classes("w-full gap-3")
    with content:
        draw(await check_all(env.viewer), env)

    busy = False

    async def refresh() -> None:
        nonlocal busy
        if busy:
            return
        busy = True
        button.props("loading")
        try:
            try:
                viewer = await current_admin()
            except Unavailable:
                # The stores that say who is signed in are down: this page is where an
                # admin looks to see that, so it keeps checking for the viewer of the
                # page load (it shows no one's data).
                viewer = env.viewer
            if viewer is None:  # signed out, banned or no longer an admin
                timer.cancel()
                ui.navigate.to("/")
                return
            health = await check_all(viewer)
        finally:
            busy = False
            button.props(remove="loading")
        content.clear()
        with content:
            draw(health, env)

    button.on_click(refresh)
    timer = ui.timer(max(context.refresh_seconds, HEALTH_REFRESH_SECONDS), refresh, immediate=False)
