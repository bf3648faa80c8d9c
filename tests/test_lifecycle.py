"""Where Python's object and loop lifecycle meets the engine: close, cancel, GC, loops."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import natsrs
from helpers import WAIT, assert_works, threads_runtime_only, w, wait_until
from natsrs._server import NatsServer

if TYPE_CHECKING:
    from conftest import ClientFactory, ServerFactory


async def test_close_while_reconnecting_stops_the_engine_for_good(
    nats_server_factory: ServerFactory, client_factory: ClientFactory
) -> None:
    server = nats_server_factory()
    nc = await client_factory(server.url)
    sub = await nc.subscribe("lifecycle.x")
    server.stop()
    await wait_until(lambda: nc.connection_state == natsrs.ConnectionState.DISCONNECTED)

    waiting = asyncio.ensure_future(sub.next())
    started = time.monotonic()
    await w(nc.close())
    assert time.monotonic() - started < 1.0, "close() must not wait for a dead server"
    assert await w(waiting) is None
    assert nc.connection_state == natsrs.ConnectionState.CLOSED

    # Same port again: a handler that kept reconnecting would show up here. The engine's
    # backoff tops out at 4 s, so 6 s covers its next attempt.
    server.start()
    await asyncio.sleep(6)
    assert server.connz()["num_connections"] == 0


async def test_close_of_a_connected_client_closes_the_socket_after_flushing(
    nats_server: NatsServer, client_factory: ClientFactory
) -> None:
    nc = await client_factory(nats_server.url)
    watcher = await client_factory(nats_server.url)
    sub = await watcher.subscribe("lifecycle.flush")
    await watcher.flush()
    for i in range(100):
        await nc.publish("lifecycle.flush", str(i).encode())
    await w(nc.close())
    got = [int((await w(sub.next())).payload) for _ in range(100)]
    assert got == list(range(100))
    await wait_until(lambda: nats_server.connz()["num_connections"] == 1)


async def test_cancelled_request_propagates_and_the_client_keeps_working(
    client: natsrs.Client,
) -> None:
    silent = await client.subscribe("lifecycle.silent")
    await client.flush()
    task = asyncio.ensure_future(client.request("lifecycle.silent", b"?", timeout=30))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await w(silent.next())).payload == b"?"

    echo = await client.subscribe("lifecycle.echo")

    async def respond() -> None:
        async for msg in echo:
            await msg.respond(msg.payload)

    responder = asyncio.ensure_future(respond())
    reply = await w(client.request("lifecycle.echo", b"still here"))
    assert reply.payload == b"still here"
    responder.cancel()


async def test_subscriber_collected_on_a_thread_without_runtime_unsubscribes(
    nats_server: NatsServer, client: natsrs.Client
) -> None:
    sub = await client.subscribe("lifecycle.gc")
    await client.flush()
    assert client_subscriptions(nats_server) == ["lifecycle.gc"]
    holder = [sub]
    del sub

    def drop() -> None:
        holder.clear()
        gc.collect()

    thread = threading.Thread(target=drop)
    thread.start()
    thread.join(WAIT)
    await client.flush()
    await wait_until(lambda: client_subscriptions(nats_server) == [])
    await client.publish("lifecycle.gc", b"no one listens")
    await client.flush()


def test_two_threads_each_with_its_own_loop_and_client(nats_server: NatsServer) -> None:
    results: dict[int, list[bytes]] = {}
    errors: list[BaseException] = []

    async def work(n: int) -> None:
        nc = await natsrs.connect(nats_server.url)
        sub = await nc.subscribe(f"lifecycle.thread.{n}")
        for i in range(200):
            await nc.publish(f"lifecycle.thread.{n}", str(i).encode())
        got = []
        for _ in range(200):
            msg = await w(sub.next())
            got.append(msg.payload)
        reply_sub = await nc.subscribe(f"lifecycle.thread.{n}.svc")

        async def respond() -> None:
            async for msg in reply_sub:
                await msg.respond(b"ok")

        responder = asyncio.ensure_future(respond())
        for _ in range(20):
            assert (await w(nc.request(f"lifecycle.thread.{n}.svc"))).payload == b"ok"
        responder.cancel()
        await nc.close()
        results[n] = got

    def run(n: int) -> None:
        try:
            asyncio.run(work(n))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    for n in range(2):
        assert results[n] == [str(i).encode() for i in range(200)]


def open_fds() -> int:
    """Open descriptors of this process (0 where /proc is not available)."""
    fd_dir = Path("/proc/self/fd")
    return len(list(fd_dir.iterdir())) if fd_dir.is_dir() else 0


def client_subscriptions(server: NatsServer) -> list[str]:
    connections = server.connz({"subs": 1})["connections"]
    subs = [sub for conn in connections for sub in conn.get("subscriptions_list", [])]
    # The request multiplexer's inbox (flush() makes a request) is the client's own.
    return [sub for sub in subs if not sub.startswith("_INBOX.")]


class CountingLoop(asyncio.SelectorEventLoop):
    """Counts asyncio Futures, the cost the ready path must avoid."""

    futures_created = 0

    def create_future(self) -> asyncio.Future:  # type: ignore[type-arg]
        CountingLoop.futures_created += 1
        return super().create_future()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_a_finished_event_loop_leaves_no_descriptors_behind(nats_server: NatsServer) -> None:
    """Each loop that awaited a pending operation gets a hub with a wake-up socket pair;
    once the loop is closed, the hub and its sockets must go."""

    async def one_loop() -> None:
        nc = await natsrs.connect(nats_server.url)
        sub = await nc.subscribe("lifecycle.fds")
        waiting = asyncio.ensure_future(sub.next())  # pending: goes through the hub
        await nc.publish("lifecycle.fds", b"x")
        assert (await w(waiting)) is not None
        await nc.close()

    asyncio.run(one_loop())
    gc.collect()
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        asyncio.run(one_loop())
    gc.collect()
    # A pending operation on the next loop forgets hubs of closed loops.
    asyncio.run(one_loop())
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) <= before + 2


def test_publish_and_queued_messages_create_no_asyncio_future(nats_server: NatsServer) -> None:
    async def scenario() -> tuple[int, int]:
        nc = await natsrs.connect(nats_server.url)
        sub = await nc.subscribe("lifecycle.fast")
        await nc.flush()
        before = CountingLoop.futures_created
        for _ in range(1000):
            await nc.publish("lifecycle.fast", b"0123456789abcdef")
        publish_futures = CountingLoop.futures_created - before
        await nc.flush()
        # Let every message reach the subscriber's queue, then read them all.
        await asyncio.sleep(0.3)
        before = CountingLoop.futures_created
        for _ in range(1000):
            await sub.__anext__()
        read_futures = CountingLoop.futures_created - before
        await nc.close()
        return publish_futures, read_futures

    loop = CountingLoop()
    try:
        publish_futures, read_futures = loop.run_until_complete(scenario())
    finally:
        loop.close()
    assert publish_futures == 0
    assert read_futures == 0


async def test_a_finished_awaitable_result_held_by_the_caller_never_changes(
    client: natsrs.Client,
) -> None:
    """A finished awaitable hands over its result in a StopIteration made for it: one a
    caller keeps must not change later (the natsrs side keeps no reference to it, which
    also keeps the last result from being held alive)."""
    sub = await client.subscribe("lifecycle.stop")
    for payload in (b"1", b"2", b"3"):
        await client.publish("lifecycle.stop", payload)
    await client.flush()
    await asyncio.sleep(0.2)
    with pytest.raises(StopIteration) as first:
        sub.__anext__().__await__().__next__()
    kept = first.value
    assert kept.value.payload == b"1"
    assert (await sub.__anext__()).payload == b"2"
    with pytest.raises(StopIteration) as third:
        sub.__anext__().__await__().__next__()
    assert third.value is not kept and third.value.value.payload == b"3"
    assert kept.value.payload == b"1"


NEW_LOOPS_SCRIPT = """
import asyncio, sys, threading
import natsrs

