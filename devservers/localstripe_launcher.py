"""The localstripe emulator's own process: `python -m devservers.localstripe_launcher`.

Started by devservers/localstripe.py (EmbeddedStripe), whose docstring lists what this
changes in localstripe (pinned in pyproject.toml; tests/unit/test_pinned_internals.py
checks the internals patched here). A module of its own so that `python -m` runs it
without the devservers package having imported it first.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import pickle
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

Handler = Callable[[Any], Awaitable[Any]]  # aiohttp's handler; its types stay in aiohttp


def _patch_state_file(state: Path) -> None:
    """localstripe's Store reads and writes /tmp/localstripe.pickle; point it at `state`."""
    from localstripe.resources import Store

    def try_load_from_disk(self: Any) -> None:
        try:
            with state.open("rb") as f:
                old = pickle.load(f)  # our own file, 0600 in our data folder
        except FileNotFoundError:
            return
        self.clear()
        self.update(old)

    def dump_to_disk(self: Any) -> None:
        fd, tmp = tempfile.mkstemp(dir=state.parent, prefix=".state-")
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, state)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    Store.try_load_from_disk = try_load_from_disk
    Store.dump_to_disk = dump_to_disk


def _patch_amounts() -> None:
    """Add Stripe's `amount_capturable`/`amount_received` to PaymentIntents, remember how
    much a (partial) capture took (localstripe records the rest as a refund), and refuse
    to capture an intent that holds nothing, as Stripe does."""
    from localstripe.resources import Charge, PaymentIntent, extra_apis

    capture = Charge._capture

    def _capture(self: Any, amount: Any = None, on_success: Any = None) -> None:
        capture(self, amount, on_success)
        self._gavel_captured = self.amount if amount is None else int(amount)

    def amount_capturable(self: Any) -> int:
        charge = self.latest_charge
        return int(charge.amount) if self.status == "requires_capture" else 0

    def amount_received(self: Any) -> int:
        charge = self.latest_charge
        if charge is None or self.status != "succeeded":
            return 0
        return int(getattr(charge, "_gavel_captured", charge.amount))

    intent_capture_bound = PaymentIntent._api_capture
    intent_capture = intent_capture_bound.__func__

    def _api_capture(cls: Any, /, id: Any, amount_to_capture: Any = None, **kwargs: Any) -> Any:
        # Stripe refuses to capture what is not authorized (cancelled, already captured);
        # localstripe would capture a cancelled intent's charge.
        from localstripe.errors import UserError

        intent = cls._api_retrieve(id) if isinstance(id, str) else None
        if intent is not None and intent.status != "requires_capture":
            raise UserError(
                400,
                f"This PaymentIntent could not be captured because it has a status of "
                f"{intent.status}.",
                {"code": "payment_intent_unexpected_state"},
            )
        return intent_capture(cls, id, amount_to_capture, **kwargs)

    Charge._capture = _capture
    PaymentIntent._api_capture = classmethod(_api_capture)
    # Routes are built from this list when localstripe.server is imported (after this).
    extra_apis[:] = [
        (method, url, PaymentIntent._api_capture if func == intent_capture_bound else func)
        for method, url, func in extra_apis
    ]
    PaymentIntent.amount_capturable = property(amount_capturable)
    PaymentIntent.amount_received = property(amount_received)


def _patch_lists() -> None:
    """List PaymentIntents and Charges newest first, as Stripe does, and filter them as
    Stripe can (`customer` for intents, `payment_intent` for charges): localstripe lists
    in creation order and refuses every filter, so a search for a recent intent would
    only ever see the oldest page."""
    from localstripe.errors import UserError
    from localstripe.resources import Charge, PaymentIntent

    def lister(filters: dict[str, str]) -> Any:
        original = None

        def _api_list_all(
            cls: Any, /, url: Any, limit: Any = None, starting_after: Any = None, **kwargs: Any
        ) -> Any:
            wanted = {attr: kwargs.pop(param) for param, attr in filters.items() if param in kwargs}
            if kwargs:
                raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
            li = original(url, limit, starting_after)  # type: ignore[misc]
            found = [o for o in li._list if all(_ref(o, a) == v for a, v in wanted.items())]
            # `created` is in whole seconds: the store's order breaks ties (it is creation's).
            li._list = [o for _, o in sorted(enumerate(found), key=_newest, reverse=True)]
            return li

        def bind(cls: Any) -> Any:
            nonlocal original
            original = cls._api_list_all
            return classmethod(_api_list_all)

        return bind

    PaymentIntent._api_list_all = lister({"customer": "customer"})(PaymentIntent)
    Charge._api_list_all = lister({"payment_intent": "payment_intent"})(Charge)


