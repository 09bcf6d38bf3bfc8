"""The embedded bus: every topic a table in one SQLite database (WAL), for one process.

A record is durable (journaled) before any consumer can see it: `flush` and `commit`
insert in one transaction and only then publish to readers. A consumer's `commit`
inserts its outputs and its group's new positions in that same transaction, which is
what makes processing exactly-once across a crash (SIGKILL loses nothing that was
committed; the journal is replayed from the committed positions on restart).

Consumers of one group in this process share the group's partitions round-robin, in the
order they joined; a consumer that closes hands its partitions to the others, which
resume from the group's committed positions. As with Kafka, a consumer gives up a
partition only inside `poll` (never between a poll and its commit), and the next owner
takes it (from the group's committed position) only once it has been given up. Recent
records of each partition are also kept in memory, so a consumer that keeps up never
reads the database.

`transaction()` groups every write of one thread into one SQLite transaction (the
embedded exchange wraps each pass of its services in one): inside it, records are shown
to the consumers of this process as they are written, and all of it becomes durable at
once, or none of it. Nothing may leave the process (an answer to a client) before the
transaction ends.

`synchronous=NORMAL`: a committed transaction survives the process being killed; a power
cut may lose the last ones (the operating system had them, the disk not yet). A thread
of its own checkpoints the log into the database (copying pages and syncing the disk),
which SQLite would otherwise do inside whichever commit filled the log, stalling its
caller for milliseconds; the interpreter's lock is let go meanwhile.
"""

