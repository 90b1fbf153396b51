"""How counts and nouns are written for people (papertide.words)."""

from __future__ import annotations

from papertide.cli.common import plural as cli_plural
from papertide.words import plural


def test_plural_writes_the_count_with_thousands_and_the_right_noun() -> None:
    assert plural(1, "paper") == "1 paper"
    assert plural(0, "paper") == "0 papers"
    assert plural(1204, "paper") == "1,204 papers"
    assert plural(1, "query", "queries") == "1 query"
    assert plural(2, "query", "queries") == "2 queries"
    assert cli_plural is plural  # the commands use the same one
