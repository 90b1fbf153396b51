"""uvicorn's supervisor of `serve --workers N`, with a deadline on stopping: after SIGTERM
each worker is waited for until ``STOP_SECONDS`` have passed in all, then killed.

A worker stops by itself within that time whatever its index is doing (web/startup.py),
except while it is still importing the web stack: uvicorn catches its SIGTERM before the
import and acts on it only after (4-8 s on a loaded machine). Killing it then loses
nothing, since it has opened nothing; a worker killed later is a kill -9, which every
write path survives.
"""

from __future__ import annotations

import time

from uvicorn.supervisors import Multiprocess

STOP_SECONDS = 4.5


class Supervisor(Multiprocess):
    """uvicorn's Multiprocess whose workers are killed when they outlast the deadline."""

    def join_all(self) -> None:
        """Wait for each worker until the deadline; kill those still running."""
        deadline = time.monotonic() + STOP_SECONDS
        for worker in self.processes:
            worker.process.join(max(0.0, deadline - time.monotonic()))
        for worker in self.processes:
            if worker.process.is_alive():
                worker.kill()
                worker.process.join()
