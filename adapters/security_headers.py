"""ASGI middleware adding browser security headers to every HTTP answer.

Every answer: `X-Content-Type-Options: nosniff` (a browser renders nothing as a type it
guessed) and `Referrer-Policy: no-referrer` (URLs, which may carry ids or tokens, never
leak to another site). HTML answers (GraphiQL, the admin UI) also forbid framing by any
other page: `Content-Security-Policy: frame-ancestors 'none'` and the older
`X-Frame-Options: DENY`, against clickjacking. A header the app already set is kept.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALWAYS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"))
HTML_ONLY = (
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                html = any(
                    name.lower() == b"content-type" and value.lower().startswith(b"text/html")
                    for name, value in headers
                )
                for name, value in (*ALWAYS, *HTML_ONLY) if html else ALWAYS:
                    if name not in present:
                        headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
