"""The Lua scripts that decide bids, loaded once and run with EVALSHA (NOSCRIPT reloads)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

LUA = Path(__file__).with_name("lua")
NAMES = ("bid", "close", "cancel", "tick", "init", "recompute")


@cache
def source(name: str) -> str:
    """A script with the shared helpers prepended (Redis scripts cannot import)."""
    return (LUA / "common.lua").read_text() + "\n" + (LUA / f"{name}.lua").read_text()


class Scripts:
    """redis-py `Script` objects: EVALSHA first, SCRIPT LOAD and retry on NOSCRIPT."""

    def __init__(self, redis: Any) -> None:
        self.bid = redis.register_script(source("bid"))
        self.close = redis.register_script(source("close"))
        self.cancel = redis.register_script(source("cancel"))
        self.tick = redis.register_script(source("tick"))
        self.init = redis.register_script(source("init"))
        self.recompute = redis.register_script(source("recompute"))
