"""Embedded Stripe: the `localstripe` emulator, wrapped so it is safe to run on a laptop.

`EmbeddedStripe` starts `python -m devservers.localstripe` (the launcher below) in its own
session, like devservers/redis.py starts Valkey. Checked against localstripe 1.15.10
(pinned in pyproject.toml); the launcher changes what its own `localstripe` command does:

- it binds all interfaces (`::`): here only 127.0.0.1, on the port given;
- it keeps its state in `/tmp/localstripe.pickle`, shared by every user and run: here
  `<data_dir>/state.pickle`, written atomically (a kill mid-write leaves the old state);
- it ignores `Idempotency-Key`: here a layer replays the first answer to a key, like
  Stripe (same key, same parameters: the same answer; other parameters: 400
  `idempotency_error`), kept in memory for the emulator's lifetime. Settlement must
  still guard its own steps: that layer is ours, not the emulator's;
- its PaymentIntents lack `amount_capturable` and `amount_received`: the launcher adds
  them (from the charge and the amount captured) so the adapter reads one shape; and it
  captures a cancelled or captured intent where Stripe answers 400: the launcher refuses;
- webhooks are registered in memory only (`POST /_config/webhooks/{id}` with `url` and
  `secret`): the launcher registers `--webhook-url` with `--webhook-secret` at every start.

What the emulator accepts, and what it does not do (the adapter's docstring repeats it):
any API key starting `sk_` (the adapter sends EMULATOR_API_KEY); no `capture_before`;
no Connect transfers; declines: `4000000000000002` is refused when attached,
`4000000000000341` (`pm_card_chargeCustomerFail`) attaches and is declined when charged.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any

from devservers import procs
from devservers.ports import is_listening

log = logging.getLogger(__name__)

LOG_NAME = "localstripe.log"
PID_NAME = "localstripe.pid"
STATE_NAME = "state.pickle"


class EmbeddedStripe:
    """One localstripe emulator with its state in `data_dir`, on 127.0.0.1:`port`.

    `webhook_url`/`webhook_secret`, when both given, make the emulator sign and POST its
    events (payment_intent.succeeded, ...) to that URL, as Stripe would.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.port = port
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """The API base to give the SDK (STRIPE_API_BASE)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / LOG_NAME

    @property
    def pid_file(self) -> Path:
        return self.data_dir / PID_NAME

    @property
    def state_file(self) -> Path:
        return self.data_dir / STATE_NAME

    def start(self, timeout: float = 30.0) -> str:
        """Start the emulator (reloading its state) and wait until it answers."""
        if self._proc is not None and self._proc.poll() is None:
            return self.url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._clear_leftover()
        self._log = self.log_file.open("ab")
        # Own session: a Ctrl-C in the terminal reaches the runner, which stops us in order.
        self._proc = subprocess.Popen(
            self._command(),
            cwd=self.data_dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "GAVEL_LOCALSTRIPE_WEBHOOK_SECRET": self.webhook_secret or ""},
            start_new_session=True,
        )
        self.pid_file.write_text(f"{self._proc.pid}\n")
        deadline = time.monotonic() + timeout
        while not _answers(self.url):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(
                    f"localstripe did not start on port {self.port}:\n"
                    f"--- {self.log_file} ---\n{procs.tail(self.log_file)}"
                )
            time.sleep(0.05)
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (aiohttp shuts down cleanly); SIGKILL after `timeout`. Safe twice."""
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._forget()

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait()
        self._forget()

    def __enter__(self) -> EmbeddedStripe:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _forget(self) -> None:
        self._proc = None
        self.pid_file.unlink(missing_ok=True)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "devservers.localstripe",
            "--port",
            str(self.port),
            "--state",
            str(self.state_file),
        ]
        if self.webhook_url and self.webhook_secret:
            # The secret goes through the environment, not argv (visible in `ps`).
            cmd += ["--webhook-url", self.webhook_url]
        return cmd

    def _clear_leftover(self) -> None:
        """A killed run may have left its emulator on this data dir: stop it."""
        pid = procs.read_pid(self.pid_file)
        if pid is None or pid == os.getpid():
            return
        name = procs.process_name(pid)
        if name and name.startswith("python"):
            log.warning("localstripe (pid %s) still running on %s; stopping it", pid, self.data_dir)
            procs.terminate(pid)
        self.pid_file.unlink(missing_ok=True)


def register_webhook(api_base: str, url: str, secret: str, name: str = "gavel") -> None:
    """Make a running emulator sign (with `secret`) and POST its events to `url` too, as a
    Stripe webhook endpoint would; `name` replaces an earlier registration of that name.
    In memory only: a restarted emulator knows just the one given to EmbeddedStripe."""
    body = urllib.parse.urlencode({"url": url, "secret": secret}).encode()
    request = urllib.request.Request(f"{api_base}/_config/webhooks/{name}", data=body)
    with urllib.request.urlopen(request, timeout=5) as response:
        response.read()


def _answers(base: str) -> bool:
    """True once the emulator serves HTTP (its Stripe.js stand-in needs no key)."""
    host, _, port = base.removeprefix("http://").partition(":")
    if not is_listening(host, int(port)):
        return False
    try:
        with urllib.request.urlopen(base + "/js.stripe.com/v3/", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


# --- The launcher: runs in the emulator's own process -----------------------------------

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


def _idempotency_middleware() -> Any:
    """Stripe's idempotent requests: a POST with `Idempotency-Key` is run once; a repeat
    with the same parameters gets the first answer again, one with other parameters a 400
    `idempotency_error`. Keys are per API key, kept for the emulator's lifetime."""
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
        async with locks.setdefault(slot, asyncio.Lock()):
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
            return response

    return idempotency


def serve(port: int, state: Path, webhook_url: str | None, webhook_secret: str | None) -> None:
    """Run localstripe's aiohttp app on 127.0.0.1:`port` until SIGTERM/SIGINT."""
    _patch_state_file(state)
    _patch_amounts()
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
    parser = argparse.ArgumentParser(prog="python -m devservers.localstripe", description=__doc__)
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
