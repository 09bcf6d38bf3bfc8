"""Sealing secrets at rest: what is sealed opens only with its key and its context, and
processes that start at once share one key file."""

import multiprocessing
from pathlib import Path

import pytest

from exchange.services.sealing import KEY_BYTES, Sealer, SealError


def test_a_sealed_secret_opens_only_with_its_key_and_context(tmp_path: Path) -> None:
    sealer = Sealer.from_file(tmp_path / "k")
    sealed = sealer.seal(b"secret", b"key-1")
    assert b"secret" not in sealed
    assert sealer.open(sealed, b"key-1") == b"secret"
    assert Sealer.from_file(tmp_path / "k").open(sealed, b"key-1") == b"secret"  # the file
    with pytest.raises(SealError):
        sealer.open(sealed, b"key-2")  # moved to another key id
    with pytest.raises(SealError):
        Sealer.from_file(tmp_path / "other").open(sealed, b"key-1")
    with pytest.raises(SealError):
        sealer.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), b"key-1")
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o600


def _key(path: str) -> bytes:
    return Sealer.from_file(Path(path)).seal(b"x", b"c")


def test_processes_starting_at_once_share_one_whole_key(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "sealing.key"
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        sealed = pool.map(_key, [str(path)] * 12)
    assert len(path.read_bytes()) == KEY_BYTES
    one = Sealer.from_file(path)
    assert all(one.open(s, b"c") == b"x" for s in sealed)
    assert [p.name for p in path.parent.iterdir()] == ["sealing.key"]  # no drafts left
