"""Snapshots of the embedded exchange: its state and the gateway's views at one seq.

A snapshot is one file, `snapshot-<seq>.json`: the format, the seq of the last command
it covers, the state hash of the exchange (`engine.hash_state`), the exchange's state and
the views. It is written to a temporary name, synced, and renamed, so a file under its
final name is always whole; a crash mid-write leaves only a temporary file, which the
next start deletes. The newest `keep` snapshots are kept.

Off the hot path: `write_in_child` forks. The child has a copy-on-write image of the
process as it was between two batches, serialises it and writes the file while the
parent goes on serving; the parent pays for the fork (its page tables) and for copying
the pages it writes while the child runs. Where `os.fork` is missing, it writes inline.
"""

import contextlib
import os
import re
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from exchange.core.engine import Exchange, hash_state
from exchange.services.views import Views

FORMAT = 1
_NAME = re.compile(r"snapshot-(\d{20})\.json")


@dataclass(frozen=True, slots=True)
class Snapshot:
    seq: int
    hash: str
    exchange: dict[str, Any]
    views: dict[str, Any]
    path: Path


def encode(exchange: Exchange, views: Views) -> bytes:
    """Serialise the exchange (with its seq and state hash) and the views as a snapshot."""
    state = exchange.to_state()
    return orjson.dumps({"format": FORMAT, "seq": exchange.seq, "hash": hash_state(state),
                         "exchange": state, "views": views.to_state()})


class Snapshots:
    def __init__(self, directory: Path, keep: int = 3) -> None:
        self.directory = directory
        self.keep = keep
        directory.mkdir(parents=True, exist_ok=True)
        self.child = 0  # the pid of a child writing a snapshot, 0 if none

    def saved(self) -> list[tuple[int, Path]]:
        """Every whole snapshot as (seq, path), oldest first."""
        found = []
        for path in self.directory.iterdir():
            matched = _NAME.fullmatch(path.name)
            if matched:
                found.append((int(matched.group(1)), path))
        return sorted(found)

    def latest(self) -> Snapshot | None:
        """Load the newest snapshot that reads back whole; delete leftovers of crashes."""
        for path in self.directory.glob("*.tmp"):
            path.unlink(missing_ok=True)
        for seq, _ in reversed(self.saved()):
            saved = self.load(seq)
            if saved is not None:
                return saved
        return None

    def write_base(self, seq: int, body: bytes) -> None:
        """Write the state a journal starts from when it does not start from nothing (a
        converted data directory): kept for good, for the audit (`audit.fresh_replay`)."""
        self._write_whole(self.directory / "base.json", body)
        self.write(seq, body)

    def base(self) -> Snapshot | None:
        """The state the journal starts from, if not from nothing."""
        path = self.directory / "base.json"
        return self._read(path) if path.exists() else None

    def load(self, seq: int) -> Snapshot | None:
        """Load the snapshot of `seq`; None (and a warning) if it does not read back whole."""
        return self._read(self.directory / f"snapshot-{seq:020d}.json")

    def _read(self, path: Path) -> Snapshot | None:
        try:
            saved = orjson.loads(path.read_bytes())
            if saved["format"] != FORMAT:
                raise ValueError(f"format {saved['format']}, expected {FORMAT}")
            return Snapshot(saved["seq"], saved["hash"], saved["exchange"], saved["views"],
                            path)
        except (OSError, ValueError, KeyError, TypeError) as error:
            print(f"exchange: skipping snapshot {path.name}: {error}", file=sys.stderr)
            return None

    def write(self, seq: int, body: bytes) -> Path:
        """Write a snapshot of `seq` whole, or not at all; keep the newest few."""
        path = self.directory / f"snapshot-{seq:020d}.json"
        self._write_whole(path, body)
        for _, old in self.saved()[:-self.keep]:
            old.unlink(missing_ok=True)
        return path

    def _write_whole(self, path: Path, body: bytes) -> None:
        temporary = path.with_suffix(".tmp")
        with open(temporary, "wb") as file:
            file.write(body)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def write_in_child(self, seq: int, body: Callable[[], bytes]) -> None:
        """Write a snapshot of `seq` from a copy of this process; `body` runs in the copy."""
        if not hasattr(os, "fork"):  # pragma: no cover - Windows
            self.write(seq, body())
            return
        if self.child:
            raise RuntimeError("a snapshot is being written already")
        pid = os.fork()
        if pid:
            self.child = pid
            return
        # The child: nothing of the parent's but its memory. It must not hold the port,
        # the journal or the lock file open (a restart needs them once the parent is
        # gone), nor stop on the Ctrl-C meant for the parent, nor run its exit handlers.
        code = 1
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            os.closerange(3, os.sysconf("SC_OPEN_MAX"))
            self.write(seq, body())
            code = 0
        except BaseException:
            traceback.print_exc(file=sys.stderr)
        finally:
            os._exit(code)

    def reap(self, wait: bool = False) -> bool | None:
        """Collect a finished child: True if it wrote its snapshot, False if it failed,
        None if there is none or it is still at work."""
        if not self.child:
            return None
        pid, status = os.waitpid(self.child, 0 if wait else os.WNOHANG)
        if pid == 0:
            return None
        self.child = 0
        return os.waitstatus_to_exitcode(status) == 0

    def abandon(self) -> None:
        """Stop a child at work (a newer snapshot is about to be written)."""
        if self.child:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.child, signal.SIGKILL)
            self.reap(wait=True)
