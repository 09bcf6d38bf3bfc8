"""Fixtures of the web tests: a real exchange (`exchange run`) and users of it."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.client import User, running_exchange
from tests.web.server import Server


@pytest.fixture
def exchange_process(tmp_path: Path) -> Iterator[Server]:
    """A freshly started exchange with its own data directory, to stop, kill and restart."""
    with running_exchange(tmp_path) as server:
        yield server


@pytest.fixture
def exchange_server(exchange_process: Server) -> str:
    """The base URL of a freshly started exchange."""
    return exchange_process.url


@pytest.fixture
def alice(exchange_server: str) -> Iterator[User]:
    """A new user of the exchange, signed up and logged in."""
    user = User(exchange_server)
    yield user
    user.close()


@pytest.fixture
def bob(exchange_server: str) -> Iterator[User]:
    """Another new user, to trade with alice."""
    user = User(exchange_server)
    yield user
    user.close()
