"""One rule for "a dependency failed" (services/unavailable.py): what counts, and what not."""

from __future__ import annotations

import asyncpg
import pytest
import redis.exceptions as redis_errors
from graphql import GraphQLError
from sqlalchemy import exc as sa_errors

from domain.errors import ValidationFailed
from services.unavailable import Unavailable, unavailable


def wrapped_by_sqlalchemy(driver_error: Exception) -> sa_errors.DBAPIError:
    return sa_errors.DBAPIError("SELECT 1", None, driver_error)


@pytest.mark.parametrize(
    "error",
    [
        redis_errors.ConnectionError("Connection closed by server."),
        redis_errors.TimeoutError("Timeout reading from socket"),
        redis_errors.BusyLoadingError("LOADING Valkey is loading the dataset in memory"),
        redis_errors.ClusterDownError("CLUSTERDOWN The cluster is down"),
        redis_errors.TryAgainError("TRYAGAIN"),
        redis_errors.ReadOnlyError("READONLY You can't write against a read only replica."),
        redis_errors.MaxConnectionsError("Too many connections"),
        ConnectionRefusedError(111, "Connect call failed"),
        OSError("Multiple exceptions: [Errno 111] Connect call failed"),
        TimeoutError(),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.TooManyConnectionsError("too many clients"),
        sa_errors.OperationalError("SELECT 1", None, Exception("server closed the connection")),
        sa_errors.InterfaceError("SELECT 1", None, Exception("connection is closed")),
        sa_errors.TimeoutError("QueuePool limit of size 10 overflow 10 reached"),
        wrapped_by_sqlalchemy(asyncpg.exceptions.ConnectionDoesNotExistError("closed")),
        GraphQLError("wrapped", original_error=redis_errors.ConnectionError("reset")),
    ],
    ids=lambda e: type(e).__name__,
)
def test_dependency_failures_are_unavailable(error: Exception):
    down = unavailable(error)
    assert isinstance(down, Unavailable)
    assert down.extensions == {"code": "UNAVAILABLE", "retryAfter": down.retry_after}
    assert down.retry_after > 0


def test_a_cause_raised_from_counts():
    try:
        try:
            raise redis_errors.ConnectionError("gone")
        except redis_errors.ConnectionError as err:
            raise RuntimeError("lookup failed") from err
    except RuntimeError as outer:
        assert unavailable(outer) is not None


@pytest.mark.parametrize(
    "error",
    [
        KeyError("x"),
        ValueError("bad"),
        ValidationFailed("bad input"),
        redis_errors.ResponseError("WRONGTYPE Operation against a key"),
        redis_errors.AuthenticationError("invalid password"),  # our configuration, not an outage
        sa_errors.IntegrityError("INSERT", None, Exception("duplicate key")),
        sa_errors.DataError("INSERT", None, Exception("invalid input syntax")),
        FileNotFoundError("media/x.png"),
        PermissionError("media"),
        GraphQLError("plain"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_other_errors_are_not(error: Exception):
    assert unavailable(error) is None


def test_an_error_raised_while_handling_an_outage_is_its_own_fault():
    try:
        try:
            raise redis_errors.ConnectionError("gone")
        except redis_errors.ConnectionError:
            raise KeyError("a bug in the handler")  # noqa: B904 (implicit chaining on purpose)
    except KeyError as err:
        assert unavailable(err) is None
