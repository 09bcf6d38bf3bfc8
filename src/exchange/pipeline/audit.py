"""The audit of a data directory: its snapshots follow from its journal of commands alone.

Replaying every journalled command from nothing through a new `Exchange` must reach, at
each snapshot's seq, the state hash that snapshot was saved with. This is what
`exchange verify` checks, and what the crash tests check after many SIGKILLs.
"""

from dataclasses import dataclass

from exchange.core.engine import Exchange
from exchange.core.markets import Config
from exchange.pipeline.journal import Journal
from exchange.pipeline.snapshots import Snapshots
from exchange.services.wire import command_from_array


@dataclass(frozen=True, slots=True)
class Check:
    seq: int
    saved: str  # the hash the snapshot was saved with
    replayed: str  # the hash a fresh replay reaches at its seq

    @property
    def agrees(self) -> bool:
        return self.saved == self.replayed


def fresh_replay(config: Config, journal: Journal, snapshots: Snapshots) -> Exchange:
    """Replay the whole journal into a new `Exchange` (over the base state a converted
    data directory starts from, if any)."""
    exchange = _start(config, snapshots)
    for batch in journal.batches():
        for array in batch.commands():
            exchange.execute(command_from_array(array))
    return exchange


def verify(config: Config, journal: Journal, snapshots: Snapshots) -> list[Check]:
    """Replay the journal from nothing, comparing the state hash at every snapshot's seq."""
    due = []
    for seq, _ in snapshots.saved():
        saved = snapshots.load(seq)
        if saved is not None:
            due.append((seq, saved.hash))
    checks: list[Check] = []
    exchange = _start(config, snapshots)
    for batch in journal.batches():
        for array in batch.commands():
            cmd = command_from_array(array)
            while due and cmd.seq > due[0][0]:
                seq, saved_hash = due.pop(0)
                checks.append(Check(seq, saved_hash, exchange.state_hash()))
            exchange.execute(cmd)
    for seq, saved_hash in due:
        checks.append(Check(seq, saved_hash, exchange.state_hash() if exchange.seq == seq
                            else f"(the journal ends at seq {exchange.seq})"))
    return checks


def _start(config: Config, snapshots: Snapshots) -> Exchange:
    base = snapshots.base()
    return Exchange(config) if base is None else Exchange.from_state(config, base.exchange)
