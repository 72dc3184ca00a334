"""One rule for "a dependency failed": PostgreSQL or Redis down, restarting or too slow.

Such a failure is not the client's mistake and not a bug of ours: the same request
should succeed a moment later. Every transport answers it the same way, a GraphQL error
with `extensions {code: "UNAVAILABLE", retryAfter: <seconds>}` (and, where that error is
the whole HTTP response, status 503 with a `Retry-After` header), never a raw 500 and
never `INTERNAL`. The error masking (schema/errors.py), the compiled bid path, the ASGI
app and the WebSocket handshake all ask `unavailable()` here, so they agree on what
counts.

What counts: connection-level errors of redis-py (refused, reset, timed out, the server
still loading its data, a cluster without a master for a slot, a read-only replica
during a failover, an exhausted pool), SQLAlchemy/asyncpg connection errors (refused,
closed, the server shutting down or starting up, too many connections, a pool checkout
timeout), and socket-level OSErrors. Wrong credentials are configuration errors, not
outages: they stay INTERNAL (logged), as does anything else.
"""

from __future__ import annotations

import asyncpg
import redis.exceptions as redis_errors
from sqlalchemy import exc as sa_errors

RETRY_AFTER_SECONDS = 2  # about one reconnect attempt of the pools; clients add jitter
CODE = "UNAVAILABLE"

_REDIS_DOWN: tuple[type[BaseException], ...] = (
    redis_errors.ConnectionError,  # includes BusyLoadingError, MaxConnectionsError
    redis_errors.TimeoutError,
    redis_errors.ClusterDownError,  # includes MasterDownError
    redis_errors.TryAgainError,
    redis_errors.ReadOnlyError,
    redis_errors.SlotNotCoveredError,
)
_REDIS_MISCONFIGURED: tuple[type[BaseException], ...] = (
    redis_errors.AuthenticationError,
    redis_errors.AuthorizationError,
)
_POSTGRES_DOWN: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # connection does not exist, cannot connect now...
    asyncpg.InterfaceError,  # "connection is closed", "another operation is in progress"
    asyncpg.exceptions.OperatorInterventionError,  # admin/crash shutdown, cannot connect now
    asyncpg.exceptions.TooManyConnectionsError,
    sa_errors.DisconnectionError,
    sa_errors.TimeoutError,  # the engine's pool: no connection within its timeout
)
_TOO_MANY_ARGUMENTS = "number of query arguments cannot exceed"
# Local filesystem mistakes are bugs, not a dependency being down.
_NOT_NETWORK: tuple[type[BaseException], ...] = (
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)


class Unavailable(Exception):
    """A dependency failed; the client may retry after `retry_after` seconds.

    Not a `DomainError` on purpose: mutations turn those into payload errors, while this
    must stay a GraphQL error with its retry hint wherever it happens.
    """

    code = CODE

    def __init__(
        self,
        message: str = "a service Gavel depends on is unavailable; retry shortly",
        *,
        retry_after: int = RETRY_AFTER_SECONDS,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after

    @property
    def extensions(self) -> dict[str, object]:
        return {"code": self.code, "retryAfter": self.retry_after}

    def response_body(self) -> dict[str, object]:
        """The whole GraphQL response when nothing could run (request error shape)."""
        return {"errors": [{"message": self.message, "extensions": self.extensions}]}


def _is_dependency_failure(err: BaseException) -> bool:
    if isinstance(err, Unavailable):
        return True
    if _TOO_MANY_ARGUMENTS in str(err):
        # asyncpg reports a statement with over 32,767 parameters as an InterfaceError:
        # a request too large for one statement (our bug to bound), not an outage.
        return False
    if isinstance(err, _REDIS_MISCONFIGURED):
        return False
    if isinstance(err, _REDIS_DOWN + _POSTGRES_DOWN):
        return True
    if isinstance(err, sa_errors.DBAPIError):
        # OperationalError/InterfaceError are the DBAPI's connection-level classes; any
        # other class counts only when SQLAlchemy saw the connection die under it.
        return err.connection_invalidated or isinstance(
            err, sa_errors.OperationalError | sa_errors.InterfaceError
        )
    return isinstance(err, OSError) and not isinstance(err, _NOT_NETWORK)


def unavailable(err: BaseException) -> Unavailable | None:
    """`err` as an `Unavailable` if it (or what caused it) is a dependency failure."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen and len(seen) < 8:
        seen.add(id(current))
        if _is_dependency_failure(current):
            return current if isinstance(current, Unavailable) else Unavailable()
        # SQLAlchemy keeps the driver's error in `orig`, graphql-core the resolver's in
        # `original_error`; `raise ... from` chains the rest. An error raised while
        # handling another (implicit `__context__`) is its own fault, not followed.
        wrapped = getattr(current, "orig", None) or getattr(current, "original_error", None)
        current = wrapped if isinstance(wrapped, BaseException) else current.__cause__
    return None
