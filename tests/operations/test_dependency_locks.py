"""The lock files pin what pyproject.toml pins, and pin everything (so installs repeat)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s;#]+)")


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def _locked(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith(("#", " ")):
            continue
        found = PIN.match(line)
        assert found, f"{path.name}: not pinned: {line!r}"
        pins[_name(found.group(1))] = found.group(2)
    return pins


def _declared(*extras: str) -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    pins = {}
    for line in lines:
        found = PIN.match(line)
        assert found, f"pyproject.toml: not pinned: {line!r}"
        pins[_name(found.group(1))] = found.group(2)
    return pins


@pytest.mark.parametrize(
    ("lock", "extras"),
    [("dev.txt", ("dev", "postgres")), ("st.txt", ("dev", "postgres", "st"))],
)
def test_lock_pins_the_versions_pyproject_pins(lock: str, extras: tuple[str, ...]) -> None:
    locked = _locked(ROOT / "requirements" / lock)
    for name, version in _declared(*extras).items():
        # torch==2.13.0 in pyproject is the local 2.13.0+cpu wheel in the lock (PEP 440).
        assert locked.get(name, "").split("+")[0] == version, (lock, name, locked.get(name))


def test_the_st_lock_has_only_the_cpu_build_of_torch() -> None:
    locked = _locked(ROOT / "requirements" / "st.txt")
    assert locked["torch"].endswith("+cpu")
    assert not [name for name in locked if name.startswith("nvidia-")]
