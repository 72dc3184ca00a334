"""Subscribe messages per socket (GAVEL_RATE_WS_SUBSCRIBE), for both WebSocket protocols.

A refused `subscribe` (graphql-transport-ws) or `start` (graphql-ws) runs nothing and is
answered with the protocol's `error` message for that operation id, carrying
`extensions: {code: RATE_LIMITED, retryAfter: seconds}`; the socket stays open.
"""

from __future__ import annotations

from typing import Any

from adapters.rate_limits import Rate
from adapters.ws_limits import LocalBucket
from services.limits import RateLimited

_BUCKET = "_gavel_subscribe_bucket"


def _rate(handler: Any) -> Rate | None:
    throttle = getattr(getattr(handler.view, "deps", None), "throttle", None)
    rates = getattr(throttle, "rates", None)
    return rates.ws_subscribe if rates is not None else None


async def refused(handler: Any, operation_id: str, *, legacy: bool) -> bool:
    """Take a token of the socket's bucket; if there is none, answer the error and
    return True (the caller then drops the message)."""
    bucket: LocalBucket | None = getattr(handler, _BUCKET, None)
    if bucket is None:
        rate = _rate(handler)
        if rate is None:
            return False
        bucket = LocalBucket(rate)
        setattr(handler, _BUCKET, bucket)
    wait = bucket.take()
    if wait <= 0:
        return False
    err = RateLimited("subscribe messages on this socket", wait)
    error = {
        "message": err.message,
        "extensions": {"code": err.code, "retryAfter": err.retry_after},
    }
    await handler.send_message(
        {"type": "error", "id": operation_id, "payload": error if legacy else [error]}
    )
    return True
