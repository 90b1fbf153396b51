"""`papertide serve`: run the web site."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from papertide.cli.common import console, fail, open_store, settings_of
from papertide.cli.errors import GIVEN
from papertide.lifetime import SUPERVISOR_ENV, process_alive

if TYPE_CHECKING:
    import socket

    from papertide.config import Settings

METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's multiprocess directory
GRACE_SECONDS = 2  # requests still running after SIGTERM get this long
STARTUP_FAILURE = 3  # a worker could not start (uvicorn's code, web/startup.py)


def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, "--host", help="Address to bind (setting: host)."),
    port: int | None = typer.Option(None, "--port", "-p", help="Port (setting: port)."),
    workers: int | None = typer.Option(
        None, "--workers", "-w", help="Worker processes (setting: workers)."
    ),
    threads: int | None = typer.Option(
        None,
        "--threads",
        min=1,
        max=64,
        help="Requests each worker handles at once (setting: threads; default 2).",
    ),
) -> None:
    """Serve the site and API.

    One worker per core is the usual choice (`--workers 2` on two cores); each handles
    --threads requests at once, lets serve.queue more wait, and answers the rest 503 with
    Retry-After at once (/healthz, /metrics and static files are never refused).

    Example:  papertide serve --port 8080 --workers 2
    """
    # sockets, selectors, threads: not for --help
    from papertide.starting import BALANCES_REUSED_PORTS, EarlyListener

    settings = settings_of(ctx)
    host = host or settings.host
    port = port or settings.port
    count = workers or settings.workers
    # Listen before anything slow (the web stack's imports, the store, the index): a
    # starting node answers 503 "starting" with Retry-After, never "connection refused".
    run = prepare_run_dir(settings.data_dir, os.getpid())
    # Several workers on Linux: a socket each on the port (starting.OwnSocket); this one
    # answers until every worker listens, then closes.
    own = count > 1 and BALANCES_REUSED_PORTS and settings.serve.socket_per_worker
    sock = _listen(host, port, reuse_port=own)
    early = EarlyListener(
        sock,
        taken_over=lambda: len(list(run.glob("index-*.json"))) >= (count if own else 1),
        close_after=own,
    )
    early.start()
    _hand_down(settings, threads)
    os.environ[METRICS_ENV] = str(run)  # read once, by prometheus_client (web/metrics.py)
    _refuse_a_newer_schema(settings)
    console.print(f"papertide on [bold]http://{host}:{port}[/] (Ctrl-C stops it)")
    failed = _run_uvicorn(settings, sock, count, own_sockets=own)
    early.stop()
    if failed:
        raise typer.Exit(STARTUP_FAILURE)


def _listen(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """The site's listening socket, or one line on what stands in the way."""
    from papertide.starting import bind

    try:
        return bind(host, port, reuse_port=reuse_port)
    except OSError as exc:
        taken = " (another process listens there: stop it, or choose --port)"
        why = f"{exc.strerror}{taken if exc.errno == errno.EADDRINUSE else ''}"
        raise fail(f"cannot listen on {host}:{port}: {why}", GIVEN) from None


def _hand_down(settings: Settings, threads: int | None) -> None:
    """Worker processes build their own Settings from the environment: hand ours down."""
    os.environ["PAPERTIDE_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        os.environ["PAPERTIDE_DATABASE_URL"] = settings.database_url
    if threads:
        os.environ["PAPERTIDE_THREADS"] = str(threads)
    if settings.config_file:
        os.environ["PAPERTIDE_CONFIG_FILE"] = str(settings.config_file)
    os.environ[SUPERVISOR_ENV] = str(os.getpid())  # workers stop if this process dies


def _run_uvicorn(
    settings: Settings, sock: socket.socket, workers: int, *, own_sockets: bool = False
) -> bool:
    """uvicorn on ``sock`` (or, with ``own_sockets``, each worker on a socket of its own on
    the same port) until it stops; whether a worker failed to start."""
    import uvicorn

    from papertide.logs import log_config

    config = uvicorn.Config(
        "papertide.web:create_app_from_env",
        factory=True,
        workers=workers,
        log_level="info",
        log_config=log_config(json=settings.serve.log_json),
        access_log=False,  # web/front.py writes it, with the request id
        # Limits and read timeouts uvicorn's own httptools protocol lacks (web/protocol.py).
        http="papertide.web.protocol:LimitedHttpToolsProtocol",
        timeout_keep_alive=settings.serve.keep_alive_seconds,
        # Requests still running this long after SIGTERM are cut (the app's own shutdown
        # takes at most 2 s more: within 5 s in all, whatever is being built).
        timeout_graceful_shutdown=GRACE_SECONDS,
        # X-Forwarded-For names the client only on requests from a configured proxy (uvicorn
        # would otherwise believe it from 127.0.0.1, and any local client could skip limits).
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies,
    )
    if workers > 1:
        from papertide.starting import OwnSocket
        from papertide.supervise import Supervisor

        host, port = sock.getsockname()[:2]
        shared: Any = [OwnSocket(host, port)] if own_sockets else [sock]
        supervisor = Supervisor(config, sockets=shared)
        supervisor.run()
        return any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes)
    # The app is imported before uvicorn takes over SIGTERM, which it would obey only once
    # the import is done (seconds): until then SIGTERM ends the process at once.
    config.load()
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    return not server.started


def _refuse_a_newer_schema(settings: Settings) -> None:
    """A database a newer papertide migrated is one line here, before the server starts (in
    the app's start-up it was uvicorn's traceback of Alembic's error, and exit 3 anyway)."""
    from sqlalchemy.exc import OperationalError

    store = open_store(settings, migrate=False)
    try:
        store.refuse_newer(store.schema_revision())
    except OperationalError:
        pass  # a database that does not answer: the app's start-up deals with it
    finally:
        store.close()


def prepare_run_dir(data_dir: Path, pid: int) -> Path:
    """An empty directory for the `serve` process ``pid``, in DATA_DIR/run, where every
    worker writes its metrics, which /metrics adds up (prometheus-client's multiprocess
    mode; web/metrics.py), and its index position (web/workers.py); those of runs whose
    process is gone are removed (a killed run leaves its files behind)."""
    base = data_dir / "run"
    for old in base.glob("metrics-*"):
        owner = old.name.removeprefix("metrics-")
        if owner.isdigit() and (int(owner) == pid or not process_alive(int(owner))):
            shutil.rmtree(old, ignore_errors=True)
    folder = base / f"metrics-{pid}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command()(serve)
