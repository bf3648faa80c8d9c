"""Shared fixtures: real ``nats-server`` processes on free loopback ports.

Every test gets its own server (ports picked by binding port 0, files under the test's
``tmp_path``), so tests can run in parallel. Every server a fixture starts is stopped in
teardown, by the pid it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
import pytest_asyncio.plugin

import natsrs
from helpers import WAIT, w
from nats_py_helpers import Closeable, connect, nats_client
from natsrs._server import NatsServer
from pki import Pki


def pytest_configure(config: pytest.Config) -> None:
    """Children get SIGINT as from a terminal, however the suite itself was started.

    A suite started as a background job of a non-interactive shell (``pytest &``, a
    script's ``nohup``) inherits SIGINT *ignored*, every child inherits that through exec,
    and Python keeps it ignored: ``python -m natsrs server`` then never sees the SIGINT a
    test sends it, and the test times out. A handler in this process is reset to the
    default in each child, so put Python's own back.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _test_loop() -> str:
    """``NATSRS_TEST_LOOP=uvloop`` runs every async test on uvloop (CI runs both)."""
    return os.environ.get("NATSRS_TEST_LOOP", "asyncio")


if hasattr(pytest_asyncio.plugin, "PytestAsyncioSpecs"):  # pytest-asyncio >= 1.3

    def pytest_asyncio_loop_factories(
        config: pytest.Config, item: pytest.Item
    ) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
        if _test_loop() == "uvloop":
            import uvloop

            return {"uvloop": uvloop.new_event_loop}
        return {"asyncio": asyncio.new_event_loop}

else:  # older pytest-asyncio (the newest for Python 3.9 is 1.2)

    @pytest.fixture(scope="session")
    def event_loop_policy() -> asyncio.AbstractEventLoopPolicy:
        if _test_loop() == "uvloop":
            import uvloop

            return uvloop.EventLoopPolicy()
        return asyncio.DefaultEventLoopPolicy()


class ServerFactory(Protocol):
    def __call__(
        self,
        config: str = "",
        jetstream: bool = False,
        *,
        port: int | None = None,
        monitor: bool = True,
        start: bool = True,
    ) -> NatsServer:
        """A server with extra ``config`` text; ``start=False`` only reserves its ports."""
        ...


class ClientFactory(Protocol):
    async def __call__(
        self, url: str, options: natsrs.ConnectOptions | None = None, **keywords: Any
    ) -> natsrs.Client:
        """Connect with ``options`` (or ``natsrs.connect`` keywords); closed after the test."""
        ...


@pytest.fixture
def nats_server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    """Make servers with custom config; all are stopped after the test."""
    servers: list[NatsServer] = []
    numbers = itertools.count()

    def factory(
        config: str = "",
        jetstream: bool = False,
        *,
        port: int | None = None,
        monitor: bool = True,
        start: bool = True,
    ) -> NatsServer:
        server = NatsServer(
            config=config,
            jetstream=jetstream,
            port=port,
            monitor=monitor,
            workdir=tmp_path / f"nats-server-{next(numbers)}",
        )
        servers.append(server)
        if start:
            server.start()
        return server

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture
def nats_server(nats_server_factory: ServerFactory) -> NatsServer:
    """A fresh server with monitoring, on free ports."""
    return nats_server_factory()


@pytest.fixture
def js_server(nats_server_factory: ServerFactory) -> NatsServer:
    """A fresh JetStream server (``-js``, its store in the test's temp dir)."""
    return nats_server_factory(jetstream=True)


@pytest.fixture
async def client(nats_server: NatsServer) -> AsyncIterator[natsrs.Client]:
    """A client connected to ``nats_server``; closed after the test."""
    nc = await asyncio.wait_for(natsrs.connect(nats_server.url), WAIT)
    yield nc
    # The test may have closed or drained it already, or broken the connection.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(nc.close(), WAIT)


@pytest.fixture
async def client_factory() -> AsyncIterator[ClientFactory]:
    """Connect more clients, with options; every one is closed after the test."""
    opened: list[natsrs.Client] = []

    async def factory(
        url: str, options: natsrs.ConnectOptions | None = None, **keywords: Any
    ) -> natsrs.Client:
        if options is not None and keywords:
            raise TypeError("pass either options or keywords")
        connecting = (
            options.connect(url) if options is not None else natsrs.connect(url, **keywords)
        )
        nc = await asyncio.wait_for(connecting, WAIT)
        opened.append(nc)
        return nc

    yield factory
    for nc in opened:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.close(), WAIT)


# -- nats-py compatibility (tests/test_nats_py_*.py) ----------------------------------------


@pytest.fixture
async def opened() -> AsyncIterator[list[Closeable]]:
    """Clients a test made; each one is closed in teardown."""
    clients: list[Closeable] = []
    yield clients
    for nc in clients:
        with contextlib.suppress(Exception):
            await w(nc.close())
    # Let the last connection events reach their callbacks before the loop closes.
    await asyncio.sleep(0.1)


@pytest.fixture(params=["connect", "NATS"], name="nc")
async def nc_fixture(
    request: pytest.FixtureRequest, nats_server: NatsServer, opened: list[Closeable]
) -> Any:
    """The client both ways nats-py users get one: ``nats.connect()`` and ``NATS()``."""
    if request.param == "connect":
        return await connect(opened, nats_server.url, error_cb=None)
    return await nats_client(opened, nats_server.url)


@pytest.fixture(params=["connect", "NATS"], name="js_nc")
async def js_nc_fixture(
    request: pytest.FixtureRequest, js_server: NatsServer, opened: list[Closeable]
) -> Any:
    """``nc`` on a JetStream server: the client both ways nats-py users get one."""
    if request.param == "connect":
        return await connect(opened, js_server.url, error_cb=None)
    return await nats_client(opened, js_server.url)


@pytest.fixture
def js(js_nc: Any) -> Any:
    """``js_nc.jetstream()``: the JetStream context of either client."""
    from natsrs.js import JetStreamContext

    context = js_nc.jetstream()
    assert isinstance(context, JetStreamContext)
    return context


@pytest.fixture
async def raw(js_server: NatsServer) -> AsyncIterator[natsrs.Client]:
    """Another native client on the JetStream server, for what a test does beside ``js``."""
    nc = await asyncio.wait_for(natsrs.connect(js_server.url), WAIT)
    yield nc
    with contextlib.suppress(Exception):
        await asyncio.wait_for(nc.close(), WAIT)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    """A CA with server and client certificates for this test (see ``pki.py``)."""
    return Pki(tmp_path / "pki")
