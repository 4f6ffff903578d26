"""Writing files so that a crash, a kill or a full disk leaves the old file or the new one, and one writer at a time.

- ``fsync_dir(folder)``: flush a folder's entries (a rename or a new file in it) to disk.
- ``atomic_write(path, write)``: a hidden temporary file beside ``path``, written, flushed,
  renamed over it, and the folder flushed; a failure removes the temporary and leaves the
  old file. Temporaries are named ``.<name>.<random>.tmp``, so a writer that was killed
  leaves only hidden files that ``remove_temporaries`` clears.
- ``exclusive(path)``: the lock one build, update or fetch holds, through ``filelock``
  (an advisory ``flock`` on ``path``, released by the kernel if the process dies); a
  second writer is refused at once with ``Busy``, never kept waiting.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import filelock

__all__ = ["Busy", "atomic_write", "exclusive", "fsync_dir", "remove_temporaries"]


class Busy(Exception):
    """Another process holds the lock."""


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries to disk. A folder that cannot be opened for reading (some
    platforms and file systems refuse) is left to the file system; a failed flush is raised."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def atomic_write(
    path: Path,
    write: Callable[[IO[bytes]], object],
    *,
    mode: int = 0o644,
    before_replace: Callable[[], None] | None = None,
) -> None:
    """Write ``path`` so that it is either the old file or the whole new one, even after a
    crash. ``write`` fills the file; ``before_replace`` runs once it is flushed, just before
    the rename (a moment the interruption tests mark)."""
    temporary: str | None = None
    try:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(temporary, path)
        temporary = None
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
    fsync_dir(path.parent)


def remove_temporaries(folder: Path, name: str) -> None:
    """Remove the temporaries a killed ``atomic_write`` of ``folder / name`` left (call under the lock)."""
    for path in folder.glob(f".{name}.*.tmp"):
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def exclusive(path: Path, *, remove: bool = False) -> Iterator[None]:
    """Hold the lock on ``path`` (created if need be); ``Busy`` at once if another process
    holds it, OSError if it cannot be created. With ``remove``, the lock file is removed
    when the lock is let go (while still held, so no other writer takes a file on its way
    out: filelock retries a file that was unlinked under it)."""
    lock = filelock.FileLock(path, timeout=0, thread_local=False)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise Busy(str(path)) from None
    try:
        yield
    finally:
        if remove:
            path.unlink(missing_ok=True)
        lock.release()