async def work(url):
    nc = await natsrs.connect(url)
    sub = await nc.subscribe("lifecycle.loops")
    waiting = asyncio.ensure_future(sub.next())  # pending: registers the loop's hub
    await nc.publish("lifecycle.loops", b"x")
    await waiting
    await nc.close()

def run(url):
    for _ in range(10):
        asyncio.run(work(url))

for _ in range(10):
    threads = [threading.Thread(target=run, args=(sys.argv[1],)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
print("done")
"""


def test_threads_starting_new_loops_at_once_do_not_deadlock(nats_server: NatsServer) -> None:
    """The loop-hub registry is taken while Python runs; threads registering new loops
    at the same moment once deadlocked on it and the GIL. In a subprocess, because a
    deadlock holds the GIL and no in-process timeout could end it."""
    result = subprocess.run(
        [sys.executable, "-c", NEW_LOOPS_SCRIPT, nats_server.url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout.strip() == "done", result.stderr


EXIT_SCRIPT = """
import asyncio, sys
import natsrs

async def main(mode):
    nc = await natsrs.connect(sys.argv[1])
    sub = await nc.subscribe("exit.test")
    waiting = asyncio.ensure_future(sub.next())
    await nc.publish("exit.test.other", b"x")
    if mode == "exit":
        sys.exit(3)
    if mode == "raise":
        raise RuntimeError("boom")
    # "end": return with the client, the subscription and a waiter still open.

asyncio.run(main(sys.argv[2]))
"""


@pytest.mark.parametrize(("mode", "code"), [("end", 0), ("exit", 3), ("raise", 1)])
def test_interpreter_exits_promptly_with_open_clients(
    nats_server: NatsServer, mode: str, code: int, tmp_path: Path
) -> None:
    script = tmp_path / "exit_script.py"
    script.write_text(EXIT_SCRIPT)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(script), nats_server.url, mode],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert time.monotonic() - started < 10
    assert proc.returncode == code, proc.stderr
    assert "panick" not in proc.stderr and "Fatal Python error" not in proc.stderr


FORK_SCRIPT = """
import asyncio, os, sys
import natsrs

async def parent_use():
    nc = await natsrs.connect(sys.argv[1])
    await nc.publish("fork.test", b"x")
    await nc.flush()
    return nc

nc = asyncio.run(parent_use())
pid = os.fork()
if pid == 0:
    async def child():
        try:
            await natsrs.connect(sys.argv[1])
        except RuntimeError as exc:
            print("child refused:", exc, flush=True)
            os._exit(0)
        os._exit(1)
    asyncio.run(child())
else:
    _, status = os.waitpid(pid, 0)
    print("child status", os.waitstatus_to_exitcode(status), flush=True)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_fork_after_use_gives_the_child_a_clear_error_not_a_hang(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    script = tmp_path / "fork_script.py"
    script.write_text(FORK_SCRIPT)
    proc = subprocess.run(
        [sys.executable, str(script), nats_server.url], capture_output=True, text=True, timeout=20
    )
    assert proc.returncode == 0, proc.stderr
    assert "child refused: natsrs cannot be used in a process forked" in proc.stdout
    assert "child status 0" in proc.stdout


async def test_a_rust_panic_becomes_a_python_exception(client: natsrs.Client) -> None:
    from natsrs import _natsrs

    with pytest.raises(BaseException, match="natsrs test panic in a call"):
        _natsrs._panic_for_tests("call")
    with pytest.raises(natsrs.errors.Error, match="internal error"):
        await w(_natsrs._panic_for_tests("task"))
    await assert_works(client)


@threads_runtime_only
def test_one_client_used_from_a_second_loop(nats_server: NatsServer) -> None:
    """Supported: a client made on one loop works from another (each loop gets its own
    completion hub); callbacks stay bound to the loop that connected."""

    async def make() -> natsrs.Client:
        return await natsrs.connect(nats_server.url)

    nc = asyncio.run(make())  # that loop is now closed

    async def use() -> bytes:
        sub = await nc.subscribe("lifecycle.loops")
        await nc.flush()
        await nc.publish("lifecycle.loops", b"second loop")
        msg = await w(sub.next())
        await nc.close()
        assert msg is not None
        return msg.payload

    assert asyncio.run(use()) == b"second loop"


@threads_runtime_only
def test_callbacks_of_a_closed_loop_fail_quietly_and_the_client_keeps_working(
    nats_server: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[natsrs.Event] = []

    async def on_event(event: natsrs.Event) -> None:
        seen.append(event)

    async def make() -> natsrs.Client:
        return await natsrs.connect(nats_server.url, event_callback=on_event)

    nc = asyncio.run(make())
    before = len(seen)

    async def use() -> list[natsrs.EventKind]:
        events = nc.events()
        await nc.force_reconnect()
        kinds = []
        while (event := await w(events.__anext__())).kind != (natsrs.EventKind.CONNECTED):
            kinds.append(event.kind)
        await assert_works(nc, close=True)
        return kinds

    kinds = asyncio.run(use())
    assert natsrs.EventKind.DISCONNECTED in kinds
    assert len(seen) == before, "a callback bound to a closed loop cannot run"
    assert len(caplog.records) < 20, "no error spam"


async def test_cancelled_connect_flush_and_drain_propagate(nats_server: NatsServer) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    try:
        connecting = asyncio.ensure_future(
            natsrs.connect(f"nats://127.0.0.1:{silent.getsockname()[1]}", connection_timeout=30)
        )
        await asyncio.sleep(0.1)
        connecting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await connecting
    finally:
        silent.close()
    nc = await natsrs.connect(nats_server.url)
    flushing = asyncio.ensure_future(nc.flush())
    flushing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await flushing
    await nc.flush()
    draining = asyncio.ensure_future(nc.drain())
    draining.cancel()
    with pytest.raises(asyncio.CancelledError):
        await draining
    await w(nc.close())


async def test_no_task_or_fd_growth_over_many_requests_and_subscriptions(
    client: natsrs.Client,
) -> None:
    from natsrs import _natsrs

    service = await client.subscribe("lifecycle.leak")

    async def respond() -> None:
        async for msg in service:
            await msg.respond(b"r")

    responder = asyncio.ensure_future(respond())

    async def round_of_work() -> None:
        for _ in range(200):
            await client.request("lifecycle.leak", b"q", timeout=WAIT)
        subs = [await client.subscribe(f"lifecycle.leak.{i}") for i in range(50)]
        for sub in subs:
            await sub.unsubscribe()
        waits = [
            asyncio.ensure_future(client.request("lifecycle.nobody", timeout=WAIT))
            for _ in range(20)
        ]
        for waiting in waits:
            waiting.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
        await client.flush()

    await round_of_work()
    await asyncio.sleep(0.2)
    tasks_before = _natsrs._runtime_alive_tasks()
    fds_before = open_fds()
    for _ in range(3):
        await round_of_work()
    await asyncio.sleep(0.2)
    assert _natsrs._runtime_alive_tasks() <= tasks_before
    if fds_before:
        assert open_fds() <= fds_before
    responder.cancel()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_soak_script_short_run_passes_its_own_checks() -> None:
    script = Path(__file__).resolve().parent.parent / "scripts" / "soak.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--messages", "50000", "--requests", "5000"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith("ok")


async def test_the_requested_event_loop_is_the_one_running() -> None:
    loop_module = type(asyncio.get_running_loop()).__module__
    if os.environ.get("NATSRS_TEST_LOOP") == "uvloop":
        assert loop_module.startswith("uvloop")
    else:
        assert loop_module.startswith("asyncio")


async def w_each(events: natsrs.EventStream) -> AsyncIterator[natsrs.Event]:
    """The events, each awaited with a bound."""
    while True:
        try:
            yield await w(events.__anext__())
        except StopAsyncIteration:
            return


async def test_a_client_dropped_without_close_after_a_flush_leaves_the_server(
    nats_server: NatsServer,
) -> None:
    """flush()'s echo subscription must not keep a dropped client's connection alive."""
    nc = await w(natsrs.connect(nats_server.url))
    await w(nc.flush())
    await w(nc.rtt())
    assert nats_server.connz()["num_connections"] == 1
    del nc
    gc.collect()
    await wait_until(lambda: nats_server.connz()["num_connections"] == 0)


async def test_a_client_dropped_while_reconnecting_stops_reconnecting(
    nats_server_factory: ServerFactory,
) -> None:
    server = nats_server_factory()
    nc = await w(natsrs.connect(server.url, event_callback=lambda event: None))
    events = nc.events()
    server.stop()
    while (await w(events.__anext__())).kind != natsrs.EventKind.DISCONNECTED:
        pass
    del nc
    gc.collect()
    # The engine tries again within its backoff; a closed client's handler stops there.
    kinds = [event.kind async for event in w_each(events)]
    assert kinds[-1] == natsrs.EventKind.CLOSED
