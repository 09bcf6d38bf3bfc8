"""Fixtures of the Binance API tests: a real exchange (`exchange run`), and users of it
with signing keys."""

from collections.abc import Iterator

import pytest

from tests.binance.signed import Bot
from tests.web.conftest import exchange_process, exchange_server  # noqa: F401 - fixtures


@pytest.fixture
def bot(exchange_server: str) -> Iterator[Bot]:  # noqa: F811 - the fixture above
    """A new user with an HMAC key that may trade."""
    with Bot(exchange_server) as made:
        yield made


@pytest.fixture
def other_bot(exchange_server: str) -> Iterator[Bot]:  # noqa: F811
    with Bot(exchange_server) as made:
        yield made
