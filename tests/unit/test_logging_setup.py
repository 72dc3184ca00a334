"""The logging setup itself: one handler however often it runs, uvicorn's loggers taken
over, the levels and formats the settings allow, request ids a client may choose."""

from __future__ import annotations

import io
import json
import logging

import pytest
from pydantic import ValidationError

from adapters.logging_setup import GavelLogHandler, configure_logging
from adapters.request_id import valid_request_id
from settings import Settings


@pytest.fixture
def restore_logging():
    yield
    configure_logging()


def test_configuring_twice_leaves_one_handler_and_takes_over_uvicorn(restore_logging):
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.addHandler(logging.StreamHandler(io.StringIO()))  # as uvicorn does
    uvicorn_access.propagate = False
    configure_logging("WARNING", "json")
    stream = io.StringIO()
    configure_logging("WARNING", "json", stream=stream)
    ours = [h for h in logging.getLogger().handlers if isinstance(h, GavelLogHandler)]
    assert len(ours) == 1
    assert uvicorn_access.handlers == [] and uvicorn_access.propagate
    uvicorn_access.info("dropped: below the level")
    uvicorn_access.warning("%s - kept", "127.0.0.1:1")
    (line,) = stream.getvalue().splitlines()
    assert json.loads(line)["event"] == "127.0.0.1:1 - kept"


def test_console_lines_hold_no_local_variables(restore_logging):
    stream = io.StringIO()
    configure_logging("INFO", "console", stream=stream)
    password = "hunter2-local"  # noqa: F841 (a frame local the traceback must not show)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("gavel.test").exception("failed")
    text = stream.getvalue()
    assert "RuntimeError: boom" in text and "hunter2-local" not in text


def test_log_settings_are_checked():
    assert Settings(GAVEL_LOG_FORMAT="JSON", GAVEL_LOG_LEVEL="debug").log_format == "json"
    assert Settings(GAVEL_LOG_LEVEL="debug").log_level == "DEBUG"
    with pytest.raises(ValidationError):
        Settings(GAVEL_LOG_FORMAT="xml")
    with pytest.raises(ValidationError):
        Settings(GAVEL_LOG_LEVEL="loud")


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("0f8fad5b-d9cb-469f-a165-70867728950e", True),
        ("req-42.abc:1_Z", True),
        ("x" * 64, True),
        ("x" * 65, False),
        ("", False),
        ("a b", False),
        ("line\nbreak", False),
        ('quote"', False),
        ("ünicode", False),
    ],
)
def test_which_request_ids_are_kept(value, kept):
    assert valid_request_id(value) is kept
