"""The store contract against the embedded SQLite store, plus what only it promises."""

import sqlite3
from pathlib import Path

import pytest

from exchange.store.port import ApiKey, Store, StoreError
from exchange.store.sqlite import SqliteStore
from tests.store.contract import StoreContract


class TestSqliteStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.path = tmp_path / "store.sqlite"

    def make_store(self) -> Store:
        return SqliteStore(self.path)

    def reopen(self, store: Store) -> Store:
        store.close()
        return SqliteStore(self.path)


def test_two_stores_on_one_file_never_share_an_id(tmp_path: Path) -> None:
    first, second = SqliteStore(tmp_path / "s.sqlite"), SqliteStore(tmp_path / "s.sqlite")
    blocks = [store.allocate("orders", 100) for _ in range(5) for store in (first, second)]
    assert sorted(blocks) == list(range(1, 1001, 100))
    first.close()
    second.close()


def test_a_file_that_cannot_be_opened_raises_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open store"):
        SqliteStore(tmp_path / "missing-directory" / "s.sqlite")


def test_a_store_from_before_key_kinds_reads_its_keys_as_bearer_keys(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # the api_keys table as it was before kinds
        db.execute("CREATE TABLE api_keys (key_id TEXT NOT NULL UNIQUE, user INTEGER NOT NULL,"
                   " label TEXT NOT NULL, created INTEGER NOT NULL, secret_hash BLOB NOT NULL)")
        db.execute("INSERT INTO api_keys VALUES ('k1', 7, 'bot', 5, x'0102')")
    db.close()
    store = SqliteStore(path)
    try:
        assert store.api_key("k1") == (ApiKey("k1", 7, "bot", 5), b"\x01\x02")
        store.create_api_key(ApiKey("k2", 7, "", 6, kind="ed25519", permissions="read"), b"p")
        assert [k.kind for k in store.api_keys(7)] == ["bearer", "ed25519"]
    finally:
        store.close()
