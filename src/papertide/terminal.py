"""Printing imported text to a terminal safely."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from papertide.normalize import strip_controls


class SafeConsole(Console):
    """A rich Console that never writes a control character (ESC, NUL...) it was given.

    Rich drops a few (BEL) but passes ESC through, so a title holding ``ESC[31m`` would
    drive the terminal of whoever reads the output. Rich's own styling is added after this.
    """

    def render_str(self, text: str, **kwargs: Any) -> Text:
        """Rich's rendering of ``text``, from ``text`` without its control characters."""
        return super().render_str(strip_controls(text), **kwargs)
