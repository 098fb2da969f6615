"""A controllable TCP proxy for fault tests: 127.0.0.1:<free port> -> a target (PostgreSQL).

Usage::

    with TcpProxy(("127.0.0.1", 5432)) as proxy:
        url = proxy.url_for("postgresql+psycopg://postgres@127.0.0.1:5432/test")
        ...                 # connect through `url`
        proxy.refuse()      # every open connection is reset, new ones are refused
        proxy.stall()       # connections stay open, new ones are accepted, no byte moves
        proxy.forward()     # normal again: stalled connections resume with what they buffered

Modes, switched at any time from any thread (each call returns once the switch is done):

* ``forward``: bytes flow both ways; a client connection gets its own upstream connection.
* ``refuse``: open connections are closed with a TCP reset (``SO_LINGER`` 0) on both sides;
  the listening socket is closed, so a new connection is refused by the kernel
  (``ECONNREFUSED``). The port stays reserved meanwhile by a bound, non-listening socket
  (``SO_REUSEPORT``), which becomes the listener again on ``forward`` or ``stall``: no other
  socket can take the port in between.
* ``stall``: a hung network or a frozen server. Open connections stay open but no byte is
  forwarded in either direction (what arrives is held); new connections are accepted (the
  handshake completes) and are connected upstream only when forwarding resumes. Back to
  ``forward``, everything held flows on in order.

The proxy runs an asyncio loop in a daemon thread; ``stop`` (or leaving the ``with``) resets
every connection, closes the sockets and joins the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from enum import Enum
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy.engine import make_url

__all__ = ["Mode", "TcpProxy"]

T = TypeVar("T")
CHUNK = 65536
_LINGER_RESET = struct.pack("ii", 1, 0)


class Mode(Enum):
    FORWARD = "forward"
    REFUSE = "refuse"
    STALL = "stall"


@dataclass(eq=False)
class _Link:
    """One proxied connection: the client's side, the upstream side once connected."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    task: asyncio.Task[None] | None = None
    pumps: list[asyncio.Task[None]] = field(default_factory=list)

    def reset(self) -> None:
        for pump in self.pumps:
            pump.cancel()
        for writer in (self.client, self.upstream):
            if writer is not None:
                _reset(writer)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset rather than a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    writer.transport.abort()


