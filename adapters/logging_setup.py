"""One logging configuration for the whole process: Gavel's, strawberry's and uvicorn's lines.

Every module keeps logging through the standard library (`logging.getLogger("gavel...")`);
one handler on the root logger renders each record with structlog
(https://www.structlog.org/en/stable/standard-library.html, "foreign" records), adding:

- `timestamp` (ISO 8601, UTC), `level`, `logger`;
- `request_id`: the HTTP request's or WebSocket connection's id (adapters/request_id.py),
  on every line logged while serving it, including uvicorn's access line;
- whatever the code bound with `structlog.contextvars.bind_contextvars` for the work at
  hand: `auction_id` (services/bidding.py), `operation_id` (a WebSocket operation);
- the `extra={...}` fields of the call (`error_id`, `code`, `mail_to`, ...);
- `exception`: the traceback, when the call passed `exc_info`.

`GAVEL_LOG_FORMAT=console` (the default) writes aligned, readable lines for a terminal;
`json` writes one JSON object per line, for a log collector. `GAVEL_LOG_LEVEL` (default
INFO) applies to every logger, uvicorn's included.

uvicorn configures its own loggers before it loads the app: `configure_logging` hands
them to the root handler, so its start-up, error and access lines share the format (the
access line also as fields: `http_method`, `path`, `status`, `client`; a `token=` in
its query, the verification mail's link, is logged as `[redacted]`).
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

LogFormat = Literal["console", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("console", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


class GavelLogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The root handler `configure_logging` installs (found again by its class). Without
    a stream of its own it writes to whatever `sys.stderr` is at the time (a test's
    capture included), never to one replaced and closed since."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self.follows_stderr = stream is None

    def emit(self, record: logging.LogRecord) -> None:
        if self.follows_stderr:
            self.stream = sys.stderr
        super().emit(record)


_SECRET_QUERY = re.compile(r"([?&](?:token|access_token)=)[^&\s\"]+")


def _redacted(text: str) -> str:
    return _SECRET_QUERY.sub(r"\1[redacted]", text)


def _uvicorn_access(fields: bool) -> Processor:
    """uvicorn logs an answer as '%s - "%s %s HTTP/%s" %d' with (client, method, path,
    version, status). A token in the query (the verification mail's link) is redacted;
    with `fields`, the parts are also kept as fields, so a collector need not parse."""

    def processor(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        record = event_dict.get("_record")
        if record is None or record.name != "uvicorn.access":
            return event_dict
        event_dict["event"] = _redacted(str(event_dict["event"]))
        args = event_dict.get("positional_args")
        if fields and args and len(args) == 5:
            client, method, path, _version, status = args
            path = _redacted(str(path))
            event_dict.update(http_method=method, path=path, status=status, client=client)
        return event_dict

    return processor


def _drop_noise(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    event_dict.pop("positional_args", None)  # already in the message
    event_dict.pop("color_message", None)  # uvicorn's ANSI-coloured copy of the message
    return event_dict


def _leading_keys(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    # A JSON line starts with what a reader scans for; the rest keeps its order.
    first = {k: event_dict.pop(k) for k in _FIRST if k in event_dict}
    return {**first, **event_dict}


_FIRST = ("timestamp", "level", "logger", "event", "request_id")


def _shared_processors(fmt: LogFormat) -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,  # request_id, auction_id, operation_id
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        _uvicorn_access(fields=fmt == "json"),
        _drop_noise,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _renderer(fmt: LogFormat, stream: TextIO) -> list[Processor]:
    if fmt == "json":
        return [
            structlog.processors.format_exc_info,
            _leading_keys,
            structlog.processors.JSONRenderer(default=str),
        ]
    colors = getattr(stream, "isatty", lambda: False)()
    # Plain tracebacks: a rich one shows the frames' local variables (passwords, tokens).
    return [
        structlog.dev.ConsoleRenderer(
            colors=colors, sort_keys=False, exception_formatter=structlog.dev.plain_traceback
        )
    ]


def configure_logging(
    level: str = "INFO", fmt: LogFormat = "console", *, stream: TextIO | None = None
) -> logging.Handler:
    """Route every logger of the process through one structlog-rendered handler.

    `level` is a name of LOG_LEVELS, `fmt` "console" or "json"; `stream` defaults to
    stderr. Calling it again replaces the handler it installed before (tests, an app
    built twice), never another one. Returns the handler."""
    shared = _shared_processors(fmt)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *_renderer(fmt, stream or sys.stderr),
        ],
        pass_foreign_args=True,
    )
    handler = GavelLogHandler(stream)
    handler.setFormatter(formatter)
    handler.setLevel(level)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, GavelLogHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in UVICORN_LOGGERS:
        # uvicorn gave these handlers of its own and stopped them from propagating.
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
        uvicorn_logger.setLevel(logging.NOTSET)
    # structlog's own loggers (structlog.get_logger()) end in the same handler.
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return handler
