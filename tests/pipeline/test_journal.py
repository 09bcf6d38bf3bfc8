"""The command journal: batches read back as written; a torn tail is cut, damage refused."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.core.commands import CancelOrder, Command, OpenAccount, PlaceOrder
from exchange.core.types import OrderType, Side, TimeInForce
from exchange.pipeline.journal import Journal, JournalError
from exchange.services.wire import command_from_array


def place(seq: int) -> PlaceOrder:
    return PlaceOrder(seq, seq * 10, seq, 1 + seq % 3, "COIN-USD", Side(1 + seq % 2),
                      OrderType.LIMIT, TimeInForce.GTC, 400 + seq % 7, 100, 0, f"c{seq}")


def read_back(journal: Journal, after: int = 0) -> list[list[Command]]:
    return [[command_from_array(a) for a in batch.commands()]
            for batch in journal.batches(after)]


def write(directory: Path, batches: list[list[Command]]) -> Path:
    journal = Journal(directory)
    for batch in batches:
        journal.append(batch)
    journal.close()
    return journal.segments()[-1][1]


BATCHES: list[list[Command]] = [[OpenAccount(1, 5, 1), OpenAccount(2, 6, 2)],
                                [place(3)], [place(4), CancelOrder(5, 7, 1, 4)], [place(6)]]


def test_batches_read_back_as_written_across_a_restart(tmp_path: Path) -> None:
    write(tmp_path, BATCHES)
    with Journal(tmp_path) as journal:
        assert not journal.recovered
        assert read_back(journal) == BATCHES
        assert read_back(journal, after=4) == BATCHES[2:]  # the batch holding 5 is read whole
        journal.append([place(7)])
    with Journal(tmp_path) as journal:
        assert read_back(journal) == [*BATCHES, [place(7)]]


def test_segments_start_where_a_snapshot_was_cut(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append(BATCHES[0])
    journal.append(BATCHES[1])
    journal.roll(4)
    journal.append(BATCHES[2])
    journal.roll(6)
    journal.append(BATCHES[3])
    assert [first for first, _ in journal.segments()] == [1, 4, 6]
    assert read_back(journal, after=3) == BATCHES[2:]  # the first segment is not read
    assert read_back(journal, after=5) == BATCHES[3:]
    assert read_back(journal) == BATCHES
    with pytest.raises(JournalError):
        journal.roll(2)  # below the last segment
    journal.close()


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=400), st.binary(min_size=1, max_size=8))
def test_a_torn_or_garbled_tail_is_cut_at_the_last_whole_batch(
        tmp_path_factory: pytest.TempPathFactory, cut: int, garbage: bytes) -> None:
    directory = tmp_path_factory.mktemp("journal")
    path = write(directory, BATCHES)
    data = path.read_bytes()
    last_start = len(data) - len(_record_of_last(directory))
    # Truncate somewhere in the last batch, or garble its last bytes.
    if cut % 2:
        torn = data[:last_start + cut % (len(data) - last_start)]
    else:
        # Flip bits of the last bytes (never none: `| 1`), so the tail always changes.
        tail = data[-len(garbage):]
        torn = data[:-len(garbage)] + bytes(b ^ (g | 1) for b, g in zip(tail, garbage, strict=True))
    path.write_bytes(torn)
    with Journal(directory) as journal:
        if len(torn) == last_start:  # cut exactly at a batch boundary: nothing is torn
            assert not journal.recovered
        else:
            assert "cut" in journal.recovered and f"offset {last_start}" in journal.recovered
        assert read_back(journal) == BATCHES[:-1]
        journal.append([place(9)])  # goes on after the last whole batch
    with Journal(directory) as journal:
        assert read_back(journal) == [*BATCHES[:-1], [place(9)]]


def _record_of_last(directory: Path) -> bytes:
    """The bytes the last batch takes: write the same batches less the last, compare."""
    other = directory.parent / (directory.name + "-less")
    other.mkdir()
    shorter = write(other, BATCHES[:-1]).read_bytes()
    full = sorted(directory.glob("commands-*.log"))[-1].read_bytes()
    return full[len(shorter):]


def test_damage_before_whole_batches_is_refused_not_cut(tmp_path: Path) -> None:
    # Cutting there would drop batches that were acknowledged: refuse instead.
    path = write(tmp_path, BATCHES)
    data = bytearray(path.read_bytes())
    data[25] ^= 0xFF  # inside the first batch's payload
    path.write_bytes(bytes(data))
    with pytest.raises(JournalError, match="damaged"):
        Journal(tmp_path)


def test_fsync_mode_writes_the_same_journal(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "a", fsync=True)
    for batch in BATCHES:
        journal.append(batch)
    journal.roll(7)
    journal.append([place(7)])
    journal.close()
    with Journal(tmp_path / "a") as journal:
        assert read_back(journal) == [*BATCHES, [place(7)]]
