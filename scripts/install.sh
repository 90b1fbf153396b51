#!/usr/bin/env bash
# Install a lock file (requirements/*.txt, written by `make lock`) and papertide itself into
# a virtualenv: with uv when it can be had (uv on PATH, or pip-installed into the venv),
# which takes seconds, else with pip, which takes minutes. Both read the same pinned lines.
#   usage: scripts/install.sh VENV LOCKFILE
set -euo pipefail
venv=$1
lock=$2
UV_VERSION=${UV_VERSION:-0.13.8}
python="$venv/bin/python"

# Where pip finds wheels that are not on PyPI (this project's machines keep the CPU build of
# torch in such a folder): uv does not read pip's configuration, so it is handed over.
links=${PIP_FIND_LINKS:-$("$python" -m pip config get global.find-links 2>/dev/null || true)}

uv=$(command -v uv || true)
if [ -z "$uv" ] && "$python" -m pip install --quiet --disable-pip-version-check \
    "uv==$UV_VERSION" 2>/dev/null; then
  uv="$venv/bin/uv"
fi

if [ -n "$uv" ]; then
  flags=(--python "$python" --quiet)
  for link in $links; do flags+=(--find-links "$link"); done
  "$uv" pip install "${flags[@]}" -r "$lock"
  "$uv" pip install "${flags[@]}" --no-deps -e .
else
  echo "install: uv is not available; installing with pip (slower)" >&2
  "$python" -m pip install --quiet -r "$lock"
  "$python" -m pip install --quiet --no-deps -e .
fi
