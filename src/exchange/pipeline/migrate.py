"""Convert a data directory written by the version before the pipeline.

That version ran risk, match and the gateway apart over a bus journal in SQLite
(`journal.sqlite`), each with its snapshots in `store.sqlite`. Its history cannot simply
be replayed through `Exchange`: apart, risk checked some commands before the settlements
of earlier trades came back to it, so a replay could decide some differently. What is
converted is therefore the state, not the history:

    1. the old services are restored (snapshots, then their journal) and stepped until
       nothing is in flight, exactly as the old version would on its next start;
    2. the gateway's views are restored and folded up to the end of their topics;
    3. risk's ledger and match's books become one `Exchange` state (which checks that
       every resting order has its hold, and the other way round), saved with the views
       as the first snapshot, at the highest seq the old journal holds, and as the base
       the new journal starts from (`snapshots/base.json`, which the audit replays over);
    4. the old journal is moved aside to `legacy-journal/`, kept, not deleted.

Users, sessions, API keys and id blocks stay in `store.sqlite`, which both versions use.
If the conversion stops half way, the next start does it again from the old journal.
"""

import shutil
import sys
from pathlib import Path

import orjson

from exchange.bus.port import BusError
from exchange.bus.sqlite import SqliteBus
from exchange.core.engine import STATE_FORMAT, Exchange
from exchange.core.markets import Config
from exchange.pipeline import snapshots
from exchange.pipeline.snapshots import Snapshots
from exchange.services import topics
from exchange.services.busdriver import SNAPSHOT as VIEWS_SNAPSHOT
from exchange.services.match import MatchService
from exchange.services.processor import Runner
from exchange.services.readmodels import fold
from exchange.services.risk import RiskService
from exchange.services.views import Views
from exchange.services.wire import WireError, decode, decode_event
from exchange.store.sqlite import SqliteStore

LEGACY = "journal.sqlite"
MOVED = "legacy-journal"


class MigrationError(Exception):
    """The old data directory cannot be converted; the message says what to do."""


def migrate_if_needed(config: Config, data_dir: Path) -> bool:
    """Convert `data_dir` if it holds an old bus journal; return whether it did."""
    legacy = data_dir / LEGACY
    if not legacy.exists():
        return False
    print(f"exchange: converting {data_dir} from the bus journal of the previous version",
          file=sys.stderr, flush=True)
    bus = SqliteBus(legacy)
    store = SqliteStore(data_dir / "store.sqlite")
    try:
        seq, exchange, views = _convert(config, bus, store)
    finally:
        store.close()
        bus.close()
    Snapshots(data_dir / "snapshots").write_base(seq, snapshots.encode(exchange, views))
    moved = data_dir / MOVED
    moved.mkdir(exist_ok=True)
    for path in data_dir.glob(LEGACY + "*"):
        shutil.move(path, moved / path.name)
    accounts = len(exchange.ledger.accounts()) - 1
    resting = sum(len(book) for book in exchange.books.values())
    trades = sum(book.trade_id for book in exchange.books.values())
    print(f"exchange: converted {accounts} accounts, {resting} resting orders and {trades} "
          f"trades (at seq {seq}); the old journal is kept in {moved}",
          file=sys.stderr, flush=True)
    return True


def _convert(config: Config, bus: SqliteBus, store: SqliteStore) -> tuple[int, Exchange, Views]:
    try:
        counts = {topic: bus.partitions(topic) for topic in (topics.RISK, topics.MATCH,
                                                            topics.USER_EVENTS,
                                                            topics.MARKET_DATA)}
    except BusError:  # a directory that never served a command
        return 0, Exchange(config), Views(config)
    if set(counts.values()) != {1}:
        raise MigrationError(f"the old journal's topics have {counts} partitions; only the "
                             "embedded layout (one each) can be converted")
    risk, match = RiskService(config), MatchService(config, bus)
    runners = [Runner(bus, risk, store, autosave=False), Runner(bus, match, store,
                                                                autosave=False)]
    try:
        while sum(runner.step() for runner in runners):
            pass  # settle what was in flight when the old version stopped
    finally:
        for runner in runners:
            runner.close()
    views, positions = Views(config), {}
    saved = store.load_snapshot(VIEWS_SNAPSHOT)
    if saved is not None:
        state = orjson.loads(saved)
        views = Views.from_state(config, state["views"])
        positions = {(t, p): o for t, p, o in state["positions"]}
    for topic in (topics.USER_EVENTS, topics.MARKET_DATA):
        positions.setdefault((topic, 0), 0)
    reader = bus.reader(positions)
    try:
        while records := reader.poll(0.0, 2000):
            fold(views, [(r.topic, r.partition, r.offset, r.key, decode_event(r.value))
                         for r in records])
    finally:
        reader.close()
    seq = _last_seq(bus)
    state = {"format": STATE_FORMAT, "seq": seq, "ledger": risk.ledger(0).to_state(),
             "books": {symbol: book.to_state() for symbol, book in sorted(match.books.items())}}
    try:
        exchange = Exchange.from_state(config, state)
    except (ValueError, KeyError) as error:
        raise MigrationError(f"the old services disagree ({error}); start the previous "
                             "version once on this directory, then this one") from error
    held = exchange.ledger.open_count()
    resting = sum(len(book) for book in exchange.books.values())
    if held != resting:
        raise MigrationError(f"risk holds for {held} open orders but {resting} rest in the "
                             "books; start the previous version once on this directory, "
                             "then this one")
    return seq, exchange, views


def _last_seq(bus: SqliteBus) -> int:
    """The highest command seq in the old risk topic: the new journal goes on after it."""
    reader = bus.reader({(topics.RISK, 0): 0})
    last = 0
    try:
        while records := reader.poll(0.0, 5000):
            for record in records:
                try:
                    message = decode(record.value)
                except WireError:
                    continue
                last = max(last, message.seq)
    finally:
        reader.close()
    return last
