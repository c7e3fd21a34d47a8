"""TLS in front of the test broker. Tansu 0.6 cannot serve TLS itself (its ``--cert`` and
``--key`` options exclude each other, and one alone leaves the port in plaintext), so the
tests terminate TLS here and forward the bytes to the broker's plaintext port; the broker
advertises this port, so every client connection goes through TLS. The broker and the TLS
handshake are real; only the terminator is ours. It runs its own event loop in a thread, so
workers in this process and in subprocesses can use it alike."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from pathlib import Path
from typing import Self


class Proxy:
    """Accepts connections on 127.0.0.1:``port`` (TLS with ``ctx``) and forwards them to
    127.0.0.1:``backend``; subclasses may answer some requests themselves (``_handle``)."""

    def __init__(self, port: int, backend: int, ctx: ssl.SSLContext | None = None) -> None:
        self.port, self.backend, self.ctx = port, backend, ctx
        self.handshakes = 0  # connections accepted (with TLS: a client that got through)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete,
                                        args=(self._serve(),), daemon=True)

    def start(self) -> Self:
        """Listen (returns once the port accepts)."""
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the TLS proxy did not start")
        return self

    def stop(self) -> None:
        """Close the listener and every forwarded connection."""
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, ssl=self.ctx)
        self._ready.set()
        async with server:
            await self._stop.wait()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.handshakes += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.backend)
        except OSError:
            writer.close()
            return
        await self._forward(reader, writer, up_reader, up_writer)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       up_reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter) -> None:
        """Relay one client connection (``reader``/``writer``) to the backend's."""
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


class TlsProxy(Proxy):
    """Accepts TLS on 127.0.0.1:``port`` and forwards to 127.0.0.1:``backend``."""

    def __init__(self, port: int, backend: int, cert: Path, key: Path) -> None:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        super().__init__(port, backend, ctx)


async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    with contextlib.suppress(ConnectionError, ssl.SSLError, RuntimeError):
        dst.close()
