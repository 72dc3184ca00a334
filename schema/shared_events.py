"""Execute each auction event once per distinct subscription document, not per subscriber.

graphql-core maps every subscriber's event through the operation's selection set; with
thousands of subscribers of one auction that repeats identical work thousands of times
(the largest cost in the fan-out profile, docs/performance.md). Events are interned (one
`AuctionEvent` object per auction and sequence, `intern_event`), and the execution context
below caches the result of executing an interned event by (operation, variables, event):
the first subscriber of a document executes it, the others reuse the result. Only
interned auction events are shared: their output depends on nothing per subscriber.

Serialization is shared the same way: a shared result's `{"data": …}` payload is encoded
once (`shared_payload_text`), and the socket adapter (schema/socket_session.py) splices it into each
subscriber's protocol message instead of encoding the whole message per subscriber.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.event_types import AuctionEvent

_EVENTS: OrderedDict[tuple[str, int, str], AuctionEvent] = OrderedDict()
_RESULTS: OrderedDict[tuple[int, bytes, int], tuple[Any, Any, Any]] = OrderedDict()
# id(result.data) -> (data, its encoded payload); `data` is kept so the id stays unique.
_PAYLOADS: dict[int, tuple[Any, str]] = {}
EVENTS_KEPT = 4096
RESULTS_KEPT = 4096


def intern_event(key: tuple[str, int, str], build: Callable[[], AuctionEvent]) -> AuctionEvent:
    """The one shared object for an auction event (auction id, sequence, currency)."""
    event = _EVENTS.get(key)
    if event is None:
        event = _EVENTS[key] = build()
        event._shared = True  # type: ignore[attr-defined]  # marks it for the result cache
        while len(_EVENTS) > EVENTS_KEPT:
            _EVENTS.popitem(last=False)
    return event


def variables_key(values: Any) -> bytes:
    return orjson.dumps(values, option=orjson.OPT_SORT_KEYS, default=str)


class SharedEventExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def execute_operation(self, serially: bool | None = None) -> Any:
        payload = self.root_value
        if not getattr(payload, "_shared", False):
            return super().execute_operation(serially)
        # The cache entry keeps the operation and payload alive, so their ids stay unique.
        key = (id(self.operation), variables_key(self.variable_values), id(payload))
        hit = _RESULTS.get(key)
        if hit is not None:
            return hit[2]
        result = super().execute_operation(serially)
        if inspect.isawaitable(result):
            return self._store_later(key, payload, result)
        self._store(key, payload, result)
        return result

    async def _store_later(self, key: tuple[int, bytes, int], payload: Any, pending: Any) -> Any:
        result = await pending
        self._store(key, payload, result)
        return result

    def _store(self, key: tuple[int, bytes, int], payload: Any, result: Any) -> None:
        _RESULTS[key] = (self.operation, payload, result)
        data = getattr(result, "data", None)
        if data is not None and not result.errors and not result.extensions:
            _PAYLOADS[id(data)] = (data, orjson.dumps({"data": data}).decode())
        while len(_RESULTS) > RESULTS_KEPT:
            _key, (_op, _payload, old) = _RESULTS.popitem(last=False)
            _PAYLOADS.pop(id(getattr(old, "data", None)), None)


def shared_payload_text(payload: Any) -> str | None:
    """The encoded text of a protocol message payload `{"data": …}` whose data is a shared
    result's, or None if the payload is anything else (errors, extensions, unshared)."""
    if type(payload) is not dict or len(payload) != 1:
        return None
    data = payload.get("data")
    entry = _PAYLOADS.get(id(data))
    return entry[1] if entry is not None and entry[0] is data else None