import contextlib
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from exchange.bus.port import (
    Bus,
    BusError,
    Consumer,
    Outgoing,
    Producer,
    Record,
    Start,
    partition_for,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (name TEXT PRIMARY KEY, partitions INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
    key BLOB NOT NULL, value BLOB NOT NULL,
    PRIMARY KEY (topic, partition, offset)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS positions (
    grp TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL,
    offset INTEGER NOT NULL, PRIMARY KEY (grp, topic, partition)) WITHOUT ROWID;
"""
# Recent records kept in memory per partition (see `_read`). Enough for a consumer that
# keeps up; more only costs: every kept record is memory, and an object the collector
# walks through (50,000 a partition made its young passes take 20-60 ms at 2,000 orders/s).
_TAIL = 4096


class SqliteBus(Bus):
    def __init__(self, path: str | Path, checkpoint_every: float = 0.2) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer's job
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._topics: dict[str, int] = dict(self._db.execute("SELECT name, partitions FROM topics"))
        self._next: dict[tuple[str, int], int] = {
            (t, p): o + 1 for t, p, o in self._db.execute(
                "SELECT topic, partition, MAX(offset) FROM records GROUP BY topic, partition")
        }
        # Per partition: offset of the first record kept in memory, and the records.
        self._tails: dict[tuple[str, int], tuple[int, deque[Record]]] = {}
        self._groups: dict[str, list[_Consumer]] = {}
        self._closed = False
        self._grouped = False  # inside `transaction()`
        self._broken = ""  # why the bus refuses writes: a grouped transaction failed
        self._stopping = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoint, args=(str(path), checkpoint_every),
            name="journal-checkpoint", daemon=True)
        self._checkpointer.start()

    def _checkpoint(self, path: str, every: float) -> None:
        """Checkpointer thread: copy the log into the database now and then.

        PASSIVE: it never waits for (or blocks) a writer; what it cannot copy yet it
        copies next time. Its own connection, so the bus's lock is not needed.
        """
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            while not self._stopping.wait(every):
                # Busy, or a full disk: the log grows until a later one gets through.
                with contextlib.suppress(sqlite3.Error):
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            db.close()

    # ---- topics ---------------------------------------------------------------------

    def create_topic(self, name: str, partitions: int) -> None:
        if partitions < 1:
            raise BusError(f"expected at least 1 partition, got {partitions}")
        with self._lock:
            existing = self._topics.get(name)
            if existing is not None:
                if existing != partitions:
                    raise BusError(f"topic {name} has {existing} partitions, not {partitions}")
                return
            self._db.execute("INSERT INTO topics VALUES (?, ?)", (name, partitions))
            self._topics[name] = partitions

    def partitions(self, topic: str) -> int:
        try:
            return self._topics[topic]
        except KeyError:
            raise BusError(f"unknown topic {topic}") from None

    # ---- clients --------------------------------------------------------------------

    def producer(self) -> Producer:
        return _Producer(self)

    def consumer(self, group: str, topics: Sequence[str], start: Start = Start.EARLIEST,
                 transactional_id: str = "") -> Consumer:
        for topic in topics:
            self.partitions(topic)
        with self._lock:
            consumer = _Consumer(self, group, tuple(topics), start)
            self._groups.setdefault(group, []).append(consumer)
            self._rebalance(group)
            return consumer

    def reader(self, positions: Mapping[tuple[str, int], int]) -> Consumer:
        for topic, partition in positions:
            if not 0 <= partition < self.partitions(topic):
                raise BusError(f"topic {topic} has no partition {partition}")
        consumer = _Consumer(self, "", tuple({t for t, _ in positions}), Start.EARLIEST)
        consumer._positions = dict(positions)
        return consumer

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Make every write inside one SQLite transaction, committed at the end.

        Records written inside are visible at once to consumers in this thread (the lock
        is held throughout, so no other thread sees them before they are durable). If the
        commit fails, or anything inside raises, the transaction is rolled back and the
        bus refuses every later write: what this process has in memory then runs ahead of
        the journal, and only a restart (which replays the journal) puts it right.
        """
        with self._lock:
            if self._grouped:
                raise BusError("transactions do not nest")
            self._grouped = True
            try:
                yield
                if self._db.in_transaction:
                    self._db.execute("COMMIT")
            except BaseException as error:
                self._broken = f"a grouped journal write failed ({error!r}); restart"
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if isinstance(error, sqlite3.Error):
                    raise BusError(self._broken) from error
                raise
            finally:
                self._grouped = False

    def close(self) -> None:
        self._stopping.set()
        self._checkpointer.join()
        with self._lock:
            self._closed = True
            self._changed.notify_all()
            self._db.close()

    # ---- internals, called with the lock held ---------------------------------------

    def _rebalance(self, group: str) -> None:
        members = self._groups.get(group, [])
        if not members:
            return
        pairs = sorted({(t, p) for m in members for t in m.topics
                        for p in range(self._topics[t])})
        for index, member in enumerate(members):
            member._target = {pair for i, pair in enumerate(pairs) if i % len(members) == index
                              and pair[0] in member.topics}
        for member in members:
            member._settle()
        self._changed.notify_all()

    def _leave(self, consumer: "_Consumer") -> None:
        members = self._groups.get(consumer.group, [])
        if consumer in members:
            members.remove(consumer)
            self._rebalance(consumer.group)

    def committed(self, group: str, topic: str, partition: int) -> int | None:
        with self._lock:
            return self._committed(group, topic, partition)

    def _committed(self, group: str, topic: str, partition: int) -> int | None:
        row = self._db.execute(
            "SELECT offset FROM positions WHERE grp = ? AND topic = ? AND partition = ?",
            (group, topic, partition)).fetchone()
        return None if row is None else int(row[0])

    def end(self, topic: str, partition: int) -> int:
        """Return the offset the next record of a partition will get (tests wait for
        consumers to reach it)."""
        with self._lock:
            return self._end(topic, partition)

    def _end(self, topic: str, partition: int) -> int:
        return self._next.get((topic, partition), 0)

    def _write(self, outputs: Sequence[Outgoing],
               positions: Sequence[tuple[str, str, int, int]]) -> None:
        """Journal records and group positions in one transaction, then show the records."""
        if self._closed or self._broken:
            raise BusError(self._broken or "the bus is closed")
        rows = []
        ends = dict(self._next)
        for out in outputs:
            topic = out.topic
            partition = partition_for(out.key, self.partitions(topic))
            offset = ends.get((topic, partition), 0)
            ends[(topic, partition)] = offset + 1
            rows.append(Record(topic, partition, offset, out.key, out.value))
        db = self._db
        try:
            if not db.in_transaction:
                db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?)",
                           [(r.topic, r.partition, r.offset, r.key, r.value) for r in rows])
            db.executemany("INSERT OR REPLACE INTO positions VALUES (?, ?, ?, ?)", positions)
            if not self._grouped:
                db.execute("COMMIT")
        except sqlite3.Error as error:
            if self._grouped:
                raise  # `transaction` rolls back and breaks the bus
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise BusError(f"journal write failed: {error}") from error
        self._next = ends
        for record in rows:
            pair = (record.topic, record.partition)
            tail = self._tails.get(pair)
            if tail is None:
                tail = self._tails[pair] = (record.offset, deque(maxlen=_TAIL))
            first, records = tail
            if len(records) == _TAIL:
                first += 1
            records.append(record)
            self._tails[pair] = (first, records)
        if rows:
            self._changed.notify_all()

    def _read(self, topic: str, partition: int, offset: int, limit: int) -> list[Record]:
        tail = self._tails.get((topic, partition))
        if tail is not None and tail[0] <= offset:
            first, records = tail
            start = offset - first
            return [records[i] for i in range(start, min(len(records), start + limit))]
        rows = self._db.execute(
            "SELECT offset, key, value FROM records WHERE topic = ? AND partition = ? "
            "AND offset >= ? ORDER BY offset LIMIT ?", (topic, partition, offset, limit))
        return [Record(topic, partition, o, bytes(k), bytes(v)) for o, k, v in rows]


