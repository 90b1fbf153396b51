"""Web worker processes die with the `serve` process that started them, so none is left
holding the port.

`papertide serve --workers N` runs uvicorn's supervisor, which spawns N worker processes
sharing the listening socket. Killed with SIGKILL, the supervisor cannot stop them: they
went on serving, orphaned, and held the port, so a restart failed with "Address already in
use". Each worker therefore watches its parent: when it is no longer the supervisor that
`serve` named (``PAPERTIDE_SUPERVISOR_PID``), the worker stops itself as on SIGTERM (a
graceful shutdown), and exits hard if that has not finished in time.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

SUPERVISOR_ENV = "PAPERTIDE_SUPERVISOR_PID"
POLL_SECONDS = 0.5
GRACE_SECONDS = 15.0
log = logging.getLogger(__name__)


def watch_supervisor() -> None:
    """In a worker of `serve --workers N`: stop this process when its supervisor is gone."""
    named = os.environ.get(SUPERVISOR_ENV, "")
    if not named.isdigit() or int(named) == os.getpid():
        return  # not a spawned worker (one-process serve, tests, another server)
    supervisor = int(named)
    threading.Thread(
        target=_watch, args=(supervisor,), name="supervisor-watch", daemon=True
    ).start()


def _watch(supervisor: int) -> None:
    while os.getppid() == supervisor:
        time.sleep(POLL_SECONDS)
    log.warning("serve process %s is gone: this worker stops", supervisor)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(GRACE_SECONDS)
    os._exit(1)  # the graceful shutdown did not finish: leave the port free anyway


def process_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this machine (another user's counts), so
    files named after a dead writer may be cleaned up."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
