"""`python -m devservers run|up`: the one-command dev runner (used by `make run`).

`run` starts embedded PostgreSQL and Redis (unless DATABASE_URL / REDIS_URL point
elsewhere) and the Stripe emulator (unless STRIPE_API_KEY / STRIPE_API_BASE are set),
migrates, loads the seed data and serves the app in the foreground; Ctrl-C or SIGTERM
stops the app first, then the servers. `up` only starts the servers.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

from dotenv import load_dotenv

from adapters.logging_setup import LOG_FORMATS, LOG_LEVELS, configure_logging
from devservers.app_server import stop_wait, uvicorn_command
from devservers.ports import is_listening
from devservers.postgres import embedded_url
from devservers.stack import StackUrls, embedded_stack, stripe_emulated
from settings import Settings, production_problems

log = logging.getLogger("devservers")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG_PORT = 5433
DEFAULT_REDIS_PORT = 6380
DEFAULT_STRIPE_PORT = 8420
_PR_SET_PDEATHSIG = 1


class Shutdown(Exception):
    """Raised from the signal handler so every `with`/`finally` runs on Ctrl-C/SIGTERM."""


def _ignore_signals() -> None:
    """From here on we are shutting down anyway; a second Ctrl-C must not abort that."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    _ignore_signals()
    raise Shutdown(signal.Signals(signum).name)


def _install_signal_handlers() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)


def _data_dir() -> Path:
    raw = os.environ.get("GAVEL_DATA_DIR")
    return Path(raw).absolute() if raw else REPO_ROOT / ".gavel-data"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _persistent_secret(env_name: str, path: Path) -> str:
    """The env value if set, else a random secret generated once and kept in `path`.

    Kept on disk so tokens and admin sessions survive a restart of the dev server. In
    production (GAVEL_ENV=production) nothing is generated or read from disk: the app then
    refuses to start until the operator sets a real secret.
    """
    if value := os.environ.get(env_name):
        return value
    if _production():
        return ""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


def _ports() -> tuple[int, int]:
    """Fixed ports by default, so a developer's tools keep working across restarts."""
    return _env_int("GAVEL_PG_PORT", DEFAULT_PG_PORT), _env_int(
        "GAVEL_REDIS_PORT", DEFAULT_REDIS_PORT
    )


def _print_urls(urls: StackUrls) -> None:
    for name, url, server in (
        ("PostgreSQL", urls.database_url, urls.postgres),
        ("Redis     ", urls.redis_url, urls.redis),
    ):
        origin = f"embedded, data in {server.data_dir}" if server else "from the environment"
        print(f"  {name} {url}  ({origin})", flush=True)
    if urls.stripe is not None:
        print(f"  Stripe     {urls.stripe.url}  (emulator, data in {urls.stripe.data_dir})")
    else:
        print(f"  Stripe     {urls.stripe_api_base or 'api.stripe.com'}  (STRIPE_API_KEY)")


def _stripe_port() -> int:
    return _env_int("GAVEL_STRIPE_EMULATOR_PORT", DEFAULT_STRIPE_PORT)


def _stripe_webhook_secret(data_dir: Path) -> str | None:
    """For the emulator, the env's or one generated once (like the other dev secrets);
    for real Stripe only the env's (`stripe listen` prints it)."""
    if stripe_emulated():
        return _persistent_secret("STRIPE_WEBHOOK_SECRET", data_dir / "stripe-webhook-secret")
    return os.environ.get("STRIPE_WEBHOOK_SECRET") or None


def _stripe_env(urls: StackUrls, webhook_secret: str | None) -> dict[str, str]:
    env = {"STRIPE_API_BASE": urls.stripe_api_base} if urls.stripe_api_base else {}
    if webhook_secret:
        env["STRIPE_WEBHOOK_SECRET"] = webhook_secret
    return env


def _run_step(cmd: list[str], env: Mapping[str, str]) -> None:
    shown = ["python", *cmd[1:]] if cmd[0] == sys.executable else cmd
    log.info("$ %s", " ".join(shown))
    result = subprocess.run(cmd, cwd=REPO_ROOT, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"devservers: step failed ({result.returncode}): {' '.join(cmd)}")


