"""Clusters of nats-server processes on loopback, for the tests that need routes."""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from natsrs._server import NatsServer, NatsServerError, free_port

if TYPE_CHECKING:
    from conftest import ServerFactory


def port_of(url: str) -> int:
    port = urllib.parse.urlsplit(url if "://" in url else f"nats://{url}").port
    assert port is not None, url
    return port


def distinct_free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def cluster_configs(route_ports: Sequence[int], extra: Sequence[str] = ()) -> list[str]:
    """One config per route port: a cluster ``C`` with a full mesh of explicit routes."""
    extras = list(extra) + [""] * (len(route_ports) - len(extra))
    configs = []
    for i, listen in enumerate(route_ports):
        routes = ", ".join(f'"nats-route://127.0.0.1:{p}"' for p in route_ports if p != listen)
        configs.append(
            f"server_name: node-{i}\n"
            "cluster {\n"
            "  name: C\n"
            f'  listen: "127.0.0.1:{listen}"\n'
            f"  routes: [{routes}]\n"
            "}\n"
            f"{extras[i]}\n"
        )
    return configs


def start_cluster(factory: ServerFactory, size: int, extra: Sequence[str] = ()) -> list[NatsServer]:
    """``size`` servers in one cluster on loopback; ``extra[i]`` is more config for node ``i``.

    The route ports are picked here; when one turns out to be taken, the whole cluster
    starts again on fresh ports.
    """
    for attempt in range(3):
        servers: list[NatsServer] = []
        try:
            for config in cluster_configs(distinct_free_ports(size), extra):
                servers.append(factory(config))
            return servers
        except NatsServerError as exc:
            for server in servers:
                server.stop()
            if attempt == 2 or "address already in use" not in str(exc):
                raise
    raise AssertionError("unreachable")


def cluster_formed(servers: Sequence[NatsServer]) -> bool:
    """Every node routes to every other one and advertises every client URL."""
    ports = {server.port for server in servers}
    for server in servers:
        peers = {route["remote_id"] for route in server.monitor_json("routez")["routes"]}
        if len(peers) != len(servers) - 1:
            return False
        advertised = {port_of(url) for url in server.varz().get("connect_urls") or ()}
        if advertised != ports:
            return False
    return True


async def wait_cluster_formed(servers: Sequence[NatsServer], timeout: float = 5.0) -> None:
    """Until :func:`cluster_formed`; a node whose monitoring does not answer yet is not."""

    def formed() -> bool:
        try:
            return cluster_formed(servers)
        except NatsServerError:
            return False

    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(formed):
        if time.monotonic() > deadline:
            raise AssertionError("cluster not formed")
        await asyncio.sleep(0.1)
