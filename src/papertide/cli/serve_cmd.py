"""`papertide serve`: run the web site."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import typer

from papertide.cli.common import console, settings_of
from papertide.lifetime import SUPERVISOR_ENV, process_alive

METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's multiprocess directory


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
    import uvicorn

    from papertide.logs import log_config

    settings = settings_of(ctx)
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    # Worker processes build their own Settings from the environment: hand ours down.
    os.environ["PAPERTIDE_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        os.environ["PAPERTIDE_DATABASE_URL"] = settings.database_url
    if threads:
        os.environ["PAPERTIDE_THREADS"] = str(threads)
    if settings.config_file:
        os.environ["PAPERTIDE_CONFIG_FILE"] = str(settings.config_file)
    os.environ[SUPERVISOR_ENV] = str(os.getpid())  # workers stop if this process dies
    _refuse_a_newer_schema(settings.resolved_database_url)
    _metrics_dir(settings.data_dir)
    console.print(f"papertide on [bold]http://{host}:{port}[/] (Ctrl-C stops it)")
    uvicorn.run(
        "papertide.web:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        log_config=log_config(json=settings.serve.log_json),
        access_log=False,  # web/front.py writes it, with the request id
        # Limits and read timeouts uvicorn's own httptools protocol lacks (web/protocol.py).
        http="papertide.web.protocol:LimitedHttpToolsProtocol",
        timeout_keep_alive=settings.serve.keep_alive_seconds,
        # X-Forwarded-For names the client only on requests from a configured proxy (uvicorn
        # would otherwise believe it from 127.0.0.1, and any local client could skip limits).
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies,
    )


def _refuse_a_newer_schema(url: str) -> None:
    """A database a newer papertide migrated is one line here, before the server starts (in
    the app's start-up it was uvicorn's traceback of Alembic's error, and exit 3 anyway)."""
    from sqlalchemy.exc import OperationalError

    from papertide.store import Store

    store = Store.open(url, migrate=False)
    try:
        store.refuse_newer(store.schema_revision())
    except OperationalError:
        pass  # a database that does not answer: the app's start-up deals with it
    finally:
        store.close()


def _metrics_dir(data_dir: Path) -> None:
    """Every worker writes its metrics into one directory of this run, which /metrics adds
    up (prometheus-client's multiprocess mode; web/metrics.py). Set before anything imports
    prometheus_client, which reads the variable once (so not imported here)."""
    os.environ[METRICS_ENV] = str(prepare_run_dir(data_dir, os.getpid()))


def prepare_run_dir(data_dir: Path, pid: int) -> Path:
    """An empty metrics directory for the `serve` process ``pid``, in DATA_DIR/run; those
    of runs whose process is gone are removed (a killed run leaves its files behind)."""
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
