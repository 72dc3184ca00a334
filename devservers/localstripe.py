"""Embedded Stripe: the `localstripe` emulator, wrapped so it is safe to run on a laptop.

`EmbeddedStripe` starts `python -m devservers.localstripe_launcher` in its own
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
  `secret`): the launcher registers the given URL and secret at every start.

What the emulator accepts, and what it does not do (the adapter's docstring repeats it):
any API key starting `sk_` (the adapter sends EMULATOR_API_KEY); no `capture_before`;
no Connect transfers; declines: `4000000000000002` is refused when attached,
`4000000000000341` (`pm_card_chargeCustomerFail`) attaches and is declined when charged.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import IO

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
        self._proc = procs.spawn_server(
            self._command(),
            name=f"localstripe on port {self.port}",
            cwd=self.data_dir,
            log=self._log,
            log_file=self.log_file,
            ready=lambda: _answers(self.url),
            timeout=timeout,
            env={**os.environ, "GAVEL_LOCALSTRIPE_WEBHOOK_SECRET": self.webhook_secret or ""},
        )
        self.pid_file.write_text(f"{self._proc.pid}\n")
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (aiohttp shuts down cleanly); SIGKILL after `timeout`. Safe twice."""
        if self._proc is not None:
            procs.stop_child(self._proc, timeout)
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
            "devservers.localstripe_launcher",
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
