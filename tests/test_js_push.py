"""Push consumers (``js.subscribe``) and ordered consumers against a real JetStream server,
over both clients nats-py users get (``js_nc``).

JetStream's control messages (idle heartbeats, flow-control requests) must never reach
user code and must be answered; an ordered consumer must deliver every message once, in
order, across a lost consumer and a server restart.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest

import natsrs
from helpers import SLOW_WAIT, WAIT, w, wait_until
from natsrs.js import api
from natsrs.js.errors import Error as JsError
from natsrs.js.errors import NotFoundError

if TYPE_CHECKING:
    from conftest import ServerFactory
    from natsrs._server import NatsServer

pytestmark = pytest.mark.timeout(120)


async def _stream(js: Any, name: str = "S", subjects: list[str] | None = None) -> None:
    await w(js.add_stream(name=name, subjects=subjects or ["s.>"], storage="memory"))


async def _fill(js: Any, count: int, subject: str = "s.a", size: int = 0) -> None:
    for i in range(count):
        payload = str(i).encode().ljust(size, b".")
        await w(js.publish(subject, payload))


async def test_sync_push_subscription_reads_in_order_and_hides_heartbeats(js_nc: Any) -> None:
    js = js_nc.jetstream()
    await _stream(js)
    await _fill(js, 5)
    sub = await w(js.subscribe("s.>", idle_heartbeat=0.1, manual_ack=True))
    got = [(await w(sub.next_msg(timeout=WAIT))).data for _ in range(5)]
    assert got == [b"0", b"1", b"2", b"3", b"4"]
    # Several heartbeats arrive meanwhile: none is a message.
    await asyncio.sleep(0.5)
    with pytest.raises(natsrs.errors.TimeoutError):
        await sub.next_msg(timeout=0.3)
    assert sub.delivered == 5
    info = await w(sub.consumer_info())
    assert info.config.idle_heartbeat == pytest.approx(0.1)
    await w(sub.unsubscribe())


async def test_callback_subscription_acks_after_the_callback_unless_manual(js_nc: Any) -> None:
    js = js_nc.jetstream()
    await _stream(js)
    await _fill(js, 10)
    seen: list[bytes] = []

    async def cb(msg: natsrs.Message) -> None:
        seen.append(msg.data)

    sub = await w(js.subscribe("s.>", cb=cb, durable="auto"))
    await wait_until(lambda: len(seen) == 10)

    async def acked() -> bool:
        info = await w(js.consumer_info("S", "auto"))
        return info.num_ack_pending == 0 and info.delivered.consumer_seq == 10

    for _ in range(50):
        if await acked():
            break
        await asyncio.sleep(0.05)
    assert await acked()
    assert seen == [str(i).encode() for i in range(10)]
    await w(sub.unsubscribe())

    manual: list[natsrs.Message] = []

    async def keep(msg: natsrs.Message) -> None:
        manual.append(msg)

    sub = await w(js.subscribe("s.>", cb=keep, durable="manual", manual_ack=True))
    await wait_until(lambda: len(manual) == 10)
    info = await w(js.consumer_info("S", "manual"))
    assert info.num_ack_pending == 10
    assert not any(m.is_acked for m in manual)
    await w(sub.unsubscribe())


async def test_callback_errors_go_to_the_error_callback(js_server: NatsServer) -> None:
    errors: list[Exception] = []

    async def error_cb(err: Exception) -> None:
        errors.append(err)

    nc = await w(natsrs.connect(js_server.url, error_cb=error_cb))
    try:
        js = nc.jetstream()
        await _stream(js)
        await _fill(js, 3)
        handled: list[bytes] = []

        async def cb(msg: natsrs.Message) -> None:
            if msg.data == b"1":
                raise RuntimeError("boom")
            handled.append(msg.data)

        await w(js.subscribe("s.>", cb=cb))
        await wait_until(lambda: len(handled) == 2 and len(errors) == 1)
        assert isinstance(errors[0], RuntimeError)
    finally:
        await w(nc.close())


async def test_plain_function_callbacks_work_and_next_msg_is_refused(js_nc: Any) -> None:
    js = js_nc.jetstream()
    await _stream(js)
    with pytest.raises(natsrs.errors.InvalidCallbackTypeError):
        await w(js.subscribe("s.>", cb="not callable"))  # type: ignore[arg-type]
    seen: list[bytes] = []
    sub = await w(js.subscribe("s.>", cb=lambda msg: seen.append(msg.data), durable="plain"))
    await _fill(js, 3)
    await wait_until(lambda: len(seen) == 3)
    with pytest.raises(natsrs.errors.BadSubscriptionError):
        await sub.next_msg(timeout=0.1)
    # Acked after the callback, as with a coroutine function.
    for _ in range(50):
        if (await w(js.consumer_info("S", "plain"))).num_ack_pending == 0:
            break
        await asyncio.sleep(0.05)
    assert (await w(js.consumer_info("S", "plain"))).num_ack_pending == 0
    await w(sub.unsubscribe())
    with pytest.raises(natsrs.errors.BadSubscriptionError):
        await w(sub.unsubscribe())


async def test_durable_binding_rules_are_nats_py_s(js_nc: Any) -> None:
    js = js_nc.jetstream()
    await _stream(js)
    first = await w(js.subscribe("s.>", durable="d"))
    with pytest.raises(JsError, match="already bound"):
        await w(js.subscribe("s.>", durable="d"))
    with pytest.raises(JsError, match="cannot create queue subscription"):
        await w(js.subscribe("s.>", queue="q", durable="other"))
    await w(first.unsubscribe())
    # Unbound again (the server notices the interest is gone): it binds.
    for _ in range(50):
        if not (await w(js.consumer_info("S", "d"))).push_bound:
            break
        await asyncio.sleep(0.05)
    again = await w(js.subscribe("s.>", durable="d"))
    await w(again.unsubscribe())


async def test_queue_subscribers_share_the_messages(js_nc: Any) -> None:
    js = js_nc.jetstream()
    await _stream(js)
    got: list[list[bytes]] = [[], []]

    def collector(i: int) -> Any:
        async def cb(msg: natsrs.Message) -> None:
            got[i].append(msg.data)

        return cb

    subs = [await w(js.subscribe("s.>", queue="workers", cb=collector(i))) for i in range(2)]
    info = await w(js.consumer_info("S", "workers"))
    assert info.config.deliver_group == "workers"
    await _fill(js, 40)
    await wait_until(lambda: len(got[0]) + len(got[1]) == 40)
    assert sorted(got[0] + got[1], key=int) == [str(i).encode() for i in range(40)]
    assert not set(got[0]) & set(got[1])
    with pytest.raises(JsError, match="deliver group"):
        await w(js.subscribe("s.>", durable="workers"))
    for sub in subs:
        await w(sub.unsubscribe())


async def test_flow_control_is_answered_so_a_large_backlog_arrives(js_nc: Any) -> None:
    """The server pauses a flow-controlled push consumer until its flow-control request
    is answered: without answers this stalls after the first window."""
    js = js_nc.jetstream()
    await _stream(js)
    count, size = 600, 16 * 1024
    await _fill(js, count, size=size)
    sub = await w(js.subscribe("s.>", flow_control=True, idle_heartbeat=0.5, manual_ack=True))
    got = [await w(sub.next_msg(timeout=SLOW_WAIT)) for _ in range(count)]
    assert [int(m.data.rstrip(b".")) for m in got] == list(range(count))
    assert all(m.status is None for m in got)
    await w(sub.unsubscribe())


async def test_ordered_consumer_delivers_everything_once_in_order(js_nc: Any) -> None:
    js = js_nc.jetstream()
    await _stream(js)
    await _fill(js, 300)
    sub = await w(js.subscribe("s.>", ordered_consumer=True, idle_heartbeat=0.2))
    got: list[int] = []
    async for msg in sub.messages:
        got.append(int(msg.data))
        assert msg.metadata.sequence.stream == len(got)
        if len(got) == 300:
            break
    assert got == list(range(300))
    info = await w(sub.consumer_info())
    assert info.config.ack_policy == api.AckPolicy.NONE
    assert info.config.flow_control and info.config.mem_storage
    await w(sub.unsubscribe())


async def test_ordered_consumer_replaces_a_deleted_consumer_without_gaps(js_nc: Any) -> None:
    js = js_nc.jetstream()
    await _stream(js)
    await _fill(js, 10)
    sub = await w(js.subscribe("s.>", ordered_consumer=True, idle_heartbeat=0.1))
    first = [int((await w(sub.next_msg(timeout=WAIT))).data) for _ in range(5)]
    consumer = sub._consumer
    await w(js.delete_consumer("S", consumer))
    with pytest.raises(NotFoundError):
        await w(js.consumer_info("S", consumer))
    for i in range(10, 15):
        await w(js.publish("s.a", str(i).encode()))
    rest = [int((await w(sub.next_msg(timeout=SLOW_WAIT))).data) for _ in range(10)]
    assert first + rest == list(range(15))
    # Messages published after the delete came through a consumer that exists now. (On
    # a loaded machine a late heartbeat check may replace it once more: read the name
    # the subscription has at each try.)
    deadline = asyncio.get_running_loop().time() + SLOW_WAIT
    while True:
        name = sub._consumer
        try:
            assert (await w(js.consumer_info("S", name))).name == name
            break
        except NotFoundError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)
    await w(sub.unsubscribe())


async def test_ordered_consumer_resumes_after_a_server_restart(
    nats_server_factory: ServerFactory, opened: list[Any]
) -> None:
    server = nats_server_factory(jetstream=True)
    nc = await w(natsrs.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1))
    opened.append(nc)
    js = nc.jetstream()
    await w(js.add_stream(name="S", subjects=["s.>"]))  # file storage: survives the restart
    await _fill(js, 5)
    sub = await w(js.subscribe("s.>", ordered_consumer=True, idle_heartbeat=0.2))
    before = [int((await w(sub.next_msg(timeout=WAIT))).data) for _ in range(5)]
    # In a thread: a loop blocked meanwhile would keep a loop-driven engine from
    # seeing the connection go, and the test would time the restart, not the client.
    await asyncio.to_thread(server.restart)
    await wait_until(lambda: nc.is_connected, SLOW_WAIT)
    for i in range(5, 10):
        await w(js.publish("s.a", str(i).encode()), SLOW_WAIT)
    after = [int((await w(sub.next_msg(timeout=SLOW_WAIT), SLOW_WAIT)).data) for _ in range(5)]
    assert before + after == list(range(10))
    await w(sub.unsubscribe())


async def test_subscription_surface_matches_nats_py(js_nc: Any) -> None:
    js = js_nc.jetstream()
    await _stream(js)
    await _fill(js, 3)
    sub = await w(js.subscribe("s.>", durable="surface"))
    assert isinstance(sub, js.PushSubscription)
    assert sub.subject.startswith("_INBOX.")
    assert sub.queue == ""
    await wait_until(lambda: sub.pending_msgs == 3)
    msg = await w(sub.next_msg())
    assert msg.metadata.consumer == "surface"
    await w(msg.ack())
    assert sub.delivered == 1
    await w(sub.unsubscribe())
