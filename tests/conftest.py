"""Real servers for the integration tests: Apache Kafka and Redis, started on demand.

A test that asks for `kafka_bootstrap` or `redis_url` gets a broker or a Redis server
brought up by scripts/kafka.sh and scripts/redis.sh (which install and cache what they
need) on ports of their own, with fresh data, and stopped when the test session ends.
Tests that need neither start neither.
"""

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KAFKA_PORT = int(os.environ.get("EXCHANGE_TEST_KAFKA_PORT", "19092"))
REDIS_PORT = int(os.environ.get("EXCHANGE_TEST_REDIS_PORT", "16379"))


def _server(script: str, env: dict[str, str], data: Path) -> Iterator[None]:
    shutil.rmtree(data, ignore_errors=True)
    run_env = {**os.environ, **env}
    subprocess.run([str(ROOT / "scripts" / script), "start"], env=run_env, check=True)
    try:
        yield
    finally:
        subprocess.run([str(ROOT / "scripts" / script), "stop"], env=run_env, check=False)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of a single-node Kafka broker (KRaft) for this test session."""
    data = tmp_path_factory.mktemp("kafka")
    yield from _with(_server("kafka.sh", {"KAFKA_PORT": str(KAFKA_PORT),
                                          "KAFKA_DATA": str(data)}, data),
                     f"127.0.0.1:{KAFKA_PORT}")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a Redis server with append-only persistence for this test session."""
    data = tmp_path_factory.mktemp("redis")
    yield from _with(_server("redis.sh", {"REDIS_PORT": str(REDIS_PORT),
                                          "REDIS_DATA": str(data)}, data),
                     f"redis://127.0.0.1:{REDIS_PORT}/0")


def _with(server: Iterator[None], value: str) -> Iterator[str]:
    next(server)
    try:
        yield value
    finally:
        next(server, None)
