"""Proxies in front of the test broker, each on its own event loop in a thread, so that workers
in this process and in subprocesses can use them alike; the broker advertises the proxy's port,
so every client connection goes through it. ``Proxy.cut`` / ``restore`` take the broker off the
network and back (an outage or a restart as clients see it: connections reset, then refused);
``Proxy.unanswered`` swallows requests of some kinds (a broker that takes no writes);
``Proxy.lose_next_produce_answer`` lets a produce request reach the broker and resets the
connection before its answer (a write the broker made that the client never hears of).

TLS: Tansu 0.6 cannot serve TLS itself (its ``--cert`` and ``--key`` options exclude each
other, and one alone leaves the port in plaintext), so ``TlsProxy`` terminates TLS and forwards
the bytes to the broker's plaintext port. The broker and the TLS handshake are real; only the
terminator is ours."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Self, TypeVar

from .broker import Broker, free_port, start_broker

P = TypeVar("P", bound="Proxy")
PRODUCE = 0  # the Kafka API key of Produce requests


class Proxy:
    """Accepts connections on 127.0.0.1:``port`` (TLS with ``ctx``) and forwards them to
    127.0.0.1:``backend``; subclasses may answer some requests themselves (``_handle``)."""

    def __init__(self, port: int, backend: int, ctx: ssl.SSLContext | None = None) -> None:
        self.port, self.backend, self.ctx = port, backend, ctx
        self.handshakes = 0  # connections accepted (with TLS: a client that got through)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()  # client and backend sides
        # Kafka API keys whose requests are swallowed unanswered (0 = Produce: the broker
        # accepts connections and serves reads, but no write is ever acknowledged)
        self.unanswered: frozenset[int] = frozenset()
        self._lose_next = False
        self.lost = 0  # produce answers dropped (``lose_next_produce_answer``)
        self._thread = threading.Thread(target=self._loop.run_until_complete,
                                        args=(self._serve(),), daemon=True)

    def start(self) -> Self:
        """Listen (returns once the port accepts)."""
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the proxy did not start")
        return self

    def cut(self) -> None:
        """Reset every forwarded connection and refuse new ones, as a broker that went down."""
        asyncio.run_coroutine_threadsafe(self._cut(), self._loop).result(10)

    def restore(self) -> None:
        """Accept connections again, as the broker back up."""
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)

    async def _cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for w in list(self._open):
            w.transport.abort()
        await self._server.wait_closed()
        self._server = None

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port,
                                                  ssl=self.ctx)

    def lose_next_produce_answer(self) -> None:
        """Let the next Produce request through to the broker, then reset its connection when
        the broker answers it instead of relaying the answer: the client sees a request in
        flight when its connection dropped, though the broker wrote it (the window only an
        idempotent producer closes)."""
        self._lose_next = True

    def stop(self) -> None:
        """Close the listener and every forwarded connection."""
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        await self._listen()
        self._ready.set()
        await self._stop.wait()
        if self._server is not None:
            await self._cut()
        # the aborted connections' relays end on their own: let them, so that none is
        # destroyed pending with the loop
        others = asyncio.all_tasks() - {asyncio.current_task()}
        if others:
            await asyncio.wait(others, timeout=5)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.handshakes += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.backend)
        except OSError:
            writer.close()
            return
        self._open.update((writer, up_writer))
        try:
            await self._forward(reader, writer, up_reader, up_writer)
        finally:
            self._open.difference_update((writer, up_writer))

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       up_reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter) -> None:
        """Relay one client connection (``reader``/``writer``) to the backend's."""
        lose: set[bytes] = set()  # correlation ids whose answers are to be lost
        await asyncio.gather(self._requests(reader, up_writer, lose),
                             self._answers(up_reader, writer, up_writer, lose))

    async def _requests(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                        lose: set[bytes]) -> None:
        """Relay the client's requests one frame at a time, less the ``unanswered`` ones."""
        with contextlib.suppress(ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            while True:
                size = await src.readexactly(4)
                frame = await src.readexactly(int.from_bytes(size, "big"))
                # request header: api key (2 bytes), api version (2), correlation id (4)
                api = int.from_bytes(frame[:2], "big")
                if api in self.unanswered:
                    continue
                if api == PRODUCE and self._lose_next:
                    self._lose_next = False
                    lose.add(frame[4:8])
                dst.write(size + frame)
                await dst.drain()
        with contextlib.suppress(ConnectionError, ssl.SSLError, RuntimeError):
            dst.close()

    async def _answers(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                       upstream: asyncio.StreamWriter, lose: set[bytes]) -> None:
        """Relay the broker's answers one frame at a time; at an answer to be lost, reset
        both sides of the connection instead."""
        with contextlib.suppress(ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            while True:
                size = await src.readexactly(4)
                frame = await src.readexactly(int.from_bytes(size, "big"))
                if frame[:4] in lose:  # response header: the correlation id
                    self.lost += 1
                    dst.transport.abort()
                    upstream.transport.abort()
                    return
                dst.write(size + frame)
                await dst.drain()
        with contextlib.suppress(ConnectionError, ssl.SSLError, RuntimeError):
            dst.close()


class TlsProxy(Proxy):
    """Accepts TLS on 127.0.0.1:``port`` and forwards to 127.0.0.1:``backend``."""

    def __init__(self, port: int, backend: int, cert: Path, key: Path) -> None:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        super().__init__(port, backend, ctx)


@contextlib.contextmanager
def proxied_broker(make: Callable[[int, int], P]) -> Iterator[tuple[Broker, P]]:
    """A broker that advertises the port of the proxy in front of it, ``make(port, backend)``,
    so that clients reach it only through that proxy; both stopped at the end."""
    port = free_port()
    broker = start_broker(advertised_port=port)
    try:
        proxy = make(port, broker.port).start()
        try:
            yield broker, proxy
        finally:
            proxy.stop()
    finally:
        broker.stop()


async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    with contextlib.suppress(ConnectionError, ssl.SSLError, RuntimeError):
        dst.close()
