"""Run the render child (``render.py``) under caps: address space, wall-clock time, input size.

The worker never decodes an untrusted PDF or image itself: a child process does, with its
address space capped (RLIMIT_AS, set by the child before it loads a decoder) and killed when
its time is up. Whatever goes wrong (a refusal, a crash, a kill) comes back as RenderRefused
with a reason fit for one log line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any, Literal

import orjson

Kind = Literal["pdf", "image"]


class RenderRefused(Exception):
    """The input did not become a picture; the message says why."""


@dataclass(frozen=True, slots=True)
class Rendered:
    """A picture the child drew: WebP bytes, size, the child's render time and peak RSS."""

    data: bytes
    width: int
    height: int
    card: bytes  # the card variant (render.py's CARD_WIDTH x CARD_HEIGHT band)
    render_ms: float  # inside the child, decoding to encoding
    cpu_ms: float  # the CPU time of that (what a busy machine does not inflate)
    wall_ms: float  # the whole child, start-up included
    rss_mb: float  # the child's peak resident memory


def render(kind: Kind, data: bytes, *, memory_mb: int, timeout: float) -> Rendered:
    """Draw ``data`` (a PDF or an image) as a WebP in a capped child process."""
    command = [sys.executable, "-m", "papertide.pictures.render", kind, "--memory-mb"]
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [*command, str(memory_mb)],
            input=data,
            capture_output=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
    except subprocess.TimeoutExpired:  # run() has killed the child
        raise RenderRefused(f"rendering took longer than {timeout:g} s") from None
    wall_ms = (time.perf_counter() - started) * 1000
    report = _last_json(done.stderr)
    card_bytes = int(report.get("card_bytes", 0)) if report is not None else 0
    if done.returncode == 0 and report is not None and len(done.stdout) > card_bytes > 0:
        return Rendered(
            data=done.stdout[:-card_bytes],
            card=done.stdout[-card_bytes:],
            width=int(report["width"]),
            height=int(report["height"]),
            render_ms=float(report["ms"]),
            cpu_ms=float(report["cpu_ms"]),
            wall_ms=wall_ms,
            rss_mb=float(report["rss_mb"]),
        )
    if report is not None and "error" in report:
        raise RenderRefused(str(report["error"]))
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        raise RenderRefused(f"the renderer died ({name}), likely over the {memory_mb} MB cap")
    tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
    raise RenderRefused(f"the renderer failed (exit {done.returncode}: {tail[0][:200]})")


def _last_json(stderr: bytes) -> dict[str, Any] | None:
    lines = stderr.strip().splitlines()
    if not lines:
        return None
    try:
        found = orjson.loads(lines[-1])
    except orjson.JSONDecodeError:
        return None
    return found if isinstance(found, dict) else None