def _die_with_parent() -> None:
    """In the app's process: get SIGTERM if the runner dies (even by SIGKILL), so an
    orphaned uvicorn never keeps holding the port. Linux only; elsewhere a no-op."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _serve(cmd: list[str], env: Mapping[str, str], host: str, port: int) -> int:
    """Run the app in the foreground until it exits or we are told to stop."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    # Own session: the terminal's Ctrl-C reaches only us, and we stop the app exactly once.
    app = subprocess.Popen(
        cmd, cwd=REPO_ROOT, env=env, start_new_session=True, preexec_fn=_die_with_parent
    )
    try:
        announced = False
        while True:
            try:
                return app.wait(timeout=0.25)
            except subprocess.TimeoutExpired:
                pass
            if not announced and is_listening(shown, port):
                announced = True
                print(
                    f"\n  Gavel is up:\n"
                    f"    GraphiQL  http://{shown}:{port}/graphql\n"
                    f"    Admin app http://{shown}:{port}/admin{_admin_hint(env)}\n"
                    f"  Ctrl-C stops the app, then the servers.\n",
                    flush=True,
                )
    except Shutdown as stop:
        # SIGTERM: the app's graceful shutdown (gavel_app.py): live streams end, requests
        # in flight are answered, the persister's final drain runs. Only if that takes
        # longer than its settings allow is the app killed.
        log.info("%s received, stopping the app", stop)
        started = time.monotonic()
        app.terminate()
        patience = stop_wait(env)
        try:
            app.wait(patience)
            log.info("app stopped in %.1fs", time.monotonic() - started)
        except subprocess.TimeoutExpired:
            log.warning("app did not stop within %.0fs, killing it", patience)
            app.kill()
            app.wait()
        return 0


