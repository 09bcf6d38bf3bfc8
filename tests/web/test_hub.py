"""A connection that falls too far behind is cut off, and never grows without bound."""

import asyncio

from exchange.web.hub import MAX_QUEUED, Connection


def test_a_client_that_does_not_read_is_marked_and_stops_queueing() -> None:
    async def scenario() -> None:
        sent: list[str] = []

        async def send(text: str) -> None:
            sent.append(text)

        connection = Connection(send)
        for n in range(MAX_QUEUED + 500):
            connection.push(str(n))
        assert connection.overflowed.is_set()
        assert connection.queue.qsize() == MAX_QUEUED
        writer = asyncio.create_task(connection.write())
        await asyncio.sleep(0)
        writer.cancel()
        assert sent and sent == [str(n) for n in range(len(sent))]  # in order, none lost

    asyncio.run(scenario())


def test_a_client_that_keeps_up_is_never_marked() -> None:
    async def scenario() -> None:
        sent: list[str] = []

        async def send(text: str) -> None:
            sent.append(text)

        connection = Connection(send)
        writer = asyncio.create_task(connection.write())
        for n in range(3 * MAX_QUEUED):
            connection.push(str(n))
            if n % 1000 == 0:
                await asyncio.sleep(0)
        while connection.queue.qsize():
            await asyncio.sleep(0)
        writer.cancel()
        assert not connection.overflowed.is_set() and len(sent) == 3 * MAX_QUEUED

    asyncio.run(scenario())
