"""A scripted NATS server on a free loopback port, for bytes a real nats-server never sends.

Tests that need a hostile or broken *server* (an ``-ERR`` with no text, a ``MSG`` with an
impossible size, an endless ``INFO``) use this; everything a peer can send goes through a
real ``nats-server`` instead. Each client connection runs the test's ``script`` with a
:class:`Peer`; :meth:`Peer.serve` is a tiny in-connection router (``SUB``/``UNSUB``/
``PUB``/``HPUB``/``PING``, no-responders for requests nobody answers) so that a script can
behave well after it has misbehaved, and a client can reconnect to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Awaitable, Callable
from typing import Any

Script = Callable[["Peer"], Awaitable[None]]

NO_RESPONDERS = b"NATS/1.0 503\r\n\r\n"


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcard matching: ``*`` one token, ``>`` one or more trailing tokens."""
    want = pattern.split(".")
    have = subject.split(".")
    for index, token in enumerate(want):
        if token == ">":
            return len(have) > index
        if index >= len(have) or (token != "*" and token != have[index]):
            return False
    return len(want) == len(have)


def info_line(**fields: Any) -> bytes:
    info: dict[str, Any] = {
        "server_id": "FAKE",
        "server_name": "fake",
        "version": "2.10.0",
        "proto": 1,
        "go": "go1.22",
        "host": "127.0.0.1",
        "port": 0,
        "headers": True,
        "max_payload": 1048576,
        "client_id": 1,
    }
    info.update(fields)
    return b"INFO " + json.dumps(info).encode() + b"\r\n"


class Peer:
    """One client connection to the fake server."""

    def __init__(
        self, index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.index = index
        """0 for the first connection, 1 for the first reconnect, and so on."""
        self.reader = reader
        self.writer = writer
        self.subs: dict[str, str] = {}
        """sid -> subject of the client's live subscriptions on this connection."""
        self._subscribed = asyncio.Event()

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def handshake(self, info: bytes | None = None) -> None:
        """INFO out; CONNECT and PING in; PONG out."""
        self.send(info if info is not None else info_line())
        await self.writer.drain()
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError("client left during the handshake")
            if line.startswith(b"PING"):
                break
        self.send(b"PONG\r\n")
        await self.writer.drain()

    async def wait_subscribed(self, subject: str, timeout: float = 5.0) -> str:
        """The sid of the client's subscription to ``subject`` once it arrives."""

        async def seen() -> str:
            while True:
                for sid, subscribed in self.subs.items():
                    if subscribed == subject:
                        return sid
                self._subscribed.clear()
                await self._subscribed.wait()

        return await asyncio.wait_for(seen(), timeout)

    def deliver(self, subject: str, payload: bytes, reply: str | None = None) -> None:
        for sid, pattern in list(self.subs.items()):
            if subject_matches(pattern, subject):
                reply_part = f" {reply}" if reply else ""
                self.send(f"MSG {subject} {sid}{reply_part} {len(payload)}\r\n".encode())
                self.send(payload + b"\r\n")

    def _deliver_headers(self, subject: str, header: bytes, payload: bytes) -> bool:
        delivered = False
        for sid, pattern in list(self.subs.items()):
            if subject_matches(pattern, subject):
                total = len(header) + len(payload)
                self.send(f"HMSG {subject} {sid} {len(header)} {total}\r\n".encode())
                self.send(header + payload + b"\r\n")
                delivered = True
        return delivered

    async def serve(self) -> None:
        """Route the client's operations within this connection until it leaves."""
        reader = self.reader
        while True:
            line = await reader.readline()
            if not line:
                return
            words = line.decode(errors="replace").split()
            if not words:
                continue
            op = words[0].upper()
            if op == "PING":
                self.send(b"PONG\r\n")
            elif op == "SUB":
                self.subs[words[-1]] = words[1]
                self._subscribed.set()
            elif op == "UNSUB":
                self.subs.pop(words[1], None)
            elif op in ("PUB", "HPUB"):
                subject = words[1]
                reply = words[2] if len(words) == (4 if op == "PUB" else 5) else None
                total = int(words[-1])
                header_len = int(words[-2]) if op == "HPUB" else 0
                body = await reader.readexactly(total + 2)
                header, payload = body[:header_len], body[header_len:total]
                matched = any(subject_matches(p, subject) for p in self.subs.values())
                if op == "PUB":
                    self.deliver(subject, payload, reply)
                else:
                    self._deliver_headers(subject, header, payload)
                if not matched and reply:
                    self._deliver_headers(reply, NO_RESPONDERS, b"")
            await self.writer.drain()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


class FakeServer:
    """``async with FakeServer(script) as server``: ``server.url`` accepts clients."""

    def __init__(self, script: Script) -> None:
        self._script = script
        self._numbers = itertools.count()
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.peers: list[Peer] = []
        self.errors: list[BaseException] = []

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = Peer(next(self._numbers), reader, writer)
        self.peers.append(peer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            await self._script(peer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client left: what a hostile script usually wants
        except asyncio.CancelledError:
            # Only __aexit__ cancels: end quietly (asyncio logs a cancelled handler).
            pass
        except BaseException as exc:  # reported to the test through `errors`
            self.errors.append(exc)
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]
            await peer.close()

    async def __aenter__(self) -> FakeServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5.0)
        for peer in self.peers:
            await peer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5.0)
