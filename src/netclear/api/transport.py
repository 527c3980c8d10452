"""One ``send`` per HTTP answer: uvicorn's httptools protocol with its writes coalesced.

uvicorn writes an answer's status line and headers (``http.response.start``) and its body
(``http.response.body``) with two ``transport.write`` calls, and each is a ``send`` system call
that puts a TCP segment on the wire at once (``TCP_NODELAY``) and wakes the client. A signed order's
answer is a few hundred bytes, so the second call doubles the kernel's work and the client's wake-ups
for nothing: on loopback the two writes were about a quarter of the event loop's time per signed
order (docs/benchmarks.md, issue 12). :class:`CoalescingHttpToolsProtocol` hands uvicorn a
transport whose writes made in one step of the event loop leave as one ``write`` when the step
ends (``loop.call_soon``); ``close`` and ``write_eof`` send what is pending first, so the bytes and
their order on the wire are unchanged. A websocket upgrade gets the plain transport back.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescedTransport:
    """Wraps an :class:`asyncio.Transport`: ``write`` buffers until the end of the loop step."""

    __slots__ = ("_loop", "_pending", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        """Send what is pending as one write (a closed transport drops it, as its own write does)."""
        if self._pending:
            data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
            self._pending.clear()
            self.transport.write(data)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def write_eof(self) -> None:
        self.flush()
        self.transport.write_eof()

    def abort(self) -> None:
        self._pending.clear()
        self.transport.abort()

    def get_write_buffer_size(self) -> int:
        return self.transport.get_write_buffer_size() + sum(len(b) for b in self._pending)

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, pause_reading, ...
        return getattr(self.transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """``netclear serve``'s HTTP protocol (``uvicorn.run(..., http=CoalescingHttpToolsProtocol)``)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescedTransport(transport, self.loop))  # type: ignore[arg-type]

    def handle_websocket_upgrade(self) -> None:
        wrapped = self.transport
        if isinstance(wrapped, CoalescedTransport):  # the websocket protocol writes for itself
            wrapped.flush()
            self.transport = wrapped.transport
        super().handle_websocket_upgrade()
