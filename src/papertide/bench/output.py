"""What a benchmark hands back to the command that runs it: its lines, through an Echo (the
CLI's console.print: rich markup), and BenchFailed when it cannot go on."""

from __future__ import annotations

from typing import Protocol


class Echo(Protocol):
    """Prints one line of rich markup; ``highlight=False`` leaves its numbers uncoloured."""

    def __call__(self, text: str, /, *, highlight: bool | None = None) -> object: ...


class BenchFailed(Exception):
    """The benchmark cannot go on; the message says why (the command prints it as an error
    and exits 1)."""
