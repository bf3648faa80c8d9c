"""``python -m natsrs``: the demo and the command-line tools, run as subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import pytest

import natsrs
from natsrs._server import NatsServer, free_port

T = TypeVar("T")
WAIT = 5.0
CLI_WAIT = 30.0


async def w(awaitable: Awaitable[T], timeout: float = WAIT) -> T:
    """Await with a bound, so a broken operation fails the test instead of hanging it."""
    return await asyncio.wait_for(awaitable, timeout)


def cli_env() -> dict[str, str]:
    """This environment without ``NATS_URL``, importing the natsrs under test."""
    env = dict(os.environ)
    env.pop("NATS_URL", None)
    package_root = str(Path(natsrs.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return env


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "natsrs", *args],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=CLI_WAIT,
        check=False,
    )


async def start_cli(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "natsrs",
        *args,
        env=cli_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def run_cli_async(*args: str) -> tuple[int, str, str]:
    """Run the CLI without blocking the event loop (the test's client keeps working)."""
    proc = await start_cli(*args)
    try:
        out, err = await w(proc.communicate(), CLI_WAIT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def read_line_containing(stream: asyncio.StreamReader, text: str) -> str:
    """Read lines until one contains ``text``; fails at end of stream."""
    seen: list[str] = []
    while True:
        raw = await w(stream.readline(), CLI_WAIT)
        if not raw:
            pytest.fail(f"stream ended before {text!r}; got {seen!r}")
        line = raw.decode().rstrip("\n")
        seen.append(line)
        if text in line:
            return line


def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def kill_on_exit(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


# -- demo ----------------------------------------------------------------------------------


def test_python_m_natsrs_runs_the_demo_round_trip_on_an_embedded_server() -> None:
    result = run_cli()

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"server +nats://127\.0\.0\.1:\d+ \(embedded nats-server, pid \d+", out), out
    assert "hello from natsrs" in out
    assert "receive" in out
    assert "ping -> echo: ping" in out
    assert "embedded nats-server stopped" in out
    assert out.rstrip().endswith("ok")
    # The embedded server is gone once the command returns.
    pid = int(re.search(r"pid (\d+)", out).group(1))  # type: ignore[union-attr]
    assert not pid_exists(pid)


def test_demo_against_a_given_server(nats_server: NatsServer) -> None:
    result = run_cli("demo", "--server", nats_server.url)

    assert result.returncode == 0, result.stderr
    assert f"server    {nats_server.url} (--server)" in result.stdout
    assert "ping -> echo: ping" in result.stdout


def test_demo_uses_nats_url_from_the_environment(nats_server: NatsServer) -> None:
    env = cli_env()
    env["NATS_URL"] = nats_server.url
    result = subprocess.run(
        [sys.executable, "-m", "natsrs"],
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_WAIT,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert f"{nats_server.url} ($NATS_URL)" in result.stdout


def test_help_lists_the_commands() -> None:
    result = run_cli("--help")

    assert result.returncode == 0
    for command in ("demo", "server", "pub", "sub", "req", "reply"):
        assert command in result.stdout


# -- tools -----------------------------------------------------------------------------------


async def test_pub_publishes_to_the_server(client: natsrs.Client, nats_server: NatsServer) -> None:
    sub = await w(client.subscribe("cli.pub"))
    await w(client.flush())

    code, out, err = await run_cli_async(
        "pub", "cli.pub", "hello cli", "--server", nats_server.url, "-H", "X-From=cli"
    )

    assert code == 0, err
    assert "published 1 message to cli.pub" in out
    msg = await w(sub.next())
    assert msg is not None
    assert msg.payload == b"hello cli"
    assert msg.headers is not None and msg.headers.get("X-From") == "cli"


async def test_pub_count_publishes_n_messages(
    client: natsrs.Client, nats_server: NatsServer
) -> None:
    sub = await w(client.subscribe("cli.pub"))
    await w(client.flush())

    code, _, err = await run_cli_async(
        "pub", "cli.pub", "x", "--count", "3", "--server", nats_server.url
    )

    assert code == 0, err
    for _ in range(3):
        msg = await w(sub.next())
        assert msg is not None and msg.payload == b"x"


async def test_req_prints_the_reply(client: natsrs.Client, nats_server: NatsServer) -> None:
    sub = await w(client.subscribe("cli.svc"))

    async def serve() -> None:
        async for msg in sub:
            await msg.respond(b"pong:" + msg.payload)

    responder = asyncio.create_task(serve())
    await w(client.flush())
    try:
        code, out, err = await run_cli_async("req", "cli.svc", "ping", "--server", nats_server.url)
    finally:
        responder.cancel()
        await asyncio.wait({responder}, timeout=WAIT)

    assert code == 0, err
    assert "pong:ping" in out


async def test_req_without_responders_exits_non_zero_with_a_message(
    nats_server: NatsServer,
) -> None:
    code, _, err = await run_cli_async("req", "nobody.home", "?", "--server", nats_server.url)

    assert code == 1
    assert "NoRespondersError" in err
    assert "Traceback" not in err


async def test_sub_prints_messages_and_exits_after_count(
    client: natsrs.Client, nats_server: NatsServer
) -> None:
    proc = await start_cli("sub", "cli.sub", "--count", "2", "--server", nats_server.url)
    try:
        assert proc.stderr is not None
        await read_line_containing(proc.stderr, "subscribed to cli.sub")
        await w(client.publish("cli.sub", b"first"))
        await w(client.publish("cli.sub", b"second"))
        await w(client.flush())
        out, err = await w(proc.communicate(), CLI_WAIT)
    finally:
        await kill_on_exit(proc)

    assert proc.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert lines == ["[#1] cli.sub: first", "[#2] cli.sub: second"]


async def test_reply_answers_requests(client: natsrs.Client, nats_server: NatsServer) -> None:
    proc = await start_cli(
        "reply", "cli.rep", "answer", "--count", "1", "--server", nats_server.url
    )
    try:
        assert proc.stderr is not None
        await read_line_containing(proc.stderr, "answering requests on cli.rep")
        reply = await w(client.request("cli.rep", b"question"))
        out, err = await w(proc.communicate(), CLI_WAIT)
    finally:
        await kill_on_exit(proc)

    assert reply.payload == b"answer"
    assert proc.returncode == 0, err.decode()
    assert "cli.rep" in out.decode() and "question" in out.decode()


def test_pub_to_unreachable_server_exits_non_zero_with_a_message() -> None:
    result = run_cli(
        "pub", "x", "y", "--server", f"nats://127.0.0.1:{free_port()}", "--timeout", "2"
    )

    assert result.returncode == 1
    assert "natsrs: error: NoServersError" in result.stderr.splitlines()[-1]
    assert "Traceback" not in result.stderr


# -- server --------------------------------------------------------------------------------


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_server_command_runs_until_interrupted_then_stops_its_server(
    stop_signal: signal.Signals,
) -> None:
    proc = await start_cli("server")
    try:
        assert proc.stdout is not None
        line = await read_line_containing(proc.stdout, "nats-server running at")
        match = re.search(r"(nats://127\.0\.0\.1:\d+) \(pid (\d+)\)", line)
        assert match, line
        url, server_pid = match.group(1), int(match.group(2))

        nc = await w(natsrs.connect(url))
        try:
            sub = await w(nc.subscribe("via.cli.server"))
            await w(nc.publish("via.cli.server", b"hi"))
            msg = await w(sub.next())
            assert msg is not None and msg.payload == b"hi"
        finally:
            with contextlib.suppress(Exception):
                await w(nc.close())

        proc.send_signal(stop_signal)
        code = await w(proc.wait(), CLI_WAIT)
    finally:
        await kill_on_exit(proc)

    assert code == 0
    # The command reaps its server before exiting; a survivor is an orphan to clean up.
    if pid_exists(server_pid):
        os.kill(server_pid, signal.SIGKILL)
        pytest.fail(f"nats-server pid {server_pid} outlived `python -m natsrs server`")
