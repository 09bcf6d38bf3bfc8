"""One owner per data directory: a lock held while a process runs on it.

A POSIX record lock (`lockf`) on `DIR/lock`: the kernel drops it when the process ends,
however it ends, so a crash never leaves a stale lock; and a forked child (a snapshot
being written) does not inherit it, so a restart after a crash is not held up by it.
"""

import fcntl
import os
from pathlib import Path


class DataDirInUse(Exception):
    """Another process runs on the data directory."""


class DataDirLock:
    def __init__(self, directory: Path) -> None:
        self.path = directory / "lock"
        self._fd = -1

    def acquire(self) -> None:
        """Take the lock at once, or raise `DataDirInUse` naming the holder."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataDirInUse(f"{self.path.parent} is in use by another exchange (pid "
                               f"{holder}); stop that one first, or give this one another "
                               "--data-dir") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing drops the lock
            self._fd = -1
