"""Limits: oversized bodies are refused unread; password work is bounded; guessing is slow.

The HTTP cases run against a real `exchange run`; `PasswordGate`'s timing is checked
directly, with a clock the test moves.
"""

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from exchange.store.sqlite import SqliteStore
from exchange.web.errors import ApiError
from exchange.web.limits import MAX_BODY, PasswordGate
from tests.web.client import API, MARKET, User, assert_error, exchange_state


def order_body(padding: int) -> bytes:
    """A valid order, made `padding` bytes longer by an unknown field's value."""
    return (b'{"market": "' + MARKET.encode() + b'", "side": "buy", "price": "1", '
            b'"quantity": "1", "note": "' + b"x" * padding + b'"}')


def test_a_body_over_the_limit_is_refused_and_changes_nothing(exchange_server: str,
                                                              alice: User) -> None:
    before = exchange_state(exchange_server, [alice])
    answer = alice.http.post("/orders", content=order_body(MAX_BODY),
                             headers={"content-type": "application/json"})
    assert_error(answer, 413, "body_too_large")
    assert exchange_state(exchange_server, [alice]) == before


def test_a_chunked_body_is_counted_as_it_arrives(exchange_server: str, alice: User) -> None:
    def chunks() -> Iterator[bytes]:  # no content-length: httpx sends it chunked
        body = order_body(MAX_BODY)
        for start in range(0, len(body), 4096):
            yield body[start:start + 4096]

    before = exchange_state(exchange_server, [alice])
    answer = alice.http.post("/orders", content=chunks(),
                             headers={"content-type": "application/json"})
    assert "content-length" not in answer.request.headers
    assert_error(answer, 413, "body_too_large")
    assert exchange_state(exchange_server, [alice]) == before


def test_a_body_under_the_limit_is_read(alice: User) -> None:
    """The limit is not too tight: the same order, just under it, gets to validation."""
    answer = alice.http.post("/orders", content=order_body(MAX_BODY - 200),
                             headers={"content-type": "application/json"})
    assert_error(answer, 400, "invalid_field", "note")  # unknown fields are refused


def test_wrong_passwords_lock_that_user_id_from_that_address(exchange_server: str, alice: User,
                                                bob: User) -> None:
    with httpx.Client(base_url=exchange_server + API) as stranger:
        for _ in range(5):
            answer = stranger.post("/session", json={"user_id": alice.user_id,
                                                     "password": "not her password"})
            assert_error(answer, 401, "unauthenticated")
        # Now even the right password is not checked for a while.
        answer = stranger.post("/session", json={"user_id": alice.user_id,
                                                 "password": alice.password})
        error = assert_error(answer, 429, "too_many_attempts")
        assert "retry in" in error["message"]
        assert "set-cookie" not in answer.headers
        # Another user logs in as usual, and alice's open session still works.
        answer = stranger.post("/session", json={"user_id": bob.user_id,
                                                 "password": bob.password})
        assert answer.status_code == 200, answer.text
    assert alice.get("/session") == {"user_id": alice.user_id}


def test_the_gate_locks_after_failures_in_a_row_until_the_lockout_passes(
        tmp_path: Path) -> None:
    now = [100_000]
    gate = PasswordGate(SqliteStore(tmp_path / "store.sqlite"), failures=3, lockout=60,
                        clock=lambda: now[0])
    guesser = (7, "10.0.0.1")
    for _ in range(2):
        gate.failed(guesser)
    gate.check(guesser)  # two in a row: not yet
    gate.succeeded(guesser)  # and a success starts the count again
    for _ in range(2):
        gate.failed(guesser)
    gate.check(guesser)
    gate.failed(guesser)
    with pytest.raises(ApiError) as refused:
        gate.check(guesser)
    assert (refused.value.status, refused.value.code) == (429, "too_many_attempts")
    assert "retry in 60 s" in refused.value.message
    gate.check((8, "10.0.0.1"))  # other users are not affected
    gate.check((7, "10.0.0.2"))  # nor the same user from elsewhere
    now[0] += 59_500
    with pytest.raises(ApiError):
        gate.check(guesser)
    now[0] += 1000
    gate.check(guesser)  # the lockout passed: one more try ...
    gate.failed(guesser)
    with pytest.raises(ApiError):  # ... and a wrong one locks it again at once
        gate.check(guesser)


def test_the_gate_refuses_work_when_too_much_waits(tmp_path: Path) -> None:
    async def scenario() -> None:
        gate = PasswordGate(SqliteStore(tmp_path / "store.sqlite"), hashers=1, waiting=2)
        release = threading.Event()
        first = asyncio.create_task(gate.run(release.wait, 10))
        second = asyncio.create_task(gate.run(lambda: "done"))
        await asyncio.sleep(0.05)  # the first holds the only slot, the second waits
        with pytest.raises(ApiError) as busy:
            await gate.run(lambda: "never")
        assert (busy.value.status, busy.value.code) == (429, "busy")
        release.set()
        assert await first is True
        assert await second == "done"
        assert await gate.run(lambda: "again") == "again"  # the queue drained

    asyncio.run(scenario())
