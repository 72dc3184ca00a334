"""`python -m devservers tool MODULE` (behind `make reindex`): a maintenance command gets
the running dev servers' URLs, or a clear message when none is running."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from devservers.__main__ import cmd_tool
from devservers.postgres import embedded_url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_without_a_running_server_it_says_how_to_start_one(monkeypatch: pytest.MonkeyPatch):
    port = _free_port()
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("GAVEL_PG_PORT", str(port))
    with pytest.raises(SystemExit) as stopped:
        cmd_tool(["json.tool", "--help"])
    assert f"no PostgreSQL on port {port}" in str(stopped.value)
    assert "make run" in str(stopped.value)


def test_the_command_gets_the_running_servers_urls(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capfd: pytest.CaptureFixture[str]
):
    (tmp_path / "print_urls.py").write_text(
        "import os\nprint(os.environ['DATABASE_URL'])\nprint(os.environ['REDIS_URL'])\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("GAVEL_REDIS_PORT", "16999")
    with socket.socket() as listening:  # stands for `make run`'s PostgreSQL: a real socket
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = int(listening.getsockname()[1])
        monkeypatch.setenv("GAVEL_PG_PORT", str(port))
        assert cmd_tool(["print_urls"]) == 0
    printed = capfd.readouterr().out.split()
    assert printed == [embedded_url(port), "redis://127.0.0.1:16999/0"]
