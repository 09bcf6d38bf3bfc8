"""The embedded store: one SQLite database (WAL), shared by the threads of one process.

One connection in autocommit mode, guarded by a lock. Every write is a single statement,
which SQLite applies atomically, so no method needs an explicit transaction: `allocate`
is one upsert that bumps the sequence and returns the old value, and two processes
sharing the file cannot get the same block either. User ids come from an AUTOINCREMENT
key, which SQLite never reuses.

`synchronous=NORMAL`: a write survives the process being killed; a power cut may lose the
last ones (the operating system had them, the disk not yet), and then the ids they
handed out could be handed out again.
"""

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from exchange.store.port import ApiKey, Session, Store, StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT, password_hash TEXT NOT NULL,
    created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash BLOB PRIMARY KEY, user INTEGER NOT NULL, csrf TEXT NOT NULL,
    expires INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT NOT NULL UNIQUE, user INTEGER NOT NULL, label TEXT NOT NULL,
    created INTEGER NOT NULL, secret_hash BLOB NOT NULL, kind TEXT NOT NULL DEFAULT 'bearer',
    permissions TEXT NOT NULL DEFAULT 'trade');
CREATE INDEX IF NOT EXISTS api_keys_by_user ON api_keys (user);
CREATE TABLE IF NOT EXISTS sequences (name TEXT PRIMARY KEY, next INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (name TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS failures (
    name TEXT PRIMARY KEY, count INTEGER NOT NULL, expires INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires INTEGER NOT NULL);
"""


_KEY_COLUMNS = "key_id, user, label, created, kind, permissions"  # ApiKey's fields, in order


class SqliteStore(Store):
    def __init__(self, path: str | Path) -> None:
        self._lock = threading.Lock()
        self._closed = False
        try:
            self._db = sqlite3.connect(str(path), check_same_thread=False,
                                       isolation_level=None)
        except sqlite3.Error as error:
            raise StoreError(f"cannot open store {path}: {error}") from error
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._add_missing_columns()
        except sqlite3.Error as error:
            self._db.close()
            raise StoreError(f"cannot open store {path}: {error}") from error

    @contextmanager
    def _use(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and turn driver errors into StoreError."""
        with self._lock:
            if self._closed:
                raise StoreError("the store is closed")
            try:
                yield self._db
            except sqlite3.Error as error:
                raise StoreError(f"store failed: {error}") from error

    # ---- users ----------------------------------------------------------------------

    def create_user(self, password_hash: str, now: int) -> int:
        with self._use() as db:
            [(user,)] = db.execute("INSERT INTO users (password_hash, created) VALUES (?, ?)"
                                   " RETURNING id", (password_hash, now)).fetchall()
            return int(user)

    def password_hash(self, user: int) -> str | None:
        with self._use() as db:
            row = db.execute("SELECT password_hash FROM users WHERE id = ?", (user,)).fetchone()
            return None if row is None else str(row[0])

    def set_password_hash(self, user: int, password_hash: str) -> None:
        with self._use() as db:
            db.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user))

    # ---- sessions -------------------------------------------------------------------

    def create_session(self, token_hash: bytes, user: int, csrf: str, expires: int) -> None:
        with self._use() as db:
            db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)",
                       (token_hash, user, csrf, expires))

    def session(self, token_hash: bytes, now: int) -> Session | None:
        with self._use() as db:
            row = db.execute("SELECT user, csrf, expires FROM sessions WHERE token_hash = ?",
                             (token_hash,)).fetchone()
            if row is None:
                return None
            if row[2] <= now:
                db.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))
                return None
            return Session(user=row[0], csrf=row[1], expires=row[2])

    def delete_session(self, token_hash: bytes) -> None:
        with self._use() as db:
            db.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))

    # ---- API keys -------------------------------------------------------------------

    def _add_missing_columns(self) -> None:
        """A store written before API keys had kinds: its keys are bearer keys."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(api_keys)")}
        for name in ("kind", "permissions"):
            if name not in columns:
                default = "bearer" if name == "kind" else "trade"
                self._db.execute(f"ALTER TABLE api_keys ADD COLUMN {name} TEXT NOT NULL "
                                 f"DEFAULT '{default}'")

    def create_api_key(self, key: ApiKey, verifier: bytes) -> None:
        with self._use() as db:
            db.execute("INSERT INTO api_keys (key_id, user, label, created, secret_hash, kind,"
                       " permissions) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (key.key_id, key.user, key.label, key.created, verifier, key.kind,
                        key.permissions))

    def api_key(self, key_id: str) -> tuple[ApiKey, bytes] | None:
        with self._use() as db:
            row = db.execute(f"SELECT {_KEY_COLUMNS}, secret_hash FROM api_keys"
                             " WHERE key_id = ?", (key_id,)).fetchone()
            return None if row is None else (ApiKey(*row[:6]), bytes(row[6]))

    def api_keys(self, user: int) -> list[ApiKey]:
        with self._use() as db:
            rows = db.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys"
                              " WHERE user = ? ORDER BY created, rowid", (user,))
            return [ApiKey(*row) for row in rows]

    def delete_api_key(self, user: int, key_id: str) -> bool:
        with self._use() as db:
            cursor = db.execute("DELETE FROM api_keys WHERE key_id = ? AND user = ?",
                                (key_id, user))
            return cursor.rowcount == 1

    # ---- id sequences ---------------------------------------------------------------

    def allocate(self, name: str, count: int) -> int:
        if count < 1:
            raise ValueError(f"expected a count of at least 1, got {count}")
        with self._use() as db:
            # fetchall runs a RETURNING statement to its end, which commits it.
            [(first,)] = db.execute(
                "INSERT INTO sequences VALUES (:name, 1 + :count) ON CONFLICT (name)"
                " DO UPDATE SET next = next + :count RETURNING next - :count",
                {"name": name, "count": count}).fetchall()
            return int(first)

    # ---- leases ---------------------------------------------------------------------

    def claim(self, name: str, holder: str, now: int, ttl_ms: int) -> bool:
        with self._use() as db:
            # fetchall runs a RETURNING statement to its end, which commits it.
            held = db.execute(
                "INSERT INTO leases VALUES (:name, :holder, :expires) ON CONFLICT (name)"
                " DO UPDATE SET holder = :holder, expires = :expires"
                " WHERE holder = :holder OR expires <= :now RETURNING 1",
                {"name": name, "holder": holder, "expires": now + ttl_ms, "now": now},
            ).fetchall()
            return bool(held)

    def release(self, name: str, holder: str) -> None:
        with self._use() as db:
            db.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    # ---- failure counts -------------------------------------------------------------

    def fail(self, name: str, now: int, ttl_ms: int) -> int:
        with self._use() as db:
            # Forget counts whose time ran out. The table stays small: every failure is a
            # password checked, which the gateways do a few at a time.
            db.execute("DELETE FROM failures WHERE expires <= ? AND name != ?", (now, name))
            [(count,)] = db.execute(
                "INSERT INTO failures VALUES (:name, 1, :expires) ON CONFLICT (name)"
                " DO UPDATE SET count = CASE WHEN expires <= :now THEN 1 ELSE count + 1 END,"
                " expires = :expires RETURNING count",
                {"name": name, "expires": now + ttl_ms, "now": now}).fetchall()
            return int(count)

    def failures(self, name: str, now: int) -> tuple[int, int]:
        with self._use() as db:
            row = db.execute("SELECT count, expires FROM failures WHERE name = ?",
                             (name,)).fetchone()
        if row is None or row[1] <= now:
            return 0, 0
        return int(row[0]), int(row[1]) - now

    def forget_failures(self, name: str) -> None:
        with self._use() as db:
            db.execute("DELETE FROM failures WHERE name = ?", (name,))

    # ---- snapshots ------------------------------------------------------------------

    def save_snapshot(self, name: str, data: bytes) -> None:
        with self._use() as db:
            db.execute("INSERT OR REPLACE INTO snapshots VALUES (?, ?)", (name, data))

    def load_snapshot(self, name: str) -> bytes | None:
        with self._use() as db:
            row = db.execute("SELECT data FROM snapshots WHERE name = ?", (name,)).fetchone()
            return None if row is None else bytes(row[0])

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()