def _newest(entry: tuple[int, Any]) -> tuple[int, int]:
    return (int(entry[1].created), entry[0])


def _ref(obj: Any, attr: str) -> Any:
    """An attribute that may hold an id or the object itself, as its id."""
    value = getattr(obj, attr, None)
    return getattr(value, "id", value)


MAX_IDEMPOTENCY_KEYS = 100_000


def _idempotency_middleware() -> Any:
    """Stripe's idempotent requests: a POST with `Idempotency-Key` is run once; a repeat
    with the same parameters gets the first answer again, one with other parameters a 400
    `idempotency_error`. Keys are per API key, kept for the emulator's lifetime (the last
    MAX_IDEMPOTENCY_KEYS of them)."""
    from aiohttp import web

    answers: dict[tuple[str, str], tuple[str, int, bytes, str]] = {}
    locks: dict[tuple[str, str], asyncio.Lock] = {}

    @web.middleware
    async def idempotency(request: web.Request, handler: Handler) -> web.StreamResponse:
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key:
            passed: web.StreamResponse = await handler(request)
            return passed
        slot = (request.headers.get("Authorization", ""), key)
        body = await request.read()  # aiohttp caches it for the handler
        fingerprint = hashlib.sha256(request.path.encode() + b"\0" + body).hexdigest()
        lock = locks.setdefault(slot, asyncio.Lock())
        try:
            return await _once(slot, fingerprint, request, handler, lock)
        finally:
            if not lock.locked():
                locks.pop(slot, None)

    async def _once(
        slot: tuple[str, str],
        fingerprint: str,
        request: web.Request,
        handler: Handler,
        lock: asyncio.Lock,
    ) -> web.StreamResponse:
        async with lock:
            if (seen := answers.get(slot)) is not None:
                first, status, text, content_type = seen
                if first != fingerprint:
                    return web.json_response(
                        {
                            "error": {
                                "type": "idempotency_error",
                                "message": "Keys for idempotent requests can only be used "
                                "with the same parameters they were first used with.",
                            }
                        },
                        status=400,
                    )
                return web.Response(
                    body=text,
                    status=status,
                    content_type=content_type,
                    headers={"Idempotent-Replayed": "true"},
                )
            response: web.StreamResponse = await handler(request)
            if isinstance(response, web.Response) and response.status < 500:
                raw = response.body if isinstance(response.body, bytes) else b""
                answers[slot] = (fingerprint, response.status, raw, response.content_type)
                if len(answers) > MAX_IDEMPOTENCY_KEYS:
                    answers.pop(next(iter(answers)))
            return response

    return idempotency


def serve(port: int, state: Path, webhook_url: str | None, webhook_secret: str | None) -> None:
    """Run localstripe's aiohttp app on 127.0.0.1:`port` until SIGTERM/SIGINT."""
    _patch_state_file(state)
    _patch_amounts()
    _patch_lists()
    from aiohttp import web
    from localstripe import server
    from localstripe.resources import store
    from localstripe.webhooks import register_webhook

    store.try_load_from_disk()
    if webhook_url and webhook_secret:
        register_webhook("gavel", webhook_url, webhook_secret, None)
    server.app.middlewares.insert(0, _idempotency_middleware())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    web.run_app(server.app, host="127.0.0.1", port=port, print=None, access_log=None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devservers.localstripe_launcher", description=__doc__
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--webhook-url")
    args = parser.parse_args(argv)
    secret = os.environ.get("GAVEL_LOCALSTRIPE_WEBHOOK_SECRET") or None
    os.umask(0o077)  # the state file holds customers and intents: ours only
    serve(args.port, args.state.absolute(), args.webhook_url, secret)
    return 0


if __name__ == "__main__":
    sys.exit(main())
