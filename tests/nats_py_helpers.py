"""What the nats-py compatibility tests share: clients made the ways nats-py users make
them, and a recorder of the six connection callbacks.

The ``opened`` and ``nc`` fixtures built on these are in ``conftest.py``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import natsrs
import natsrs as nats
from cluster import cluster_configs, distinct_free_ports, wait_cluster_formed
from helpers import WAIT, w
from natsrs._server import NatsServer

if TYPE_CHECKING:
    from conftest import ServerFactory


Closeable = Any  # natsrs.Client or natsrs.NATS


async def connect(opened: list[Closeable], *args: Any, **kwargs: Any) -> natsrs.Client:
    nc: natsrs.Client = await w(nats.connect(*args, **kwargs))
    opened.append(nc)
    return nc


async def nats_client(opened: list[Closeable], *args: Any, **kwargs: Any) -> nats.NATS:
    nc = nats.NATS()
    opened.append(nc)
    await w(nc.connect(*args, **kwargs))
    return nc


async def assert_works(nc: Any, subject: str = "compat.works") -> None:
    sub = await w(nc.subscribe(subject))
    await w(nc.publish(subject, b"ok"))
    msg = await w(sub.next_msg(timeout=WAIT))
    assert msg.data == b"ok"
    await w(sub.unsubscribe())


class Recorder:
    """Records the six nats-py connection callbacks (all coroutine functions)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.errors: list[Exception] = []
        self.changed = asyncio.Event()

    def _note(self, what: str) -> None:
        self.calls.append(what)
        self.changed.set()

    async def error_cb(self, e: Exception) -> None:
        self.errors.append(e)
        self._note("error")

    async def disconnected_cb(self) -> None:
        self._note("disconnected")

    async def reconnected_cb(self) -> None:
        self._note("reconnected")

    async def closed_cb(self) -> None:
        self._note("closed")

    async def discovered_server_cb(self) -> None:
        self._note("discovered")

    async def lame_duck_mode_cb(self) -> None:
        self._note("lame_duck")

    def callbacks(self) -> dict[str, Any]:
        return {
            "error_cb": self.error_cb,
            "disconnected_cb": self.disconnected_cb,
            "reconnected_cb": self.reconnected_cb,
            "closed_cb": self.closed_cb,
            "discovered_server_cb": self.discovered_server_cb,
            "lame_duck_mode_cb": self.lame_duck_mode_cb,
        }

    async def wait_for(self, what: str, count: int = 1, timeout: float = WAIT) -> None:
        async def until() -> None:
            while self.calls.count(what) < count:
                self.changed.clear()
                await self.changed.wait()

        try:
            await asyncio.wait_for(until(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"no {what!r} within {timeout}s: {self.calls}") from None

    async def wait_error(self, kind: type[Exception], timeout: float = WAIT) -> Exception:
        async def until() -> Exception:
            while True:
                for error in self.errors:
                    if isinstance(error, kind):
                        return error
                self.changed.clear()
                await self.changed.wait()

        try:
            return await asyncio.wait_for(until(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"no {kind.__name__} within {timeout}s: {self.errors}") from None


def connz_names(server: NatsServer) -> list[str]:
    return [c.get("name", "") for c in server.connz()["connections"]]


async def two_of_three_nodes(
    factory: ServerFactory,
) -> tuple[list[int], NatsServer, NatsServer]:
    """Route ports for a three-node cluster, and its first two nodes started and joined."""
    ports = distinct_free_ports(3)
    node_a, node_b = (factory(config) for config in cluster_configs(ports[:2]))
    await wait_cluster_formed([node_a, node_b], timeout=10.0)
    return ports, node_a, node_b


def third_node(factory: ServerFactory, ports: list[int]) -> NatsServer:
    """The third node of :func:`two_of_three_nodes`' cluster, routed to both others."""
    return factory(cluster_configs(ports)[2])
