"""docs/settings.md is the one table of every setting, and it cannot go stale: each field of
the Settings model (and of its nested sections) has a row with its TOML name, its
environment variable and its default as the model has it, secrets show their ``_FILE`` form,
and no row names a setting the model does not have."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from papertide.config import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "settings.md"

# Settings that hold secrets: the table shows how to read them from a file.
SECRETS = {"database_url", "mail.smtp_password", "mail.secret_key"}
# Defaults that depend on the machine: the text the table gives instead.
MACHINE_DEFAULTS = {"data_dir": "`$XDG_DATA_HOME/papertide`, else `~/.local/share/papertide`"}


def setting_fields(model: type[BaseModel] = Settings, prefix: str = "") -> dict[str, Any]:
    """Every leaf setting by its dotted name (``mail.smtp_host``), with its default."""
    found: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        inner = field.annotation
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            found.update(setting_fields(inner, f"{prefix}{name}."))
        else:
            found[prefix + name] = field.get_default(call_default_factory=True)
    return found


def env_name(setting: str) -> str:
    """``mail.smtp_host`` -> ``PAPERTIDE_MAIL__SMTP_HOST``."""
    return "PAPERTIDE_" + setting.replace(".", "__").upper()


def default_text(setting: str, value: Any) -> str:
    """The default as the table writes it."""
    if setting in MACHINE_DEFAULTS:
        return MACHINE_DEFAULTS[setting]
    if value is None:
        return "unset"
    if value == "" or value == []:
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        return "`" + ",".join(map(str, value)) + "`"
    return f"`{value}`"


def expected_row(setting: str, value: Any) -> str:
    """The row a setting should have (what to paste when the test fails), its last cell to
    be written by hand from the field's description."""
    env = f"`{env_name(setting)}`"
    if setting in SECRETS:
        env += f", `{env_name(setting)}_FILE`"
    return f"| `{setting}` | {env} | {default_text(setting, value)} | ... |"


def documented_rows() -> dict[str, list[str]]:
    """The settings table's rows by their first cell's name: [env, default, meaning]."""
    rows: dict[str, list[str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and "PAPERTIDE_" in cells[1]:
            name = re.fullmatch(r"`([a-z_.]+)`", cells[0])
            assert name, f"docs/settings.md: a row's first cell is not a setting: {line}"
            rows[name[1]] = cells[1:]
    return rows


def test_every_setting_of_the_model_has_a_row_in_docs_settings() -> None:
    rows = documented_rows()
    missing = [
        expected_row(name, value) for name, value in setting_fields().items() if name not in rows
    ]
    assert not missing, "docs/settings.md lacks rows:\n" + "\n".join(missing)


def test_docs_settings_names_no_setting_the_model_lacks() -> None:
    extra = sorted(set(documented_rows()) - set(setting_fields()))
    assert not extra, f"docs/settings.md documents settings that do not exist: {extra}"


def test_each_row_gives_the_environment_variable_and_the_models_default() -> None:
    rows = documented_rows()
    wrong = []
    for name, value in setting_fields().items():
        if name not in rows:
            continue
        env, default, meaning = rows[name]
        want = expected_row(name, value).split(" | ")
        if env != want[1] or default != default_text(name, value) or not meaning:
            now = f"| `{name}` | {env} | {default} |"
            wrong.append(f"now:  {now}\nwant: {expected_row(name, value)}")
    assert not wrong, "docs/settings.md rows out of date:\n" + "\n".join(wrong)


def test_the_reference_parses_the_rows_it_checks() -> None:
    """The parser above finds the table at all (a renamed header would make every check
    pass vacuously)."""
    assert len(documented_rows()) >= len(setting_fields()) // 2
