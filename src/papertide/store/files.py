"""Files of the SQLite store: private to the account that runs papertide.

The database holds email addresses, password hashes and session hashes, which no other
account on the machine may read: the data folder is made 0700 and the database file 0600
whatever the umask. SQLite creates its -wal and -shm files with the database file's
permissions, so they follow.
"""

from __future__ import annotations

from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> None:
    """Make the folder ``path`` (and missing parents); a folder it creates is 0700."""
    if not path.exists():
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(PRIVATE_DIR)  # mkdir's own mode would be cut by the umask


def private_file(path: Path) -> None:
    """Take group and other permissions off ``path`` if it has any (and exists)."""
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        return
    if mode & 0o077:
        path.chmod(mode & PRIVATE_FILE)
