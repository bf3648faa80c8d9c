"""``python -m natsrs``: the demo and the command-line tools, run as subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import natsrs
from helpers import PROCESS_WAIT, WAIT, assert_no_message, assert_works, next_msg, w
from natsrs._server import NatsServer, free_port

if TYPE_CHECKING:
    from conftest import ClientFactory, ServerFactory
    from pki import Pki

WINDOWS = sys.platform == "win32"
# Signals: asyncio cannot send SIGINT to a child on Windows, and SIGTERM there is
# TerminateProcess, which gives the command no chance to stop its nats-server.
needs_posix_signals = pytest.mark.skipif(WINDOWS, reason="POSIX signals")
AUTH_FLAGS = [
    "--creds",
    "--user",
    "--password",
    "--token",
    "--nkey",
    "--tlscert",
    "--tlskey",
    "--tlsca",
]


async def sync(client: natsrs.Client) -> None:
    """Wait until the server has processed what ``client`` sent, subscriptions included.

    ``flush()`` only writes the buffer out; a message to ourselves coming back proves the
    server handled everything before it (it keeps one connection's messages in order).
    """
    await assert_works(client)


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
        timeout=PROCESS_WAIT,
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
        out, err = await w(proc.communicate(), PROCESS_WAIT)
    finally:
        await kill_on_exit(proc)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def read_line_containing(stream: asyncio.StreamReader, text: str) -> str:
    """Read lines until one contains ``text``; fails at end of stream."""
    seen: list[str] = []
    while True:
        raw = await w(stream.readline(), PROCESS_WAIT)
        if not raw:
            pytest.fail(f"stream ended before {text!r}; got {seen!r}")
        line = raw.decode().rstrip("\n")
        seen.append(line)
        if text in line:
            return line


def pid_exists(pid: int) -> bool:
    if WINDOWS:  # os.kill(pid, 0) would terminate the process on Windows
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        try:
            code = ctypes.c_ulong()
            kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def kill_on_exit(proc: asyncio.subprocess.Process) -> None:
    """End a CLI that is still running: SIGTERM first, so it stops any embedded server."""
    if proc.returncode is not None:
        return
    if not WINDOWS:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(asyncio.TimeoutError):
            await w(proc.wait())
            return
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
        timeout=PROCESS_WAIT,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert f"{nats_server.url} ($NATS_URL)" in result.stdout


def test_help_lists_the_commands() -> None:
    result = run_cli("--help")

    assert result.returncode == 0
    for command in ("demo", "server", "pub", "sub", "req", "reply", "bench", "js"):
        assert command in result.stdout


# -- tools -----------------------------------------------------------------------------------


async def test_pub_publishes_to_the_server(client: natsrs.Client, nats_server: NatsServer) -> None:
    sub = await w(client.subscribe("cli.pub"))
    await sync(client)

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
    await sync(client)

    code, out, err = await run_cli_async(
        "pub", "cli.pub", "x", "--count", "3", "--server", nats_server.url
    )

    assert code == 0, err
    assert "published 3 messages to cli.pub" in out
    for _ in range(3):
        msg = await w(sub.next())
        assert msg is not None and msg.payload == b"x"
    await assert_no_message(sub)


async def test_req_prints_the_reply(client: natsrs.Client, nats_server: NatsServer) -> None:
    sub = await w(client.subscribe("cli.svc"))

    async def serve() -> None:
        async for msg in sub:
            await msg.respond(b"pong:" + msg.payload)

    responder = asyncio.create_task(serve())
    await sync(client)
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
        out, err = await w(proc.communicate(), PROCESS_WAIT)
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
        out, err = await w(proc.communicate(), PROCESS_WAIT)
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


@needs_posix_signals
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_server_command_runs_until_interrupted_then_stops_its_server(
    stop_signal: signal.Signals,
) -> None:
    # server_cli checks the rest: exit status 0 after the signal, and no nats-server left.
    async with server_cli(stop_signal=stop_signal) as (url, _):
        await assert_works(await w(natsrs.connect(url)), close=True)


# -- helpers for the tools -----------------------------------------------------------------


async def finish(proc: asyncio.subprocess.Process) -> tuple[int, bytes, bytes]:
    """Wait (bounded) for a started CLI to exit on its own; kill it on failure."""
    try:
        out, err = await w(proc.communicate(), PROCESS_WAIT)
    finally:
        await kill_on_exit(proc)
    assert proc.returncode is not None
    return proc.returncode, out, err


async def responder(
    client: natsrs.Client, subject: str, answer: Any = None, *, headers: Any = None
) -> asyncio.Task[None]:
    """Answer requests on ``subject`` (with ``answer(msg)`` bytes) until cancelled."""
    sub = await w(client.subscribe(subject))

    async def serve() -> None:
        async for msg in sub:
            body = answer(msg) if answer is not None else b"pong:" + msg.payload
            await msg.respond(body, headers=headers)

    task = asyncio.ensure_future(serve())
    await sync(client)
    return task


async def stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    await asyncio.wait({task}, timeout=WAIT)


def queue_groups(server: NatsServer, subject: str) -> list[str | None]:
    """The queue group of every subscription to exactly ``subject`` (monitoring /subsz)."""
    subs = server.subsz({"subs": 1}).get("subscriptions_list") or []
    return [sub.get("qgroup") for sub in subs if sub.get("subject") == subject]


async def wait_for_subscription(server: NatsServer, subject: str) -> list[str | None]:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        groups = queue_groups(server, subject)
        if groups:
            return groups
        await asyncio.sleep(0.05)
    pytest.fail(f"no subscription to {subject} on the server")


# -- entry points and help -------------------------------------------------------------------


def test_main_is_the_console_script_entry_point_and_returns_the_status() -> None:
    from natsrs.__main__ import main

    # Rejected before any signal handler is installed or server started: safe in-process.
    assert main(["pub", "x", "y", "--user", "only-a-user"]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0


def test_the_natsrs_console_script_runs() -> None:
    script = Path(sysconfig.get_path("scripts")) / ("natsrs.exe" if WINDOWS else "natsrs")
    if not script.exists():
        pytest.skip(f"console script not installed at {script}")
    result = subprocess.run(
        [str(script), "--version"],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=PROCESS_WAIT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"natsrs {natsrs.__version__}"


@pytest.mark.parametrize(
    "command",
    ["demo", "pub", "sub", "req", "reply", "bench", "js pub", "js fetch", "js streams"],
)
def test_every_client_command_takes_server_timeout_and_the_auth_flags(command: str) -> None:
    result = run_cli(*command.split(), "--help")

    assert result.returncode == 0, result.stderr
    for flag in ["--server", "--timeout", *AUTH_FLAGS]:
        assert flag in result.stdout, (command, flag)
    if command in ("pub", "req", "reply", "js pub"):
        assert "--header" in result.stdout
    if command in ("pub", "sub", "req", "reply", "bench", "js pub", "js fetch"):
        assert "--count" in result.stdout
    if command in ("sub", "reply"):
        assert "--queue" in result.stdout


def test_server_help_lists_its_options() -> None:
    result = run_cli("server", "--help")

    assert result.returncode == 0, result.stderr
    for flag in ("--port", "--jetstream", "--no-jetstream", "--config"):
        assert flag in result.stdout


# -- authentication and TLS flags ------------------------------------------------------------


def test_auth_flags_are_checked_before_anything_starts(tmp_path: Path) -> None:
    half = run_cli("pub", "x", "y", "--user", "u")
    assert half.returncode == 2
    assert "--user and --password go together" in half.stderr
    bad_seed = tmp_path / "seed.txt"
    bad_seed.write_text("not a seed")
    result = run_cli("pub", "x", "y", "--nkey", str(bad_seed))
    assert result.returncode == 2
    assert "malformed nkey seed" in result.stderr
    assert "not a seed" not in result.stderr
    assert "embedded nats-server" not in result.stderr  # refused before starting anything


async def test_token_and_user_flags_authenticate(
    nats_server_factory: ServerFactory,
) -> None:
    token_server = nats_server_factory('authorization { token: "cli-token-123" }')
    user_server = nats_server_factory(
        'authorization { users = [{ user: "cli", password: "cli-pass-456" }] }'
    )
    ok = run_cli("pub", "x", "y", "--server", token_server.url, "--token", "cli-token-123")
    assert ok.returncode == 0, ok.stderr
    refused = run_cli("pub", "x", "y", "--server", token_server.url, "--token", "wrong-tok")
    assert refused.returncode == 1
    assert "AuthorizationError" in refused.stderr and "wrong-tok" not in refused.stderr
    ok = run_cli(
        "pub", "x", "y", "--server", user_server.url, "--user", "cli", "--password", "cli-pass-456"
    )
    assert ok.returncode == 0, ok.stderr


async def test_tls_flags_connect_to_a_server_that_wants_a_client_certificate(
    nats_server_factory: ServerFactory, client_factory: ClientFactory, pki: Pki
) -> None:
    server = nats_server_factory(pki.server_config(verify_clients=True))
    url = f"tls://127.0.0.1:{server.port}"
    watcher = await client_factory(
        url,
        natsrs.ConnectOptions()
        .add_root_certificates(pki.ca_path)
        .add_client_certificate(pki.client_cert, pki.client_key),
    )
    sub = await w(watcher.subscribe("cli.tls"))
    await sync(watcher)
    tls = ["--tlsca", str(pki.ca_path)]
    client_cert = ["--tlscert", str(pki.client_cert), "--tlskey", str(pki.client_key)]

    code, out, err = await run_cli_async(
        "pub", "cli.tls", "over tls", "-s", url, *tls, *client_cert
    )

    assert code == 0, err
    assert "published 1 message to cli.tls" in out
    assert (await next_msg(sub)).payload == b"over tls"
    # Without the client certificate the server refuses the handshake.
    code, _, err = await run_cli_async("pub", "cli.tls", "x", "-s", url, "--timeout", "2", *tls)
    assert code == 1
    assert "natsrs: error: TlsError" in err.splitlines()[-1]
    assert "Traceback" not in err
    await assert_no_message(sub)


# -- pub ---------------------------------------------------------------------------------------


async def test_pub_headers_in_nats_cli_form_repeatable_and_reply(
    client: natsrs.Client, nats_server: NatsServer
) -> None:
    sub = await w(client.subscribe("cli.pub.h"))
    await sync(client)

    code, _, err = await run_cli_async(
        "pub",
        "cli.pub.h",
        "with headers",
        "--server",
        nats_server.url,
        "-H",
        "X-A: 1",
        "--header",
        "X-A:2",
        "-H",
        "Y=z",
        "-H",
        "Url:http://x/?a=b",
        "--reply",
        "cli.answers",
    )

    assert code == 0, err
    msg = await w(sub.next())
    assert msg is not None
    assert msg.reply == "cli.answers"
    assert msg.headers is not None
    assert msg.headers.get_all("X-A") == ["1", "2"]
    assert msg.headers.get("Y") == "z"
    assert msg.headers.get("Url") == "http://x/?a=b"  # split at the first ':' or '='


async def test_pub_reads_the_payload_from_stdin(
    client: natsrs.Client, nats_server: NatsServer
) -> None:
    sub = await w(client.subscribe("cli.pub.stdin"))
    await sync(client)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "natsrs",
        "pub",
        "cli.pub.stdin",
        "-",
        "--server",
        nats_server.url,
        env=cli_env(),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await w(proc.communicate(b"\x00\xffbinary"), PROCESS_WAIT)
    finally:
        await kill_on_exit(proc)

    assert proc.returncode == 0, err.decode()
    msg = await w(sub.next())
    assert msg is not None and msg.payload == b"\x00\xffbinary"


def test_pub_rejects_a_malformed_header() -> None:
    result = run_cli("pub", "x", "y", "-H", "no-separator")

    assert result.returncode == 1
    assert "is not NAME:VALUE" in result.stderr
    assert "Traceback" not in result.stderr


def test_pub_without_server_or_nats_url_uses_an_embedded_server() -> None:
    result = run_cli("pub", "cli.embedded", "x", "--count", "2")

    assert result.returncode == 0, result.stderr
    assert "published 2 messages to cli.embedded" in result.stdout
    assert "embedded nats-server, pid" in result.stderr
    assert "embedded nats-server stopped" in result.stderr
    pid = int(re.search(r"pid (\d+)", result.stderr).group(1))  # type: ignore[union-attr]
    assert not pid_exists(pid)


# -- sub ---------------------------------------------------------------------------------------


async def test_sub_shows_reply_headers_and_unprintable_payloads_safely(
    client: natsrs.Client, nats_server: NatsServer
) -> None:
    proc = await start_cli("sub", "cli.show.>", "--count", "4", "--server", nats_server.url)
    try:
        assert proc.stderr is not None
        await read_line_containing(proc.stderr, "subscribed to cli.show.>")
        await w(client.publish("cli.show.a", b"plain text", reply="cli.inbox"))
        await w(client.publish("cli.show.b", b"hi", headers={"X-K": ["v1", "v2"]}))
        await w(client.publish("cli.show.c", b"\xff\xfe\x00binary"))
        await w(client.publish("cli.show.d", b"tab\there\x1b[31mred\nline"))
        await w(client.flush())
        code, out, err = await finish(proc)
    finally:
        await kill_on_exit(proc)

    assert code == 0, err.decode()
    assert b"\x1b" not in out  # no raw escape sequence reaches the terminal
    assert out.decode().splitlines() == [
        "[#1] cli.show.a (reply: cli.inbox): plain text",
        "[#2] cli.show.b: hi",
        "    X-K: v1",
        "    X-K: v2",
        "[#3] cli.show.c: b'\\xff\\xfe\\x00binary'",
        "[#4] cli.show.d: 'tab\\there\\x1b[31mred\\nline'",
    ]


async def test_sub_raw_prints_only_payload_bytes(
    client: natsrs.Client, nats_server: NatsServer
) -> None:
    proc = await start_cli("sub", "cli.raw", "--raw", "--count", "2", "--server", nats_server.url)
    try:
        assert proc.stderr is not None
        await read_line_containing(proc.stderr, "subscribed to cli.raw")
        await w(client.publish("cli.raw", b"one"))
        await w(client.publish("cli.raw", b"\xfftwo"))
        await w(client.flush())
        code, out, err = await finish(proc)
    finally:
        await kill_on_exit(proc)

    assert code == 0, err.decode()
    assert out.replace(b"\r\n", b"\n") == b"one\n\xfftwo\n"


async def test_sub_queue_joins_the_queue_group(
    client: natsrs.Client, nats_server: NatsServer
) -> None:
    proc = await start_cli(
        "sub", "cli.q", "--queue", "grp", "--count", "1", "--server", nats_server.url
    )
    try:
        assert proc.stderr is not None
        await read_line_containing(proc.stderr, "subscribed to cli.q in grp")
        assert await wait_for_subscription(nats_server, "cli.q") == ["grp"]
        await w(client.publish("cli.q", b"job"))
        await w(client.flush())
        code, out, err = await finish(proc)
    finally:
        await kill_on_exit(proc)

    assert code == 0, err.decode()
    assert out.decode().splitlines() == ["[#1] cli.q: job"]


async def test_sub_on_an_embedded_server_stops_it_afterwards() -> None:
    proc = await start_cli("sub", "cli.emb", "--count", "1")
    try:
        assert proc.stderr is not None
        line = await read_line_containing(proc.stderr, "embedded nats-server, pid")
        match = re.search(r"(nats://127\.0\.0\.1:\d+) \(embedded nats-server, pid (\d+)", line)
        assert match, line
        url, server_pid = match.group(1), int(match.group(2))
        await read_line_containing(proc.stderr, "subscribed to cli.emb")
        nc = await w(natsrs.connect(url))
        try:
            await w(nc.publish("cli.emb", b"to the embedded server"))
            # No flush(): it is a round trip, and the command stops this very server as
            # soon as the message arrives. close() below writes it out.
        finally:
            with contextlib.suppress(Exception):
                await w(nc.close())
        code, out, err = await finish(proc)
    finally:
        await kill_on_exit(proc)

    assert code == 0, err.decode()
    assert out.decode().splitlines() == ["[#1] cli.emb: to the embedded server"]
    assert "embedded nats-server stopped" in err.decode()
    assert not pid_exists(server_pid)


# -- req ---------------------------------------------------------------------------------------


async def test_req_sends_headers_and_prints_the_reply_headers(
    client: natsrs.Client, nats_server: NatsServer
) -> None:
    def answer(msg: natsrs.Message) -> bytes:
        assert msg.headers is not None
        return f"got {msg.headers.get('X-Q')}".encode()

    task = await responder(client, "cli.req.h", answer, headers={"X-Served-By": "test"})
    try:
        code, out, err = await run_cli_async(
            "req", "cli.req.h", "q", "-H", "X-Q:42", "--server", nats_server.url
        )
    finally:
        await stop(task)

    assert code == 0, err
    lines = out.splitlines()
    assert re.fullmatch(r"_INBOX\.\S+: got 42", lines[0]), lines
    assert lines[1:] == ["    X-Served-By: test"]
    assert "reply from _INBOX." in err


async def test_req_count_sends_n_requests(client: natsrs.Client, nats_server: NatsServer) -> None:
    task = await responder(client, "cli.req.n")
    try:
        code, out, err = await run_cli_async(
            "req", "cli.req.n", "ping", "--count", "3", "--server", nats_server.url
        )
    finally:
        await stop(task)

    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 3, lines
    for number, line in enumerate(lines, 1):
        assert re.fullmatch(rf"\[#{number}\] _INBOX\.\S+: pong:ping", line), line


async def test_req_replies_collects_every_responder(
    client: natsrs.Client, nats_server: NatsServer
) -> None:
    first = await responder(client, "cli.req.all", lambda msg: b"from one")
    second = await responder(client, "cli.req.all", lambda msg: b"from two")
    try:
        code, out, err = await run_cli_async(
            "req",
            "cli.req.all",
            "?",
            "--replies",
            "0",
            "--timeout",
            "1",
            "--server",
            nats_server.url,
        )
        code2, out2, err2 = await run_cli_async(
            "req",
            "cli.req.all",
            "?",
            "--replies",
            "2",
            "--timeout",
            "5",
            "--server",
            nats_server.url,
        )
    finally:
        await stop(first)
        await stop(second)

    assert code == 0, err
    assert sorted(line.split(": ", 1)[1] for line in out.splitlines()) == ["from one", "from two"]
    assert "received 2 replies" in err
    assert code2 == 0, err2
    assert len(out2.splitlines()) == 2
    assert "received 2 of 2 replies" in err2


async def test_req_replies_without_responders_fails(nats_server: NatsServer) -> None:
    code, _, err = await run_cli_async(
        "req", "nobody.here", "?", "--replies", "0", "--timeout", "1", "--server", nats_server.url
    )

    assert code == 1
    assert "NoRespondersError" in err


async def test_req_times_out_after_timeout(client: natsrs.Client, nats_server: NatsServer) -> None:
    silent = await w(client.subscribe("cli.silent"))  # a responder that never answers
    await sync(client)
    started = time.monotonic()
    code, _, err = await run_cli_async(
        "req", "cli.silent", "?", "--timeout", "0.5", "--server", nats_server.url
    )
    elapsed = time.monotonic() - started
    await w(silent.unsubscribe())

    assert code == 1
    assert "TimeoutError" in err
    assert "Traceback" not in err
    assert elapsed < PROCESS_WAIT / 2


async def test_req_shows_a_binary_reply_safely(
    client: natsrs.Client, nats_server: NatsServer
) -> None:
    task = await responder(client, "cli.req.bin", lambda msg: b"\x00\xff")
    try:
        code, out, err = await run_cli_async("req", "cli.req.bin", "--server", nats_server.url)
    finally:
        await stop(task)

    assert code == 0, err
    assert out.rstrip().endswith(": b'\\x00\\xff'")


# -- reply -------------------------------------------------------------------------------------


async def test_reply_echo_with_headers(client: natsrs.Client, nats_server: NatsServer) -> None:
    proc = await start_cli(
        "reply",
        "cli.echo",
        "--echo",
        "-H",
        "X-Svc:cli",
        "--count",
        "2",
        "--server",
        nats_server.url,
    )
    try:
        assert proc.stderr is not None
        await read_line_containing(proc.stderr, "answering requests on cli.echo")
        first = await w(client.request("cli.echo", b"one"))
        second = await w(client.request("cli.echo", b"two", headers={"X-In": "1"}))
        code, out, err = await finish(proc)
    finally:
        await kill_on_exit(proc)

    assert code == 0, err.decode()
    assert (first.payload, second.payload) == (b"one", b"two")
    assert first.headers is not None and first.headers.get("X-Svc") == "cli"
    lines = out.decode().splitlines()
    assert re.fullmatch(r"\[#1\] cli\.echo \(reply: _INBOX\.\S+\): one", lines[0]), lines
    assert "    X-In: 1" in lines


async def test_reply_queue_joins_the_queue_group(
    client: natsrs.Client, nats_server: NatsServer
) -> None:
    proc = await start_cli(
        "reply", "cli.rq", "ok", "--queue", "svc", "--count", "1", "--server", nats_server.url
    )
    try:
        assert proc.stderr is not None
        await read_line_containing(proc.stderr, "answering requests on cli.rq in svc")
        assert await wait_for_subscription(nats_server, "cli.rq") == ["svc"]
        reply = await w(client.request("cli.rq", b"?"))
        code, _, err = await finish(proc)
    finally:
        await kill_on_exit(proc)

    assert code == 0, err.decode()
    assert reply.payload == b"ok"


def test_reply_needs_a_response_or_echo() -> None:
    result = run_cli("reply", "x")

    assert result.returncode == 1
    assert "give either RESPONSE or --echo" in result.stderr


# -- server options ----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def server_cli(
    *args: str, stop_signal: signal.Signals = signal.SIGTERM
) -> AsyncIterator[tuple[str, list[str]]]:
    """Run ``python -m natsrs server ARGS``; yields its URL and its banner lines.

    The command is in its steady state when the block starts: its banner ends with
    "press Ctrl-C to stop", printed once its nats-server accepts clients. After the block
    it gets ``stop_signal`` and must exit 0 having reaped its server.
    """
    proc = await start_cli("server", *args)
    server_pid: int | None = None
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not lines or "press Ctrl-C to stop" not in lines[-1]:
            raw = await w(proc.stdout.readline(), PROCESS_WAIT)
            if not raw:
                pytest.fail(f"`natsrs server` ended early; printed {lines!r}")
            lines.append(raw.decode().rstrip("\n"))
        match = re.search(r"(nats://127\.0\.0\.1:\d+) \(pid (\d+)\)", lines[0])
        assert match, lines
        url, server_pid = match.group(1), int(match.group(2))
        yield url, lines
        proc.send_signal(stop_signal)
        code = await w(proc.wait(), PROCESS_WAIT)
    except BaseException:
        await kill_on_exit(proc)
        # What the command said is the first clue to a failure here; pytest shows it.
        assert proc.stderr is not None
        with contextlib.suppress(Exception):
            print(f"`natsrs server` stderr:\n{(await w(proc.stderr.read())).decode()}")
        raise
    finally:
        await kill_on_exit(proc)
        # The command reaps its server before exiting; a survivor is an orphan to clean up.
        survivor = server_pid is not None and pid_exists(server_pid)
        if survivor:
            os.kill(server_pid, signal.SIGKILL)  # type: ignore[arg-type]
    assert code == 0
    assert not survivor, f"nats-server pid {server_pid} outlived `python -m natsrs server`"


@needs_posix_signals
async def test_server_port_option() -> None:
    port = free_port()
    async with server_cli("--port", str(port)) as (url, _):
        assert url == f"nats://127.0.0.1:{port}"
        nc = await w(natsrs.connect(url))
        try:
            assert nc.server_info is not None and nc.server_info.port == port
        finally:
            await w(nc.close())


@needs_posix_signals
@pytest.mark.parametrize(("flag", "enabled"), [("--jetstream", True), ("--no-jetstream", False)])
async def test_server_jetstream_switch(flag: str, enabled: bool) -> None:
    store: Path | None = None
    async with server_cli(flag) as (url, lines):
        stores = [line.split("JetStream store in ", 1)[1] for line in lines if "store in" in line]
        assert len(stores) == int(enabled), lines
        nc = await w(natsrs.connect(url))
        try:
            assert nc.server_info is not None and nc.server_info.jetstream == enabled
            if enabled:
                store = Path(stores[0])
                # JetStream works, and keeps what it stores in the announced directory.
                js = nc.jetstream()
                await w(js.add_stream(name="CLISERVER", subjects=["cli.server.>"]))
                ack = await w(js.publish("cli.server.x", b"kept"))
                assert (ack.stream, ack.seq) == ("CLISERVER", 1)
                assert any(store.rglob("CLISERVER")), list(store.rglob("*"))
        finally:
            await w(nc.close())
    # The command removes its store along with its server.
    assert store is None or not store.exists()


@needs_posix_signals
async def test_server_config_file_with_a_relative_include(tmp_path: Path) -> None:
    (tmp_path / "limits.conf").write_text("max_payload: 4096\n", encoding="utf-8")
    config = tmp_path / "server.conf"
    config.write_text('server_name: "cli-config"\ninclude "limits.conf"\n', encoding="utf-8")

    async with server_cli("--config", str(config)) as (url, lines):
        assert any(f"configuration from {config}" in line for line in lines), lines
        nc = await w(natsrs.connect(url))
        try:
            assert nc.max_payload == 4096
            assert nc.server_info is not None and nc.server_info.server_name == "cli-config"
        finally:
            await w(nc.close())


def test_server_config_file_must_exist(tmp_path: Path) -> None:
    result = run_cli("server", "--config", str(tmp_path / "missing.conf"))

    assert result.returncode == 1
    assert "cannot read" in result.stderr


def test_bench_json_reports_positive_figures() -> None:
    result = run_cli("bench", "--count", "2000", "--json")

    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["count"] == 2000
    assert figures["size"] == 128
    for phase in ("publish", "pubsub"):
        assert figures[phase]["messages"] == 2000, figures
        assert figures[phase]["msgs_per_sec"] > 0
        assert figures[phase]["mb_per_sec"] > 0
    assert figures["lost"] == 0
    request = figures["request"]
    assert request["requests"] == 200
    assert request["requests_per_sec"] > 0
    assert 0 < request["p50_us"] <= request["p99_us"]
    # stderr is not a terminal here: no progress bar, only the embedded server's lines.
    assert "embedded nats-server" in result.stderr
    assert "[#" not in result.stderr and "%" not in result.stderr


def test_bench_prints_a_table_against_a_given_server(nats_server: NatsServer) -> None:
    result = run_cli(
        "bench", "--server", nats_server.url, "--count", "500", "--size", "16", "--requests", "50"
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"natsrs {natsrs.__version__} bench: 500 messages of 16 bytes")
    assert any(line.startswith("publish") for line in lines)
    assert any(line.startswith("pub->sub") for line in lines)
    assert any(line.startswith("request") and " 50 " in line for line in lines)
    assert f"{nats_server.url} (--server)" in result.stderr


# -- JetStream ---------------------------------------------------------------------------------


@pytest.fixture
async def js_client(js_server: NatsServer, client_factory: ClientFactory) -> natsrs.Client:
    """A client on ``js_server`` with the stream ``CLI`` on ``cli.js.>``."""
    nc = await client_factory(js_server.url)
    await w(nc.jetstream().add_stream(name="CLI", subjects=["cli.js.>"]))
    return nc


async def test_js_pub_prints_the_stream_and_sequence(
    js_client: natsrs.Client, js_server: NatsServer
) -> None:
    code, out, err = await run_cli_async(
        "js", "pub", "cli.js.a", "one", "-H", "X-From:cli", "--server", js_server.url
    )
    assert code == 0, err
    assert out.splitlines() == ["stored in stream CLI seq 1"]

    # --msg-id: the second copy is recognised and not stored; --count repeats.
    code, out, err = await run_cli_async(
        "js",
        "pub",
        "cli.js.b",
        "two",
        "--msg-id",
        "m-2",
        "--count",
        "2",
        "--stream",
        "CLI",
        "--server",
        js_server.url,
    )
    assert code == 0, err
    assert out.splitlines() == [
        "stored in stream CLI seq 2",
        "stored in stream CLI seq 2 (duplicate: not stored again)",
    ]

    js = js_client.jetstream()
    assert (await w(js.stream_info("CLI"))).state.messages == 2
    first = await w(js.get_msg("CLI", 1))
    assert first.data == b"one"
    assert first.headers is not None and first.headers["X-From"] == "cli"


async def test_js_pub_without_a_stream_or_with_the_wrong_one_fails(
    js_client: natsrs.Client, js_server: NatsServer
) -> None:
    code, out, err = await run_cli_async("js", "pub", "nowhere", "x", "--server", js_server.url)
    assert code == 1
    assert out == ""
    assert "natsrs: error: NoStreamResponseError" in err
    assert "Traceback" not in err

    code, _, err = await run_cli_async(
        "js", "pub", "cli.js.a", "x", "--stream", "OTHER", "--server", js_server.url
    )
    assert code == 1
    assert "natsrs: error: " in err and "Traceback" not in err
    assert (await w(js_client.jetstream().stream_info("CLI"))).state.messages == 0


async def test_js_fetch_prints_and_acks_up_to_n_messages(
    js_client: natsrs.Client, js_server: NatsServer
) -> None:
    js = js_client.jetstream()
    await w(js.add_consumer("CLI", durable_name="worker", ack_policy="explicit"))
    for n in range(1, 4):
        await w(js.publish(f"cli.js.{n}", f"msg {n}".encode()))

    code, out, err = await run_cli_async(
        "js", "fetch", "CLI", "worker", "-n", "2", "--server", js_server.url
    )
    assert code == 0, err
    assert out.splitlines() == [
        "[#1] cli.js.1 (stream seq 1, delivery 1): msg 1",
        "[#2] cli.js.2 (stream seq 2, delivery 1): msg 2",
    ]
    # Every ack was confirmed before the command printed it and exited.
    info = await w(js.consumer_info("CLI", "worker"))
    assert info.num_ack_pending == 0
    assert info.ack_floor is not None and info.ack_floor.stream_seq == 2

    # Fewer than asked: what there is, and a note on stderr.
    code, out, err = await run_cli_async(
        "js", "fetch", "CLI", "worker", "-n", "5", "--timeout", "1", "--server", js_server.url
    )
    assert code == 0, err
    assert out.splitlines() == ["[#1] cli.js.3 (stream seq 3, delivery 1): msg 3"]
    assert "fetched 1 of 5 messages" in err

    # Nothing left: a failure, after --timeout.
    code, out, err = await run_cli_async(
        "js", "fetch", "CLI", "worker", "--timeout", "0.5", "--server", js_server.url
    )
    assert code == 1
    assert out == ""
    assert "no message from worker on CLI within 0.5s" in err


async def test_js_fetch_no_ack_leaves_the_message_for_the_next_fetch(
    js_client: natsrs.Client, js_server: NatsServer
) -> None:
    js = js_client.jetstream()
    await w(js.add_consumer("CLI", durable_name="peek", ack_policy="explicit", ack_wait=0.5))
    await w(js.publish("cli.js.x", b"again"))

    code, out, err = await run_cli_async(
        "js", "fetch", "CLI", "peek", "--no-ack", "--server", js_server.url
    )
    assert code == 0, err
    assert out.splitlines() == ["[#1] cli.js.x (stream seq 1, delivery 1): again"]

    # Delivered again once the ack wait is over; --raw prints the payload only.
    code, out, err = await run_cli_async(
        "js", "fetch", "CLI", "peek", "--no-ack", "--server", js_server.url
    )
    assert code == 0, err
    assert out.splitlines() == ["[#1] cli.js.x (stream seq 1, delivery 2): again"]
    code, out, err = await run_cli_async(
        "js", "fetch", "CLI", "peek", "--raw", "--server", js_server.url
    )
    assert code == 0, err
    assert out == "again\n"
    info = await w(js.consumer_info("CLI", "peek"))
    assert info.delivered is not None and info.delivered.consumer_seq == 3
    assert info.num_ack_pending == 0


async def test_js_fetch_from_an_unknown_consumer_or_stream_fails(
    js_client: natsrs.Client, js_server: NatsServer
) -> None:
    for stream, consumer in (("CLI", "nobody"), ("NOSTREAM", "nobody")):
        code, out, err = await run_cli_async(
            "js", "fetch", stream, consumer, "--server", js_server.url
        )
        assert code == 1
        assert out == ""
        assert "natsrs: error: NotFoundError" in err
        assert "Traceback" not in err


async def test_js_streams_lists_every_stream(
    js_client: natsrs.Client, js_server: NatsServer
) -> None:
    js = js_client.jetstream()
    await w(js.add_stream(name="ALSO", subjects=["also.a", "also.b"]))
    await w(js.publish("cli.js.q", b"12345"))

    code, out, err = await run_cli_async("js", "streams", "--server", js_server.url)
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == ["ALSO", "CLI"]
    assert lines[0].startswith("ALSO  subjects also.a, also.b  messages 0  bytes 0  consumers 0")
    assert lines[1].startswith("CLI  subjects cli.js.>  messages 1  bytes ")
    assert "2 streams" in err


def test_js_commands_start_a_jetstream_server_when_none_is_given() -> None:
    # No --server and no $NATS_URL: an embedded server with JetStream, so the answer is
    # "no streams" rather than "JetStream not enabled".
    result = run_cli("js", "streams")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "0 streams" in result.stderr
    assert "embedded nats-server stopped" in result.stderr


def test_js_without_a_command_prints_its_usage() -> None:
    result = run_cli("js")

    assert result.returncode == 2
    for command in ("pub", "fetch", "streams"):
        assert command in result.stderr


def test_js_on_a_server_without_jetstream_fails_with_a_message(nats_server: NatsServer) -> None:
    result = run_cli("js", "streams", "--server", nats_server.url)

    assert result.returncode == 1
    assert (
        "natsrs: error: ServiceUnavailableError: JetStream is not enabled or not available "
        f"at {nats_server.url}"
    ) in result.stderr
    assert "Traceback" not in result.stderr
