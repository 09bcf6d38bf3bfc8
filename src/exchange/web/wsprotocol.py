"""uvicorn's WebSocket protocol, with pushes written once per turn of the event loop.

An order answers with three messages on its socket (the answer, the order's update and
the balances). Through ASGI each message is a `send` coroutine, and uvicorn writes each
to the socket at once: three `send` system calls, each a trip through the kernel's TCP
stack (on loopback, the receiver's half too), plus a writer task and a queue per
connection to keep them in order. Measured at 2,000 orders/s, the writes alone were
a fifth of the server's CPU.

This protocol offers the app an ASGI extension, `PUSH`: a plain function that frames a
text message at once and keeps the bytes until the event loop has run what is ready,
then writes everything kept in one call. It frames the text itself (a server's frame is
a two- to ten-byte header and the payload, unmasked): through the `websockets` state
machine each frame cost more than the rest of the push. So no compression extension is
offered to clients. Nothing waits longer than that turn, and
messages go out in the order they were pushed. A client that stops reading is not
buffered for without end: once `MAX_BEHIND` bytes wait in the transport, `push`
refuses, and the app drops the client.

Received messages can likewise skip ASGI (`FRAMES`): on that way each cost a queue, a
task's wake-up, Starlette's checks and uvicorn's pausing and resuming of reads (two
`epoll_ctl` calls) before the app's own handling. An app that does not ask for them
gets them through `receive`, as from uvicorn.

The handshake, pings, close and errors are uvicorn's own; anything the app sends through
ASGI is written after what was pushed before it.
"""

import struct
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State

PUSH = "exchange.push"  # scope["extensions"][PUSH]: (text) -> bool, False once given up
# scope["extensions"][FRAMES](handler): from then on every message received goes to
# handler(text) (None for a binary one) as it is parsed, not through ASGI's `receive`,
# which then only tells of the disconnect.
FRAMES = "exchange.frames"
MAX_BEHIND = 8 * 2**20  # bytes the transport holds for a client before it is dropped


_HEADERS = [bytes((0x81, size)) for size in range(126)]


def _text_header(size: int) -> bytes:
    """The header of an unmasked, final text frame (RFC 6455, 5.2) of `size` bytes."""
    if size < 126:
        return _HEADERS[size]
    if size < 65536:
        return struct.pack("!BBH", 0x81, 126, size)
    return struct.pack("!BBQ", 0x81, 127, size)


class CoalescingProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn.available_extensions = []  # no compression: `push` frames plain text
        self._pending: list[bytes] = []
        self._on_frame: Callable[[str | None], None] | None = None

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # none if the handshake was refused
        if scope is not None:
            scope["extensions"][PUSH] = self.push
            scope["extensions"][FRAMES] = self._take_frames

    def _take_frames(self, handler: Callable[[str | None], None]) -> None:
        self._on_frame = handler

    def push(self, text: str) -> bool:
        """Frame `text` for the next write; False if the client is gone or far behind."""
        if (self.disconnected or self.close_sent or self.conn.state is not State.OPEN
                or self.transport.get_write_buffer_size() > MAX_BEHIND):
            return False
        payload = text.encode()
        if not self._pending:
            self.loop.call_soon(self._flush)
        self._pending.append(_text_header(len(payload)))
        self._pending.append(payload)
        return True

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            if not self.transport.is_closing():
                self.transport.write(data)

    async def send(self, message: Any) -> None:
        self._flush()
        await super().send(message)

    def send_receive_event_to_app(self) -> None:
        if self._on_frame is None or self.close_sent:
            super().send_receive_event_to_app()  # through ASGI's receive, or dropped
            return
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.curr_msg_data_type != "text":
            self._on_frame(None)
            return
        try:
            text = data.decode()
        except UnicodeDecodeError:
            self.conn.send_close(1007)  # invalid frame payload data
            self.handle_parser_exception()
            return
        self._on_frame(text)
