"""Where every web worker's search index stands, so that /healthz answers for the slowest.

With `serve --workers N` a request reaches one worker, whose index may be ahead of
another's: "lag 0" from the one that answered said nothing of the rest. Each worker
therefore publishes its applied feed position (and whether its index is ready) in the
run's directory (the one `serve` makes for metrics, DATA_DIR/run/metrics-PID): a small
``index-<pid>.json``, rewritten whenever the position moves (checked every
``PUBLISH_SECONDS``, no query). /healthz reads them all and measures each position against
the store now. A published position can only be older than the worker's own, never newer,
so the lag reported errs high: 0 means every worker has applied every stored change.
Files of workers whose process is gone are ignored and removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any

import orjson

from papertide.lifetime import process_alive
from papertide.store import FeedPosition

PUBLISH_SECONDS = 0.25
RUN_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"  # the run's directory (cli/serve_cmd.py)


def run_dir() -> Path | None:
    """This `serve` run's directory, or None (one process on its own: tests)."""
    found = os.environ.get(RUN_DIR_ENV)
    return Path(found) if found else None


def publish(search: Any, folder: Path) -> tuple[object, bool]:
    """Write this worker's position and readiness (atomically); what was written."""
    position, ready = search.position, bool(search.ready)
    _write(folder, {"ready": ready, "position": position and position.to_json()})
    return position, ready


def publish_starting(folder: Path) -> None:
    """Say that this worker is up, its index not open yet (`serve`'s early listener stops
    answering for the run once a worker has said so: papertide.starting)."""
    _write(folder, {"ready": False, "position": None})


def _write(folder: Path, body: dict[str, Any]) -> None:
    path = folder / f"index-{os.getpid()}.json"
    scratch = path.with_suffix(".tmp")
    scratch.write_bytes(orjson.dumps({"pid": os.getpid(), **body}))
    scratch.replace(path)


async def keep_publishing(search: Any, folder: Path) -> None:
    """Publish whenever the position or readiness changes (until cancelled)."""
    last = publish(search, folder)
    while True:
        await asyncio.sleep(PUBLISH_SECONDS)
        if (search.position, bool(search.ready)) != last:
            last = publish(search, folder)


def withdraw(folder: Path) -> None:
    """At a worker's shutdown: its position no longer counts."""
    with contextlib.suppress(FileNotFoundError):
        (folder / f"index-{os.getpid()}.json").unlink()


def every_worker(folder: Path) -> list[tuple[int, bool, FeedPosition | None]]:
    """Each live worker's pid, readiness and applied position, as it last published them
    (files only: the caller measures each position against the store)."""
    found = []
    for path in sorted(folder.glob("index-*.json")):
        try:
            body = orjson.loads(path.read_bytes())
        except (OSError, ValueError):
            continue  # being replaced, or gone
        pid = int(body.get("pid", 0))
        if not process_alive(pid):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            continue
        found.append((pid, bool(body.get("ready")), FeedPosition.from_json(body.get("position"))))
    return found
