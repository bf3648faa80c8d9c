"""The scripts in ``examples/``, each run as a subprocess against a real nats-server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import natsrs
from helpers import PROCESS_WAIT, w
from nats_jwt import operator_setup
from natsrs._server import NatsServer, free_port

if TYPE_CHECKING:
    from conftest import ServerFactory
    from pki import Pki

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
RUN_TIMEOUT = 60.0

# Each example and lines (or fragments) its output must contain.
EXPECTED = {
    "pubsub.py": [
        "published 5 messages",
        "received #5 on sensor.4.temperature: 20.4 C",
        "pubsub: published 5, received 5 messages",
    ],
    "request_reply.py": [
        "client:  'hello' -> 'HELLO'",
        "client:  'request/reply' -> 'REQUEST/REPLY'",
        "service: drained after 4 requests",
        "no responders once the service is gone (NoRespondersError)",
        "request_reply: 4 requests answered by the service",
    ],
    "queue_workers.py": [
        "producer published 30 jobs",
        "(sum 30)",
        "every job processed exactly once: True",
        "queue_workers: 30 jobs processed by 3 workers",
    ],
    "reconnect_events.py": [
        # PENDING or already CONNECTED: the background connect may win the race.
        "retry_on_initial_connect: state right after connect(): ",
        "before: state CONNECTED, is_closed False",
        "before: connects 1",
        "[callback] CONNECTED",
        "retry_on_initial_connect: CONNECTED event",
        "[events()] CLOSED",
        "[callback] CLOSED",
        "after close: state CLOSED, is_closed True",
        "after close: publish raises ConnectionClosedError",
        "reconnect_events: done",
    ],
    "headers.py": [
        'received {"order": 42} with headers '
        "{'Content-Type': 'application/json', 'X-Tags': 'new'}",
        "X-Tags has every value in order: ['new', 'priority']",
        "HeaderMap: {'X-Trace-Id': ['trace-2'], 'X-Hop': ['gateway', 'router']}",
        "reply 'done' with headers {'X-Served-By': ['headers-example'], 'X-Trace-Id': ['trace-2']}",
        "invalid header name rejected: BadHeaderError",
        "invalid header value rejected: BadHeaderError",
        "headers: done",
    ],
    "object_store.py": [
        "created object store example_files_",
        "put reports/today.txt: 1049576 bytes in 9 chunks, SHA-256=",
        "watcher saw reports/today.txt",
        "read into a file: 1049576 bytes, same: True",
        "via link 'latest': 1049576 bytes, same: True",
        "description now: daily report (checked)",
        "notes.txt deleted",
        "objects: latest, reports/today.txt",
        "sealed: True,",
        "put after seal refused",
        "deleted object store example_files_",
        "object_store: stored, read back and checked: True",
    ],
    "jetstream.py": [
        "published order 1: stream EXAMPLE_ORDERS_",
        "re-published order 2: duplicate True, seq 2",
        "pipelined 7 publishes: seqs 4..10, 0 acks still pending",
        "stream info: 10 messages, seqs 1..10",
        "  order 3 (stream seq 3, delivery 1): failed, nak (redeliver in 0.5s)",
        "  order 3 (stream seq 3, delivery 2): acked (redelivered)",
        "  order 7 (stream seq 7, delivery 1): invalid, terminated",
        "  order 10 (stream seq 10, delivery 1): acked",
        "worker: 9 acked, 1 terminated",
        # 11 deliveries: every order once, and order 3 again.
        "consumer info: order-worker delivered 11 times up to stream seq 10, 0 pending, "
        "0 awaiting ack",
        "deleted stream EXAMPLE_ORDERS_",
        "jetstream: 10 orders stored once, 9 acked, 1 terminated",
    ],
    "kv.py": [
        "created bucket EXAMPLE_SETTINGS_",
        "watch: color = blue (revision 1)",
        "watch: size = 10 (revision 2)",
        "watch: (initial values done)",
        "stale update refused: nats: wrong last sequence: 3",
        "retried on revision 3: size = 20 (revision 4)",
        "create refused: color already has a value",
        "color after delete: not found (DEL marker)",
        "created color again: revision 6",
        "watch: color = DEL (revision 5)",
        "watch: color = green (revision 6)",
        "color history: blue, DEL, green",
        "keys: color, size; 6 entries kept",
        "deleted bucket EXAMPLE_SETTINGS_",
        "kv: done",
    ],
}
# Examples that need JetStream: their server runs with -js.
JETSTREAM = {"jetstream.py", "kv.py", "object_store.py"}
# Examples that need a server set up for them (operator mode, TLS): tested on their own.
SPECIAL = ["auth_creds.py", "tls.py"]


def example_env(url: str, **extra: str) -> dict[str, str]:
    """This environment with ``NATS_URL`` (and ``extra``) set, importing the natsrs under
    test."""
    env = dict(os.environ)
    for name in ("NATS_CREDS", "NATS_CA", "NATS_CERT", "NATS_KEY"):
        env.pop(name, None)
    env["NATS_URL"] = url
    env.update(extra)
    package_root = str(Path(natsrs.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return env


def run_example(
    name: str, url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        env=env or example_env(url),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def test_every_example_is_tested() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted([*EXPECTED, *SPECIAL])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_against_a_server(name: str, nats_server_factory: ServerFactory) -> None:
    server = nats_server_factory(jetstream=name in JETSTREAM)
    result = run_example(name, server.url)

    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    for fragment in EXPECTED[name]:
        assert fragment in result.stdout, f"{fragment!r} missing from:\n{result.stdout}"
    assert result.stderr == ""


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_reports_an_unreachable_server(name: str) -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    result = run_example(name, url)

    assert result.returncode == 1
    assert f"cannot connect to {url}: NoServersError" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", sorted(JETSTREAM))
def test_jetstream_example_on_a_server_without_jetstream(
    nats_server: NatsServer, name: str
) -> None:
    result = run_example(name, nats_server.url)

    assert result.returncode == 1
    assert f"JetStream is not enabled on {nats_server.url}" in result.stderr
    assert "Traceback" not in result.stderr


async def test_reconnect_example_sees_a_server_restart(nats_server: NatsServer) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / "reconnect_events.py"),
        "--watch",
        "20",
        env=example_env(nats_server.url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        seen: list[str] = []
        while not seen or "watching the connection" not in seen[-1]:
            raw = await w(proc.stdout.readline(), PROCESS_WAIT)
            if not raw:
                pytest.fail(f"the example ended before watching: {seen!r}")
            seen.append(raw.decode().rstrip())
        # Same ports, so the client's reconnect loop finds the server again.
        await asyncio.get_running_loop().run_in_executor(None, nats_server.restart)
        out, err = await w(proc.communicate(), PROCESS_WAIT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()

    text = out.decode()
    assert proc.returncode == 0, f"{text}\n{err.decode()}"
    assert "[events()] DISCONNECTED" in text
    assert "[events()] CONNECTED" in text
    assert "reconnected (connects: 1 -> 2)" in text
    assert "after watching: round trip ok (still here)" in text
    assert "after close: state CLOSED" in text


def test_auth_creds_example_signs_in_to_an_operator_mode_server(
    nats_server_factory: ServerFactory, tmp_path: Path
) -> None:
    setup = operator_setup()
    server = nats_server_factory(setup.server_config)
    creds = tmp_path / "user.creds"
    creds.write_text(setup.user("example").creds())

    # As an argument, and from $NATS_CREDS.
    for args, extra in (((str(creds),), {}), ((), {"NATS_CREDS": str(creds)})):
        result = run_example(
            "auth_creds.py", server.url, *args, env=example_env(server.url, **extra)
        )
        assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        assert "with user.creds (auth_required: True)" in result.stdout
        assert "round trip: signed in" in result.stdout
        assert "auth_creds: done" in result.stdout
        assert result.stderr == ""

    # A server in operator mode refuses a client without credentials.
    refused = subprocess.run(
        [sys.executable, str(EXAMPLES / "pubsub.py")],
        env=example_env(server.url),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert refused.returncode == 1


def test_auth_creds_example_without_creds_prints_its_usage(nats_server: NatsServer) -> None:
    result = run_example("auth_creds.py", nats_server.url)

    assert result.returncode == 2
    assert "usage: auth_creds.py CREDS_FILE" in result.stderr
    assert result.stdout == ""


def test_auth_creds_example_reports_an_unreachable_server(tmp_path: Path) -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    creds = tmp_path / "user.creds"
    creds.write_text(operator_setup().user().creds())
    result = run_example("auth_creds.py", url, str(creds))

    assert result.returncode == 1
    assert f"cannot connect to {url}: NoServersError" in result.stderr
    assert "Traceback" not in result.stderr


def test_tls_example_with_mutual_tls(nats_server_factory: ServerFactory, pki: Pki) -> None:
    server = nats_server_factory(pki.server_config(verify_clients=True))
    url = f"tls://127.0.0.1:{server.port}"
    files = {
        "NATS_CA": str(pki.ca_path),
        "NATS_CERT": str(pki.client_cert),
        "NATS_KEY": str(pki.client_key),
    }

    result = run_example("tls.py", url, env=example_env(url, **files))
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "client certificate yes" in result.stdout
    assert "(server tls_required: True)" in result.stdout
    assert "round trip: encrypted" in result.stdout
    assert "tls: done" in result.stdout
    assert result.stderr == ""

    # A nats:// URL is upgraded too (TlsConfig implies require_tls).
    result = run_example("tls.py", server.url, env=example_env(server.url, **files))
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "round trip: encrypted" in result.stdout

    # verify: true refuses a client without a certificate.
    result = run_example("tls.py", url, env=example_env(url, NATS_CA=str(pki.ca_path)))
    assert result.returncode == 1
    assert f"cannot connect to {url}" in result.stderr
    assert "Traceback" not in result.stderr


def test_tls_example_reports_an_unreachable_server() -> None:
    url = f"tls://127.0.0.1:{free_port()}"
    result = run_example("tls.py", url)

    assert result.returncode == 1
    assert f"cannot connect to {url}: NoServersError" in result.stderr
    assert "Traceback" not in result.stderr
