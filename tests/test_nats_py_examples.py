"""nats-py's own examples (from its docstrings) and ``MIGRATING.md``'s, unchanged but for
the import and URL.

Everything goes through ``import natsrs as nats`` against real ``nats-server``
processes from the fixtures, one per test on free ports. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import natsrs as nats
from helpers import w
from natsrs._server import NatsServer

pytestmark = pytest.mark.timeout(60)


# -- nats-py's own examples (from its docstrings), unchanged but for the import and URL -------


async def test_nats_py_docstring_example_connecting_setting_all_callbacks(
    nats_server: NatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    servers = nats_server.url

    async def main() -> None:
        async def disconnected_cb() -> None:
            print("Got disconnected!")

        async def reconnected_cb() -> None:
            print(f"Got reconnected to {nc.connected_url.netloc}")  # type: ignore[union-attr]

        async def error_cb(e: Exception) -> None:
            print(f"There was an error: {e}")

        async def closed_cb() -> None:
            print("Connection is closed")

        nc = await nats.connect(
            servers,
            error_cb=error_cb,
            reconnected_cb=reconnected_cb,
            disconnected_cb=disconnected_cb,
            closed_cb=closed_cb,
        )

        async def handler(msg: Any) -> None:
            print(f"Received a message on {msg.subject} {msg.reply}: {msg.data}")
            await msg.respond(b"OK")

        await nc.subscribe("help.please", cb=handler)

        resp = await nc.request("help.please", b"help")
        print("Response:", resp)

        await nc.close()

    await w(main())
    await asyncio.sleep(0.2)
    out = capsys.readouterr().out
    assert "Received a message on help.please _INBOX." in out
    assert "Response:" in out and "Connection is closed" in out


async def test_nats_py_docstring_example_context_manager(
    nats_server: NatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    servers = nats_server.url

    async def main() -> None:
        is_done: asyncio.Future[bool] = asyncio.Future()

        async def closed_cb() -> None:
            print("Connection to NATS is closed.")
            is_done.set_result(True)

        nc_ = nats.NATS()
        await nc_.connect(servers, closed_cb=closed_cb)
        async with nc_ as nc:
            print(f"Connected to NATS at {nc.connected_url.netloc}...")  # type: ignore[union-attr]

            async def subscribe_handler(msg: Any) -> None:
                subject = msg.subject
                reply = msg.reply
                data = msg.data.decode()
                print(f"Received a message on '{subject} {reply}': {data}")

            await nc.subscribe("discover", cb=subscribe_handler)
            await nc.flush()

            for _ in range(0, 10):
                await nc.publish("discover", b"hello world")
                await asyncio.sleep(0.01)

        await asyncio.wait_for(is_done, 60.0)

    await w(main(), 10)
    out = capsys.readouterr().out
    assert out.count("Received a message on 'discover") >= 1
    assert "Connection to NATS is closed." in out


async def test_nats_py_docstring_example_publish(
    nats_server: NatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    servers = nats_server.url

    async def main() -> None:
        nc = await nats.connect(servers, error_cb=None)

        # Publish as message with an inbox.
        inbox = nc.new_inbox()
        sub = await nc.subscribe("hello")

        # Simple publishing
        await nc.publish("hello", b"Hello World!")

        # Publish with a reply
        await nc.publish("hello", b"Hello World!", reply=inbox)

        # Publish with headers
        await nc.publish("hello", b"With Headers", headers={"Foo": "Bar"})

        while True:
            try:
                msg = await sub.next_msg()
            except nats.errors.TimeoutError:
                break
            print("----------------------")
            print("Subject:", msg.subject)
            print("Reply  :", msg.reply)
            print("Data   :", msg.data)
            print("Headers:", msg.header)
        await nc.close()

    await w(main(), 10)
    await asyncio.sleep(0.1)  # the CLOSED event reaches the dispatcher before the loop ends
    out = capsys.readouterr().out
    assert out.count("Subject: hello") == 3
    assert "With Headers" in out and "Foo" in out


async def test_migrating_md_before_and_after_example(
    nats_server: NatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """The example of MIGRATING.md, with only the import changed (and the URL)."""
    from natsrs.errors import NoRespondersError, TimeoutError

    url = nats_server.url

    async def main() -> None:
        async def error_cb(e: Exception) -> None:
            print("error:", e)

        async def reconnected_cb() -> None:
            print("reconnected")

        nc = await nats.connect(
            url,
            name="svc",
            error_cb=error_cb,
            reconnected_cb=reconnected_cb,
            max_reconnect_attempts=-1,
        )

        async def handler(msg: Any) -> None:
            await msg.respond(b"pong:" + msg.data)

        await nc.subscribe("ping", queue="workers", cb=handler)
        await nc.flush()
        try:
            reply = await nc.request("ping", b"1", timeout=0.5)
            print(reply.data)
        except (NoRespondersError, TimeoutError) as exc:
            print("no answer:", exc)
        await nc.drain()

    await w(main())
    await asyncio.sleep(0.1)
    assert capsys.readouterr().out == "b'pong:1'\n"
