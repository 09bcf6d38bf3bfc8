"""The WebSocket protocol's pushes: one write per turn of the loop, in order, and a client
that stops reading is given up on instead of buffered for without end.

The protocol runs against a fake transport here (what uvicorn would give it), driven by
a real handshake and real frames from the `websockets` client protocol, so the bytes
written are parsed back as a client would.
"""

import asyncio
from typing import Any

import orjson
from uvicorn.config import Config
from uvicorn.server import ServerState
from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri

from exchange.web.hub import Connection
from exchange.web.wsprotocol import FRAMES, MAX_BEHIND, PUSH, CoalescingProtocol


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.held = 0  # what get_write_buffer_size reports
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def get_write_buffer_size(self) -> int:
        return self.held

    def pause_reading(self) -> None:
        pass  # uvicorn's own way pauses until the app takes each message

    def resume_reading(self) -> None:
        pass

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 5001)}.get(
            name, default)


class Harness:
    """A protocol that has accepted a client; `scope` is what the app saw."""

    def __init__(self) -> None:
        self.scope: dict[str, Any] = {}
        self.received: list[dict[str, Any]] = []
        self.hold_app = asyncio.Event()  # set: the app takes messages as they come

        async def app(scope: Any, receive: Any, send: Any) -> None:
            self.scope = scope
            await receive()
            await send({"type": "websocket.accept"})
            while True:
                await self.hold_app.wait()
                message = await receive()
                self.received.append(message)
                if message["type"] == "websocket.disconnect":
                    return

        config = Config(app, lifespan="off")
        config.load()
        self.protocol = CoalescingProtocol(config, ServerState(), {})
        self.transport = FakeTransport()
        self.protocol.connection_made(self.transport)
        self.client = ClientProtocol(parse_uri("ws://127.0.0.1:5001/api/v1/ws"))

    async def connect(self) -> None:
        self.client.send_request(self.client.connect())
        self.protocol.data_received(b"".join(self.client.data_to_send()))
        for _ in range(5):
            await asyncio.sleep(0)
        self.client.receive_data(self._written())
        assert self.client.handshake_exc is None
        self.client.events_received()

    def _written(self) -> bytes:
        data = b"".join(self.transport.writes)
        self.transport.writes.clear()
        return data

    def texts(self) -> list[str]:
        """What the client received since the last call, parsed from the written bytes."""
        self.client.receive_data(self._written())
        return [bytes(event.data).decode() for event in self.client.events_received()
                if isinstance(event, Frame) and event.opcode is Opcode.TEXT]

    def send_text(self, text: str) -> None:
        self.client.send_text(text.encode())
        self.protocol.data_received(b"".join(self.client.data_to_send()))


def test_pushes_of_one_turn_are_one_write_in_order() -> None:
    async def scenario() -> None:
        harness = Harness()
        await harness.connect()
        push = harness.scope["extensions"][PUSH]
        for n in range(3):
            assert push(orjson.dumps({"n": n}).decode())
        assert harness.transport.writes == []  # not before the loop's turn ends
        await asyncio.sleep(0)
        assert len(harness.transport.writes) == 1
        assert harness.texts() == ['{"n":0}', '{"n":1}', '{"n":2}']
        push("later")
        await asyncio.sleep(0)
        assert harness.texts() == ["later"]

    asyncio.run(scenario())


def test_a_client_far_behind_is_refused_and_its_connection_marked() -> None:
    async def scenario() -> None:
        harness = Harness()
        await harness.connect()
        connection = Connection(harness.scope["extensions"][PUSH])
        connection.push("kept")
        harness.transport.held = MAX_BEHIND + 1  # the client stopped reading
        connection.push("refused")
        assert connection.overflowed.is_set()
        harness.transport.held = 0
        connection.push("after")  # nothing more once given up on
        await asyncio.sleep(0)
        assert harness.texts() == ["kept"]

    asyncio.run(scenario())


def test_a_gone_client_is_refused() -> None:
    async def scenario() -> None:
        harness = Harness()
        await harness.connect()
        push = harness.scope["extensions"][PUSH]
        harness.protocol.connection_lost(None)
        assert push("too late") is False

    asyncio.run(scenario())


def test_frames_go_to_the_handler_once_taken_and_to_receive_before() -> None:
    async def scenario() -> None:
        harness = Harness()
        await harness.connect()
        harness.send_text("queued")  # no handler yet: through ASGI's receive
        taken: list[str | None] = []
        harness.scope["extensions"][FRAMES](taken.append)
        harness.send_text("direct")
        harness.client.send_binary(b"\x00")
        harness.protocol.data_received(b"".join(harness.client.data_to_send()))
        assert taken == ["direct", None]
        harness.hold_app.set()
        for _ in range(5):
            await asyncio.sleep(0)
        assert [m.get("text") for m in harness.received] == ["queued"]

    asyncio.run(scenario())


def test_frames_of_every_length_class_parse_back() -> None:
    async def scenario() -> None:
        harness = Harness()
        await harness.connect()
        push = harness.scope["extensions"][PUSH]
        texts = ["", "é" * 62, "x" * 125, "x" * 126, "€" * 30_000, "y" * 65_535,
                 "z" * 65_536, "w" * 300_000]
        for text in texts:
            assert push(text)
        await asyncio.sleep(0)
        assert harness.texts() == texts

    asyncio.run(scenario())


def test_no_compression_is_negotiated() -> None:
    async def scenario() -> None:
        harness = Harness()
        harness.client = ClientProtocol(
            parse_uri("ws://127.0.0.1:5001/api/v1/ws"),
            extensions=[ClientPerMessageDeflateFactory()])
        await harness.connect()
        assert harness.client.extensions == []
        harness.scope["extensions"][PUSH]("plain")
        await asyncio.sleep(0)
        assert harness.texts() == ["plain"]

    asyncio.run(scenario())
