"""Files only the bot's user may read, replaced atomically: what must survive a crash, privately.

The embed locations, the audit trail and the alerts' state share these habits: folders created
0700 and files 0600 whatever the umask, a whole new file or the old one after a crash, and an
unreadable file set aside under a free `*.corrupt-<UTC time>` name rather than overwritten.
Blocking calls: run them in a worker thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

PRIVATE_FILE_MODE: Final = 0o600
PRIVATE_FOLDER_MODE: Final = 0o700


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` by `data`: a reader or a crash sees either the old file or the new one.

    Folders it creates are 0700 and a file it creates is 0600, whatever the umask; an existing
    file keeps the mode its operator gave it.
    """
    make_private_folders(path.parent)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    replaced = False
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            mode = PRIVATE_FILE_MODE
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        replaced = True
    finally:
        if not replaced:
            with contextlib.suppress(OSError):
                tmp.unlink()
    _fsync_directory(path.parent)


def make_private_folders(directory: Path) -> None:
    """Create `directory` and its missing parents, each 0700 (mkdir's mode is masked by umask)."""
    missing: list[Path] = []
    current = directory
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_FOLDER_MODE)
        except FileExistsError:
            continue  # created meanwhile by someone else: not ours to change
        os.chmod(folder, PRIVATE_FOLDER_MODE)


def corrupt_stamp(t: float) -> str:
    """Return the UTC time an unreadable file is set aside with ("20261203T093000Z")."""
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y%m%dT%H%M%SZ")


def aside_name(path: Path, t: float) -> Path:
    """Return a free `<name>.corrupt-<UTC time>[-N]` beside `path` for an unreadable file."""
    base = f"{path.name}.corrupt-{corrupt_stamp(t)}"
    aside = path.with_name(base)
    counter = 1
    while aside.exists():
        counter += 1
        aside = path.with_name(f"{base}-{counter}")
    return aside


def remove_leftovers(path: Path, log: logging.Logger) -> None:
    """Remove the temporary files a crash in the middle of `write_atomically(path)` left."""
    try:
        leftovers = sorted(path.parent.glob(f".{path.name}.*.tmp"))
    except OSError:
        return
    for leftover in leftovers:
        try:
            leftover.unlink()
        except OSError as exc:
            log.warning("could not remove %s, left by an interrupted save: %s", leftover, exc)
        else:
            log.info("removed %s, left by an interrupted save", leftover)


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk. Some platforms and
    # filesystems cannot open or fsync a directory; the file itself is already safe there.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
