"""How counts and nouns are written for people."""

from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """'1 paper', '2 papers', '1,204 papers' (``many`` for irregular plurals)."""
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"
