"""HTTP answers of the GraphQL app (schema/app.py) given before or around GraphQL: a
refusal as a JSON GraphQL error, too many streams, and reading a body ahead (the
compiled bid path) without losing it for the normal path."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive

from schema.request_errors import BAD_REQUEST
from services.limits import RateLimited


def http_refusal(
    status: int, message: str, *, code: str | None = None, error_id: str | None = None
) -> Response:
    """A request refused before any GraphQL ran, as a JSON GraphQL error response."""
    codes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
    extensions: dict[str, str] = {"code": code or codes.get(status, BAD_REQUEST)}
    if error_id is not None:
        extensions["errorId"] = error_id
    return JSONResponse(
        {"errors": [{"message": message, "extensions": extensions}]}, status_code=status
    )


# The seconds a client refused for too many live connections is told to wait: a place
# frees when one of its own streams or sockets ends, which no clock predicts.
STREAM_RETRY_AFTER = 5


def too_many_streams(per_ip: int) -> Response:
    err = RateLimited(f"live connections from this address (at most {per_ip})", STREAM_RETRY_AFTER)
    error = {
        "message": err.message,
        "extensions": {"code": err.code, "retryAfter": err.retry_after},
    }
    return JSONResponse(
        {"errors": [error]}, status_code=429, headers={"Retry-After": str(err.retry_after)}
    )


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # disconnected: the normal path sees the same
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the already-read body over once, then listens on."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
