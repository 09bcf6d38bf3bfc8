"""The whole cluster stops and starts again with its state intact, and that state is
exactly what a fresh replay of the Kafka topics gives."""

import threading

import httpx
import orjson

from exchange.bus.kafka import KafkaBus
from exchange.core.markets import default_config
from exchange.services.match import MatchService
from exchange.services.processor import replay, snapshot_name
from exchange.services.risk import RiskService
from exchange.store.redis import RedisStore
from tests.cluster.conftest import Processes
from tests.web.test_crash import Trader, audit

CONFIG = default_config()
PATHS = ["/api/v1/balances", "/api/v1/orders/open", "/api/v1/orders/history",
         "/api/v1/fills", "/api/v1/markets/COIN-USD/depth", "/api/v1/markets/COIN-USD/trades"]


def start(processes: Processes) -> str:
    for kind in ("risk", "match"):
        processes.start(kind, kind, "--instance", kind)
    return processes.gateway("gateway")


def test_a_cluster_restarts_intact_and_matches_a_replay_of_its_topics(
    processes: Processes, kafka_bootstrap: str, redis_url: str,
) -> None:
    url = start(processes)
    traders = [Trader(url, seed) for seed in range(4)]
    try:
        threads = [threading.Thread(target=t.trade_until_gone, args=(threading.Event(),))
                   for t in traders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        audit(traders)
        before = [[t.get(p) for p in PATHS] for t in traders]
    finally:
        for trader in traders:
            trader.http.close()
    assert all(code == 0 for code in processes.stop_all().values()), processes.logs()

    # Each service snapshotted on its way out; a fresh replay of the topics from the
    # first record must rebuild exactly that state.
    namespace = processes.flags[processes.flags.index("--namespace") + 1]
    bus = KafkaBus(kafka_bootstrap, f"{namespace}.")
    store = RedisStore(redis_url, namespace)
    try:
        for fresh in (RiskService(CONFIG), MatchService(CONFIG, bus)):
            partitions = range(bus.partitions(fresh.topic))
            replay(bus, fresh, dict.fromkeys(partitions, 0))
            for partition in partitions:
                saved = store.load_snapshot(snapshot_name(fresh, partition))
                assert saved is not None
                live = orjson.loads(saved)["state"]
                assert orjson.loads(orjson.dumps(fresh.dump(partition))) == live, partition
    finally:
        bus.close()
        store.close()

    # Start it all again: the same users (their sessions too) see the same state.
    url = start(processes)
    again = []
    for trader in traders:
        client = httpx.Client(base_url=url, timeout=10, cookies=trader.http.cookies,
                              headers=trader.http.headers)
        again.append([client.get(p).json() for p in PATHS])
        client.close()
    assert again == before
    assert all(code == 0 for code in processes.stop_all().values()), processes.logs()
