#!/usr/bin/env bash
# Make the virtualenv if it is missing, then install a lock file (requirements/*.txt, written
# by `make lock`) and papertide itself into it: with uv when it can be had (on PATH, or
# pip-installed beside the venv), which takes seconds; else with pip, which takes minutes.
# Both read the same pinned lines.
#   usage: PYTHON=python3 scripts/install.sh VENV LOCKFILE
set -euo pipefail
venv=$1
lock=$2
PYTHON=${PYTHON:-python3}
UV_VERSION=${UV_VERSION:-0.13.8}
python="$venv/bin/python"

uv=$(command -v uv || true)
if [ -z "$uv" ] && [ -x "$venv/uv-boot/bin/uv" ]; then
  uv="$venv/uv-boot/bin/uv"
fi
if [ ! -x "$python" ]; then
  # Without pip: ensurepip alone takes about 10 s, and uv does not need it.
  "$PYTHON" -m venv --without-pip "$venv"
fi
if [ -z "$uv" ] && "$PYTHON" -m pip install --quiet --disable-pip-version-check \
    --target "$venv/uv-boot" "uv==$UV_VERSION" 2>/dev/null; then
  uv="$venv/uv-boot/bin/uv"
fi

if [ -n "$uv" ]; then
  # Where pip finds wheels that are not on PyPI (this project's machines keep the CPU build
  # of torch in such a folder): uv does not read pip's configuration, so it is handed over.
  links=${PIP_FIND_LINKS:-$("$PYTHON" -m pip config get global.find-links 2>/dev/null || true)}
  # Compiled bytecode at install time (uv compiles nothing by default, pip does): without
  # it, a container that never writes .pyc files (PYTHONDONTWRITEBYTECODE=1) compiles every
  # module on every start (`papertide stats` 1.64 -> 0.60 s median of 3, 2026-12-06).
  flags=(--python "$python" --quiet --compile-bytecode)
  for link in $links; do flags+=(--find-links "$link"); done
  "$uv" pip install "${flags[@]}" -r "$lock"
  "$uv" pip install "${flags[@]}" --no-deps -e .
  # An editable install leaves papertide's own modules in src/, which no installer compiles.
  "$python" -m compileall -q src/papertide >/dev/null
else
  echo "install: uv is not available; installing with pip (slower)" >&2
  "$python" -m pip --version >/dev/null 2>&1 || "$python" -m ensurepip >/dev/null
  "$python" -m pip install --quiet -r "$lock"
  "$python" -m pip install --quiet --no-deps -e .
  "$python" -m compileall -q src/papertide >/dev/null
fi
