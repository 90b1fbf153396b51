"""What an operator's mistake looks like from the command line: one line that names the
setting, the file and line or the environment variable, and the value, instead of a
traceback. Only mistakes in what was given are explained here (settings, the config file,
the database URL, the data folder, a database that does not answer or is newer than this
papertide, a backup or export that cannot be made as asked); anything else is a bug, and
keeps its traceback."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

# Exit codes: 2 for what was given (as click uses for bad options), 3 for a database that
# cannot be used as it is.
GIVEN, DATABASE = 2, 3


def explain(exc: BaseException, *, config: Path | None = None) -> tuple[str, int] | None:
    """A one-line message and an exit code for a mistake in what was given, else None."""
    from pydantic import ValidationError
    from sqlalchemy.exc import ArgumentError, OperationalError

    if isinstance(exc, ValidationError):
        return "; ".join(_problem(e, config) for e in exc.errors()), GIVEN
    from papertide.config import SettingFileError

    if isinstance(exc, SettingFileError):
        return str(exc), GIVEN
    if isinstance(exc, tomllib.TOMLDecodeError):
        return f"config file {config}: {exc}", GIVEN
    if isinstance(exc, ArgumentError) and "URL" in str(exc):
        return (
            "the database URL is not one: give e.g. sqlite:///papers.db or "
            "postgresql+psycopg://user@host/dbname",
            GIVEN,
        )
    if isinstance(exc, OperationalError):
        first = _no_password(str(exc.orig or exc).strip().splitlines()[0])
        if "timeout expired" in first:  # psycopg's and libpq's words for it
            first += " (the limit: setting database_connect_timeout, or the URL's connect_timeout)"
        return f"the database does not answer: {first}", DATABASE
    from papertide.store.backup import BackupError, DatabaseUnavailable
    from papertide.store.revisions import SchemaTooNew

    if isinstance(exc, SchemaTooNew | DatabaseUnavailable):
        return str(exc), DATABASE
    if isinstance(exc, BackupError):
        return str(exc), GIVEN
    if type(exc).__name__ in ("ResolutionError", "CommandError") and "revision" in str(exc):
        return (
            "the database was migrated by a newer papertide than this one "
            f"({_first_line(exc)}): run the newer version, or upgrade this one",
            DATABASE,
        )
    if isinstance(exc, PermissionError | NotADirectoryError | FileExistsError):
        return f"cannot use {exc.filename or 'the data folder'}: {exc.strerror}", GIVEN
    return None


def _problem(error: Any, config: Path | None) -> str:
    """One pydantic error as 'setting (where): what is wrong (value)'."""
    loc = [str(part) for part in error["loc"]]
    name = ".".join(loc)
    where = _where(loc, config)
    wrong = "not a setting" if error["type"] == "extra_forbidden" else error["msg"].lower()
    if error["type"] == "extra_forbidden" and (close := _closest(loc)):
        wrong += f"; did you mean {close}?"
    value = error.get("input")
    shown = f" (got {value!r})" if isinstance(value, str | int | float) else ""
    return f"setting {name}{where}: {wrong}{shown}"


def _closest(loc: list[str]) -> str | None:
    """The known setting nearest to a misspelt one, in the same section (``prot``: ``port``)."""
    import difflib

    from pydantic import BaseModel

    from papertide.config import Settings

    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        field = model.model_fields.get(part)
        section = field.annotation if field else None
        if not (isinstance(section, type) and issubclass(section, BaseModel)):
            return None
        model = section
    found = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1, cutoff=0.6)
    return ".".join([*loc[:-1], found[0]]) if found else None


def _where(loc: list[str], config: Path | None) -> str:
    """Where the setting was given: the environment variable, or the config file's line."""
    env = "PAPERTIDE_" + "__".join(part.upper() for part in loc)
    for var in (env, env + "_FILE"):
        if var in os.environ:
            return f" (environment {var})"
    if config is not None and config.is_file():
        key = re.escape(loc[-1])
        for number, line in enumerate(config.read_text(encoding="utf-8").splitlines(), 1):
            if re.match(rf"\s*{key}\s*=", line):
                return f" ({config} line {number})"
        return f" ({config})"
    return ""


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _no_password(text: str) -> str:
    """A driver's message without the password a connection string may carry."""
    return re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", text)