def _port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) that another socket of ours may share."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class TcpProxy:
    """A TCP proxy on 127.0.0.1 whose mode a test switches: forward, refuse, stall."""

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5432), *,
                 host: str = "127.0.0.1", upstream_connect_timeout: float = 5.0) -> None:
        self.target = target
        self.host = host
        self.upstream_connect_timeout = upstream_connect_timeout
        self.port = 0
        self.accepted = 0  # client connections accepted so far
        self._mode = Mode.FORWARD
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._listener: socket.socket | None = None  # listening (forward, stall)
        self._reserved: socket.socket | None = None  # bound, not listening (refuse)
        self._accepting: asyncio.Task[None] | None = None
        self._flowing: asyncio.Event | None = None
        self._links: set[_Link] = set()

    # ---- the test's side -------------------------------------------------------------------

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def mode(self) -> Mode:
        return self._mode

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def open_connections(self) -> int:
        return self._call(self._count())

    def url_for(self, database_url: str) -> str:
        """`database_url` (an SQLAlchemy URL) with its host and port pointed at the proxy."""
        url = make_url(database_url).set(host=self.host, port=self.port)
        return url.render_as_string(hide_password=False)

    def start(self) -> TcpProxy:
        if self._thread is not None:
            raise RuntimeError("the proxy is already running")
        listener = _port_socket(self.host, 0)
        listener.listen(128)
        self._listener, self.port = listener, listener.getsockname()[1]
        loop = asyncio.new_event_loop()
        self._loop = loop
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name=f"tcp-proxy-{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the proxy's loop did not start")
        self._call(self._begin())
        return self

    def forward(self) -> None:
        self._call(self._switch(Mode.FORWARD))

    def refuse(self) -> None:
        self._call(self._switch(Mode.REFUSE))

    def stall(self) -> None:
        self._call(self._switch(Mode.STALL))

    def stop(self) -> None:
        """Reset every connection, close the sockets, end the loop's thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            if thread.is_alive():
                self._call(self._shutdown())
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            self._loop = self._thread = None
            for sock in (self._listener, self._reserved):
                if sock is not None:
                    sock.close()
            self._listener = self._reserved = None

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        if self._loop is None:
            coro.close()
            raise RuntimeError("the proxy is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # ---- the loop's side -------------------------------------------------------------------

    async def _begin(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._accepting = asyncio.create_task(self._accept_loop())

    async def _count(self) -> int:
        return len(self._links)

    async def _switch(self, mode: Mode) -> None:
        assert self._flowing is not None
        if mode is Mode.REFUSE:
            self._flowing.clear()
            if self._listener is not None:
                # Reserve the port before the listener goes: SYNs then meet no listener.
                self._reserved = _port_socket(self.host, self.port)
                await self._stop_accepting()
            self._reset_all()
        else:
            if self._listener is None:
                assert self._reserved is not None
                self._reserved.listen(128)
                self._listener, self._reserved = self._reserved, None
                self._accepting = asyncio.create_task(self._accept_loop())
            if mode is Mode.FORWARD:
                self._flowing.set()
            else:
                self._flowing.clear()
        self._mode = mode

    async def _stop_accepting(self) -> None:
        if self._accepting is not None:
            self._accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accepting
            self._accepting = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _reset_all(self) -> None:
        for link in list(self._links):
            link.reset()
            if link.task is not None:
                link.task.cancel()
        self._links.clear()

    async def _shutdown(self) -> None:
        if self._flowing is not None:
            self._flowing.clear()
        await self._stop_accepting()
        tasks = [link.task for link in self._links if link.task is not None]
        self._reset_all()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        if self._reserved is not None:
            self._reserved.close()
            self._reserved = None

    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._listener is not None
        listener = self._listener
        while True:
            try:
                conn, _ = await loop.sock_accept(listener)
            except asyncio.CancelledError:
                raise
            except OSError:
                if listener.fileno() == -1:
                    return
                await asyncio.sleep(0.01)  # e.g. EMFILE: try again rather than die
                continue
            self.accepted += 1
            if self._mode is Mode.REFUSE:  # accepted in the instant before the switch
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
                conn.close()
                continue
            try:
                conn.setblocking(False)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                reader, writer = await asyncio.open_connection(sock=conn, limit=CHUNK)
            except OSError:  # the client gave up already
                conn.close()
                continue
            link = _Link(writer)
            self._links.add(link)
            link.task = asyncio.create_task(self._serve(link, reader))

    async def _serve(self, link: _Link, client_reader: asyncio.StreamReader) -> None:
        assert self._flowing is not None
        clean = False
        try:
            await self._flowing.wait()  # a connection accepted while stalled waits here
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(*self.target, limit=CHUNK),
                self.upstream_connect_timeout)
            link.upstream = up_writer
            sock = up_writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link.pumps = [asyncio.create_task(self._pump(client_reader, up_writer)),
                          asyncio.create_task(self._pump(up_reader, link.client))]
            done, _ = await asyncio.wait(link.pumps, return_when=asyncio.FIRST_EXCEPTION)
            failures = [task.cancelled() or task.exception() is not None for task in done]
            clean = len(done) == 2 and not any(failures)
        except (OSError, TimeoutError, asyncio.CancelledError):
            pass
        finally:
            self._links.discard(link)
            if clean:
                for writer in (link.client, link.upstream):
                    if writer is not None:
                        writer.close()
            else:
                link.reset()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy one direction; bytes (and the end of the stream) wait while not forwarding."""
        assert self._flowing is not None
        while True:
            data = await reader.read(CHUNK)
            await self._flowing.wait()
            if not data:
                if writer.can_write_eof() and not writer.is_closing():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()