class _Producer(Producer):
    def __init__(self, bus: SqliteBus) -> None:
        self._bus = bus
        self._queued: list[Outgoing] = []

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        self._bus.partitions(topic)
        self._queued.append(Outgoing(topic, key, value))

    def flush(self, timeout: float = 10.0) -> None:
        queued, self._queued = self._queued, []
        with self._bus._lock:
            self._bus._write(queued, ())

    def close(self) -> None:
        self.flush()


class _Consumer(Consumer):
    def __init__(self, bus: SqliteBus, group: str, topics: tuple[str, ...], start: Start) -> None:
        self._bus = bus
        self.group = group
        self.topics = topics
        self._start = start
        self._positions: dict[tuple[str, int], int] = {}  # next offset to read
        self._target: set[tuple[str, int]] = set()  # what the group assigned it
        self._revoked: set[tuple[str, int]] = set()  # given up since `revoked` was called
        self._closed = False

    def _settle(self, release: bool = False) -> None:
        """Take the assigned partitions no other member holds; give up others if `release`.

        Called with the lock held: on a rebalance (taking only), and in `poll`.
        """
        if self._positions.keys() == self._target:
            return  # holds what it was assigned: nearly always
        if release:
            gone = [pair for pair in self._positions if pair not in self._target]
            for pair in gone:
                del self._positions[pair]
            self._revoked.update(gone)
            if gone:
                self._bus._changed.notify_all()
        members = self._bus._groups.get(self.group, [])
        for pair in sorted(self._target):
            if pair in self._positions or any(pair in m._positions for m in members):
                continue
            topic, partition = pair
            committed = self._bus._committed(self.group, topic, partition)
            if committed is None:
                committed = 0 if self._start is Start.EARLIEST else self._bus._end(topic, partition)
            self._positions[pair] = committed

    def assignment(self) -> list[tuple[str, int]]:
        return sorted(self._positions)

    def revoked(self) -> set[tuple[str, int]]:
        with self._bus._lock:
            revoked, self._revoked = self._revoked, set()
        return revoked

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        deadline = time.monotonic() + timeout
        bus = self._bus
        with bus._lock:
            while True:
                if self._closed or bus._closed:
                    return []
                if self.group:
                    self._settle(release=True)
                records: list[Record] = []
                for (topic, partition), offset in self._positions.items():
                    if len(records) >= max_records:
                        break
                    if offset >= bus._end(topic, partition):
                        continue
                    batch = bus._read(topic, partition, offset, max_records - len(records))
                    if batch:
                        self._positions[(topic, partition)] = batch[-1].offset + 1
                        records.extend(batch)
                if records:
                    return records
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                bus._changed.wait(left)

    def commit(self, outputs: Sequence[Outgoing] = ()) -> None:
        if not self.group:
            raise BusError("a reader belongs to no group and cannot commit")
        with self._bus._lock:
            positions = [(self.group, t, p, o) for (t, p), o in self._positions.items()]
            self._bus._write(outputs, positions)

    def close(self) -> None:
        with self._bus._lock:
            self._closed = True
            self._positions = {}
            self._target = set()
            self._bus._leave(self)
