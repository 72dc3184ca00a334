"""The page behind the verification mail's link, `/verify-email?token=…`.

GET changes nothing: mail scanners, link previews and browsers' prefetchers open links
before (or instead of) the person they were sent to, and a GET that verified would let
them confirm an address nobody read. It checks the token (signature, purpose, expiry;
no database) and shows one button, "Confirm <address>", that POSTs it back; a bad token
gets a 400 page saying why.

POST `/verify-email` with the token (form field `token`, or a JSON body `{"token": …}`)
runs the same use case as the `verifyEmail` mutation (services/accounts.verify_email):
verifying twice is fine, a token fits one address only. The answer is a page, or JSON
when the request asks for it (a JSON body or `Accept: application/json`):

- 200 `{"ok": true}`: the address is verified;
- 400 `{"ok": false, "errors": [{"code", "message"}]}`: `INVALID_TOKEN` (malformed,
  forged, another purpose, no such account or another address now), `TOKEN_EXPIRED`
  (older than GAVEL_EMAIL_TOKEN_TTL), `BAD_REQUEST` (no token in the request);
- 503 `UNAVAILABLE` with `Retry-After`: PostgreSQL or Redis is down; retry.

Pages are `Cache-Control: no-store` (they hold the token) and load nothing
(`Content-Security-Policy: default-src 'none'`; the form posts only here).
"""

from __future__ import annotations

import html
import json
import logging

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from adapters.tokens import TokenError
from domain.errors import DomainError
from services import accounts
from services.deps import Deps
from services.unavailable import unavailable

log = logging.getLogger("gavel.accounts")

PATH = "/verify-email"
MAX_TOKEN_CHARS = 4096  # a verification JWT is a few hundred; more is no token of ours
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
}


def _page(
    title: str, body: str, status: int = 200, headers: dict[str, str] = PAGE_HEADERS
) -> HTMLResponse:
    text = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} · Gavel</title></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )
    return HTMLResponse(text, status_code=status, headers=headers)


def _refused(code: str, message: str, *, as_json: bool, status: int = 400) -> Response:
    if as_json:
        errors = [{"code": code, "message": message}]
        return JSONResponse({"ok": False, "errors": errors}, status, headers=PAGE_HEADERS)
    paragraph = f"<p>{html.escape(message)} ({html.escape(code)}).</p>"
    hint = (
        "<p>Check that the whole link was opened, or send the token with the "
        "<code>verifyEmail</code> mutation.</p>"
    )
    return _page("This link cannot verify an email", paragraph + hint, status)


def _token(raw: object) -> str | None:
    return raw if isinstance(raw, str) and 0 < len(raw) <= MAX_TOKEN_CHARS else None


class VerifyEmailPage:
    """`show` answers GET /verify-email, `confirm` POST /verify-email (starlette endpoints)."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def routes(self) -> list[Route]:
        return [
            Route(PATH, self.show, methods=["GET"]),
            Route(PATH, self.confirm, methods=["POST"]),
        ]

    async def show(self, request: Request) -> Response:
        token = _token(request.query_params.get("token"))
        if token is None:
            return _refused("BAD_REQUEST", "the link has no token", as_json=False)
        try:
            _user_id, email = self.deps.tokens.read_email_verification(token)
        except TokenError as err:
            return _refused(err.code, str(err), as_json=False)
        form = (
            f'<form method="post" action="{PATH}">'
            f'<input type="hidden" name="token" value="{html.escape(token, quote=True)}">'
            f"<p>Confirm that <strong>{html.escape(email)}</strong> is your address.</p>"
            '<button type="submit">Confirm my email</button></form>'
        )
        return _page("Verify your email", form)

    async def confirm(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        as_json = content_type.startswith("application/json") or (
            "application/json" in request.headers.get("accept", "")
        )
        token = _token(await self._read_token(request, content_type))
        if token is None:
            return _refused("BAD_REQUEST", "the request has no token", as_json=as_json)
        try:
            await accounts.verify_email(self.deps, token)
        except DomainError as err:
            return _refused(err.code, err.message, as_json=as_json)
        except Exception as err:
            down = unavailable(err)
            if down is None:
                raise
            log.warning("email verification: dependency unavailable: %r", err)
            headers = {**PAGE_HEADERS, "Retry-After": str(down.retry_after)}
            if as_json:
                return JSONResponse(
                    {"ok": False, "errors": [{"code": down.code, "message": down.message}]},
                    503,
                    headers=headers,
                )
            paragraph = f"<p>{html.escape(down.message)}.</p>"
            return _page("Please try again", paragraph, 503, headers)
        if as_json:
            return JSONResponse({"ok": True}, headers=PAGE_HEADERS)
        return _page("Your email is verified", "<p>You can close this page.</p>")

    @staticmethod
    async def _read_token(request: Request, content_type: str) -> object:
        if content_type.startswith("application/json"):
            try:
                body = json.loads(await request.body())
            except (ValueError, RecursionError):
                return None
            return body.get("token") if isinstance(body, dict) else None
        if content_type.startswith("application/x-www-form-urlencoded"):
            return (await request.form()).get("token")
        return None