def _start_demo_bidding(host: str, port: int, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """seeds/demo_activity.py against the app about to listen (GAVEL_DEMO_BID_SECONDS)."""
    return subprocess.Popen(
        [sys.executable, "-m", "seeds.demo_activity", f"http://{host}:{port}"],
        cwd=REPO_ROOT,
        env=env,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def _admin_hint(env: Mapping[str, str]) -> str:
    """The banner's note on the admin app: how to sign in to the demo, or that this
    process does not serve it (GAVEL_ADMIN_UI=false)."""
    if env.get("GAVEL_ADMIN_UI", "").strip().lower() in ("0", "false", "no", "off"):
        return "  (off: GAVEL_ADMIN_UI=false)"
    if _production():
        return ""
    return "  (demo: admin@gavel.test / gavel-admin-password; sellers: see the logins above)"


def _production() -> bool:
    return os.environ.get("GAVEL_ENV", "").strip().lower() == "production"


def refuse_unsafe_production() -> None:
    """In production `make run` starts nothing until the settings are safe: no embedded
    servers (they would hold real data under the dev defaults) and never the demo data,
    whose accounts have published passwords. Raises SystemExit with every problem."""
    if not _production():
        return
    problems = production_problems(Settings())
    for name in ("DATABASE_URL", "REDIS_URL"):
        if not os.environ.get(name) and f"{name} is not set" not in problems:
            problems.append(f"{name} is not set")
    if problems:
        raise SystemExit(
            "devservers: refusing to run with GAVEL_ENV=production (production starts no "
            "embedded servers and loads no demo data): " + "; ".join(problems)
        )


def cmd_run() -> int:
    refuse_unsafe_production()
    data_dir = _data_dir()
    pg_port, redis_port = _ports()
    host = os.environ.get("GAVEL_HOST") or "127.0.0.1"
    port = _env_int("GAVEL_PORT", 8000)
    jwt_secret = _persistent_secret("GAVEL_JWT_SECRET", data_dir / "jwt-secret")
    storage_secret = _persistent_secret(
        "GAVEL_ADMIN_STORAGE_SECRET", data_dir / "admin-storage-secret"
    )
    webhook_secret = _stripe_webhook_secret(data_dir)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    started = time.monotonic()
    try:
        with embedded_stack(
            data_dir,
            pg_port=pg_port,
            redis_port=redis_port,
            stripe_port=_stripe_port(),
            # The emulator signs its events and POSTs them to the app, as Stripe would.
            stripe_webhook_url=f"http://{shown}:{port}/webhooks/stripe",
            stripe_webhook_secret=webhook_secret,
        ) as urls:
            log.info("servers ready in %.1fs", time.monotonic() - started)
            _print_urls(urls)
            env = {
                **os.environ,
                "DATABASE_URL": urls.database_url,
                "REDIS_URL": urls.redis_url,
                "GAVEL_DATA_DIR": str(data_dir),
                "GAVEL_JWT_SECRET": jwt_secret,
                "GAVEL_ADMIN_STORAGE_SECRET": storage_secret,
                **_stripe_env(urls, webhook_secret),
            }
            _run_step([sys.executable, "-m", "alembic", "upgrade", "head"], env)
            if not _production():  # demo accounts have published passwords
                _run_step([sys.executable, "-m", "seeds"], env)
            uvicorn = uvicorn_command(host, port, env=env)
            # The demo comes alive: seeded bidders bid now and then (seeds/demo_activity.py).
            demo = None if _production() else _start_demo_bidding(shown, port, env)
            try:
                code = _serve(uvicorn, env, host, port)
            finally:
                if demo is not None:
                    demo.terminate()
            _ignore_signals()
            log.info("stopping servers")
            return code
    except Shutdown as stop:
        log.info("%s received, servers stopped", stop)
        return 0


def cmd_up() -> int:
    data_dir = _data_dir()
    pg_port, redis_port = _ports()
    webhook_secret = _stripe_webhook_secret(data_dir)
    port = _env_int("GAVEL_PORT", 8000)
    try:
        with embedded_stack(
            data_dir,
            pg_port=pg_port,
            redis_port=redis_port,
            stripe_port=_stripe_port(),
            stripe_webhook_url=f"http://127.0.0.1:{port}/webhooks/stripe",
            stripe_webhook_secret=webhook_secret,
        ) as urls:
            _print_urls(urls)
            exports = "".join(
                f"export {name}={value}\n" for name, value in _stripe_env(urls, None).items()
            )
            if urls.stripe is not None:  # the secret stays in its file, out of the terminal
                secret_file = data_dir / "stripe-webhook-secret"
                exports += f"export STRIPE_WEBHOOK_SECRET=$(cat {secret_file})\n"
            print(
                f"\nexport DATABASE_URL={urls.database_url}\n"
                f"export REDIS_URL={urls.redis_url}\n{exports}\n"
                "Servers are up; Ctrl-C stops them.",
                flush=True,
            )
            while True:
                time.sleep(3600)
    except Shutdown as stop:
        log.info("%s received, servers stopped", stop)
        return 0


def _configure_logging(fmt: str | None, level: str | None) -> None:
    """The runner logs like the app it starts, which inherits the flags as settings."""
    if fmt:
        os.environ["GAVEL_LOG_FORMAT"] = fmt
    if level:
        os.environ["GAVEL_LOG_LEVEL"] = level
    fmt = os.environ.get("GAVEL_LOG_FORMAT", "console").strip().lower()
    level = os.environ.get("GAVEL_LOG_LEVEL", "INFO").strip().upper()
    if fmt not in LOG_FORMATS or level not in LOG_LEVELS:
        raise SystemExit(
            f"devservers: GAVEL_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)} and "
            f"GAVEL_LOG_LEVEL one of {', '.join(LOG_LEVELS)}"
        )
    configure_logging(level, "json" if fmt == "json" else "console")


def cmd_tool(module: list[str]) -> int:
    """Run a maintenance command (`python -m <module> ...`, e.g. the reindex) against the
    servers `make run` or `make up` started: their URLs, from the same port settings,
    unless DATABASE_URL / REDIS_URL are set."""
    pg_port, redis_port = _ports()
    env = dict(os.environ)
    if not env.get("DATABASE_URL"):
        if not is_listening("127.0.0.1", pg_port):
            raise SystemExit(
                f"devservers: no PostgreSQL on port {pg_port} (GAVEL_PG_PORT): start Gavel "
                "with `make run` (same GAVEL_PG_PORT) first, or set DATABASE_URL"
            )
        env["DATABASE_URL"] = embedded_url(pg_port)
    env.setdefault("REDIS_URL", f"redis://127.0.0.1:{redis_port}/0")
    return subprocess.call([sys.executable, "-m", *module], env=env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devservers", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("run", "servers + migrations + seeds + the app in the foreground"),
        ("up", "only the servers; prints export lines for their URLs"),
    ):
        command = sub.add_parser(name, help=text)
        command.add_argument(
            "--log-format", choices=LOG_FORMATS, help="sets GAVEL_LOG_FORMAT (default console)"
        )
        command.add_argument(
            "--log-level", choices=LOG_LEVELS, type=str.upper, help="sets GAVEL_LOG_LEVEL"
        )
    tool = sub.add_parser(
        "tool", help="run `python -m MODULE ...` against the running dev servers (make reindex)"
    )
    tool.add_argument("module", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "tool":
        load_dotenv(REPO_ROOT / ".env", override=False)
        return cmd_tool(args.module)

    # Same source of settings as the app: real env first, then the repo's `.env`.
    load_dotenv(REPO_ROOT / ".env", override=False)
    _configure_logging(args.log_format, args.log_level)
    _install_signal_handlers()
    try:
        return cmd_run() if args.command == "run" else cmd_up()
    except RuntimeError as err:
        # A server that cannot start is almost always a port another program holds; the
        # server's own log is in the message.
        raise SystemExit(
            f"devservers: {err}\n\nIs the port taken? Each one is a setting: GAVEL_PORT (8000), "
            "GAVEL_PG_PORT (5433), GAVEL_REDIS_PORT (6380), GAVEL_STRIPE_EMULATOR_PORT (8420); "
            "see the README's *The two commands*."
        ) from None


if __name__ == "__main__":
    sys.exit(main())
