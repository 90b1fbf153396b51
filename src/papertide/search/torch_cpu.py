"""How a sentence-transformers model uses the CPU: torch's threads for a call, and the number
format of its batches. torch is imported only inside, when a model runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path


def batch_precision(setting: str) -> str:
    """The number format a sentence-transformers model's batches run in: the setting's,
    or for 'auto' bfloat16 where the CPU has bfloat16 instructions (AVX512-BF16 or AMX), else
    float32.

    Why: with them, torch's bfloat16 matrix products embed all-MiniLM-L6-v2 batches 2.2-2.6
    times as fast (a Sapphire Rapids guest, 2 cores: abstracts 26 -> 68 a second, sentences
    140 -> 306), and each vector keeps a cosine of 0.99998 with its float32 one (one-off
    timing, 2026-12-07). Without them bfloat16 is emulated and slower: with oneDNN held to
    AVX512 or AVX2 (ONEDNN_MAX_CPU_ISA) on the same machine, 20 or 9 sentences a CPU-second
    against float32's 52. A query stays in float32: one short text is faster there (14
    against 20 ms of CPU)."""
    if setting != "auto":
        return setting
    return "bfloat16" if _cpu_flags() & {"avx512_bf16", "amx_bf16"} else "float32"


@lru_cache(maxsize=1)
def _cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux reports them (none elsewhere)."""
    try:
        with Path("/proc/cpuinfo").open(encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


@contextmanager
def in_bfloat16(wanted: bool) -> Iterator[None]:
    """torch's CPU autocast to bfloat16 while inside, when wanted (the calling thread's)."""
    if not wanted:
        yield
        return
    import torch

    with torch.autocast("cpu", dtype=torch.bfloat16):
        yield


@contextmanager
def one_torch_thread(wanted: bool) -> Iterator[None]:
    """torch's intra-op threads set to 1 for the calling thread while inside, when wanted.

    Why: a query is a forward pass over a dozen word pieces, too small to share between
    cores, and torch's OpenMP threads meet at a barrier after every operator. On a busy
    host (the 2 shared cores at load 10) a descheduled thread holds the others there:
    all-MiniLM-L6-v2 spent 331 ms CPU and 1.3 s wall to embed one claim on 2 threads,
    24 ms CPU and 151 ms wall on one (medians of 30; one-off timing, 2026-12-07). Under
    torch's OpenMP backend (its PyPI wheels) the setting belongs to the calling thread,
    so a request thread changes nothing for another (an index build's batches keep
    every core); under another backend it is process-wide and left alone."""
    if not wanted or not _torch_threads_are_per_thread():
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@lru_cache(maxsize=1)
def _torch_threads_are_per_thread() -> bool:
    import torch

    return "parallel backend: OpenMP" in torch.__config__.parallel_info()
