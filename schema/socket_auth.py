"""Each operation started on a WebSocket re-checks the socket's account (both protocols).

A socket authenticates once, at `connection_init` (or with its upgrade request's
`Authorization` header), but may stay open for hours. So every `subscribe`
(graphql-transport-ws) or `start` (graphql-ws), queries and mutations included, first
reads the account again through the path HTTP requests use
(`services.accounts.user_for_access_token`: a per-process cache of at most 2 s, then the
account's state in Redis), with the token the socket authenticated with:

- a banned account closes the socket with 4403, an expired token or an account that no
  longer exists with 4401 (the codes `connection_init` uses, schema/socket_session.py); the
  operation does not run;
- otherwise the operation runs with the fresh account as `context.viewer`, so a fraud
  hold or a lost email verification shows in the use case's own checks (placeBid answers
  `BidRejected` FRAUD_HOLD / NOT_VERIFIED), as over HTTP;
- when neither Redis nor PostgreSQL can answer (`Unavailable`), that operation is
  answered with the protocol's `error` message carrying
  `extensions: {code: UNAVAILABLE, retryAfter: seconds}` and does not run; the socket
  stays open for a retry.

An anonymous socket has nothing to re-check. A subscription already running is not cut
off when its token expires or its account is banned: it keeps receiving the public
auction events it subscribed to (anyone may subscribe to them anonymously) until the
client ends it or the socket closes; no new operation starts on that socket. A
subscription private to the account, `myNotifications`, ends itself: it checks its token
again on its wake-ups (services/notifications/live.py). Clients refresh their token and
reconnect before it expires.
"""

from __future__ import annotations

from typing import Any

from services.unavailable import Unavailable


class SocketAuthRefused(Exception):
    """The socket's account may no longer act: close the socket with `close_code`."""

    def __init__(self, close_code: int, reason: str) -> None:
        super().__init__(reason)
        self.close_code = close_code
        self.reason = reason


async def refused(handler: Any, operation_id: str, *, legacy: bool) -> bool:
    """Re-check the socket's account before the operation `operation_id` starts (through
    `handler.view.refresh_socket_viewer`). Returns True when the operation must not run:
    the socket was closed (4401/4403), or the check's `Unavailable` was answered as the
    operation's `error` message."""
    if not handler.connection_acknowledged:
        return False  # strawberry closes the socket itself (4401 "Unauthorized")
    try:
        await handler.view.refresh_socket_viewer(handler.context)
    except SocketAuthRefused as refusal:
        await handler.websocket.close(refusal.close_code, refusal.reason)
        return True
    except Unavailable as down:
        error = {"message": down.message, "extensions": down.extensions}
        await handler.send_message(
            {"type": "error", "id": operation_id, "payload": error if legacy else [error]}
        )
        return True
    return False
