"""JetStream: a stream stores orders, a durable pull consumer works through them.

The publisher waits for the stream's ack of each order (``PubAck``: stream and sequence),
and a re-sent order with the same ``msg_id`` is recognised as a duplicate and not stored
twice. More orders go out pipelined with ``publish_async``, their acks awaited afterwards.
A worker fetches the orders in batches from a durable pull consumer: it acks what it
handled, naks an order that fails the first time so the server delivers it again after a
delay (the message's metadata counts the deliveries), and terminates an invalid one so it
is never delivered again. Stream and consumer info show the result; the stream is deleted
at the end.

Run it against a server with JetStream enabled (``NATS_URL``, default
``nats://127.0.0.1:4222``)::

    python -m natsrs server --port 4222 --jetstream &      # or nats-server -js
    python examples/jetstream.py
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys

import natsrs
from natsrs.js import JetStreamContext, api
from natsrs.js.errors import ServiceUnavailableError

NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
TIMEOUT = 5.0  # seconds; every wait is bounded so the example never hangs
ORDERS = 10
SYNC_ORDERS = 3  # published one by one; the rest are pipelined
BATCH = 4
RETRY_ORDER = 3  # fails on its first delivery: nak, delivered again after RETRY_DELAY
RETRY_DELAY = 0.5
INVALID_ORDER = 7  # can never be processed: term
DURABLE = "order-worker"


async def publish_orders(js: JetStreamContext, prefix: str) -> int:
    """Publish the orders; returns the stream's last sequence."""
    for n in range(1, SYNC_ORDERS + 1):
        # msg_id names the order: the stream drops a second message with the same id
        # within its duplicate window (two minutes by default).
        ack = await js.publish(f"{prefix}.{n}", f"order {n}".encode(), msg_id=f"order-{n}")
        print(f"published order {n}: stream {ack.stream}, seq {ack.seq}")

    # A retry after a lost ack, say: same msg_id, so it is not stored again.
    again = await js.publish(f"{prefix}.2", b"order 2", msg_id="order-2")
    print(f"re-published order 2: duplicate {again.duplicate}, seq {again.seq}")

    # publish_async returns once the message is sent; the acks are awaited afterwards,
    # so the publishes do not wait for each other's round trips.
    pending = [
        await js.publish_async(f"{prefix}.{n}", f"order {n}".encode(), msg_id=f"order-{n}")
        for n in range(SYNC_ORDERS + 1, ORDERS + 1)
    ]
    acks = [await asyncio.wait_for(ack, TIMEOUT) for ack in pending]
    print(
        f"pipelined {len(acks)} publishes: seqs {acks[0].seq}..{acks[-1].seq}, "
        f"{js.publish_async_pending()} acks still pending"
    )
    return acks[-1].seq


async def work(js: JetStreamContext, prefix: str, stream: str) -> tuple[int, int]:
    """Fetch and handle every order; returns how many were acked and terminated."""
    # A durable consumer keeps its position on the server: a worker that restarts with
    # the same name carries on where the last one stopped.
    # ack_wait: an order not acked within 30s is delivered again (a crashed worker's);
    # max_deliver: after 5 deliveries the server gives up on an order.
    config = api.ConsumerConfig(ack_wait=30.0, max_deliver=5)
    psub = await js.pull_subscribe(f"{prefix}.>", DURABLE, stream=stream, config=config)
    acked = terminated = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 3 * TIMEOUT
    while acked + terminated < ORDERS:
        if loop.time() > deadline:
            raise RuntimeError(f"only {acked + terminated} of {ORDERS} orders handled in time")
        try:
            msgs = await psub.fetch(BATCH, timeout=TIMEOUT)
        except natsrs.errors.TimeoutError:
            continue  # nothing ready yet (the nak'd order waits out its delay)
        print(f"fetched a batch of {len(msgs)}")
        for msg in msgs:
            # Where the message sits in the stream and how often it has been delivered.
            meta = msg.metadata
            order = int(msg.payload.split()[-1])
            seq, delivery = meta.sequence.stream, meta.num_delivered
            where = f"  order {order} (stream seq {seq}, delivery {delivery})"
            if order == INVALID_ORDER:
                await msg.term()
                terminated += 1
                print(f"{where}: invalid, terminated")
            elif order == RETRY_ORDER and delivery == 1:
                await msg.nak(delay=RETRY_DELAY)
                print(f"{where}: failed, nak (redeliver in {RETRY_DELAY}s)")
            else:
                await msg.ack()
                acked += 1
                again = " (redelivered)" if delivery > 1 else ""
                print(f"{where}: acked{again}")
    await psub.unsubscribe()  # stops this worker's inbox; the durable consumer stays
    return acked, terminated


async def applied_consumer_info(js: JetStreamContext, stream: str) -> api.ConsumerInfo:
    """The consumer's info once the server has applied every ack.

    ``ack()``, ``nak()`` and ``term()`` are one message each, not a round trip (so they
    are cheap), and the consumer applies them in the background. ``double_ack()`` waits
    for the server's confirmation when a program needs it; here the info is read until
    nothing waits for an ack any more.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while True:
        info = await js.consumer_info(stream, DURABLE)
        if not info.num_ack_pending or loop.time() > deadline:
            return info
        await asyncio.sleep(0.05)


async def main() -> int:
    # Random names keep concurrent runs (and other users of the server) apart.
    token = secrets.token_hex(4)
    stream = f"EXAMPLE_ORDERS_{token.upper()}"
    prefix = f"examples.orders.{token}"
    nc = await natsrs.connect(NATS_URL, name="example-jetstream", connection_timeout=TIMEOUT)
    async with nc:  # closes the connection on the way out
        js = nc.jetstream(timeout=TIMEOUT)
        await js.add_stream(name=stream, subjects=[f"{prefix}.>"])
        print(f"created stream {stream} on {prefix}.>")
        try:
            last_seq = await publish_orders(js, prefix)

            info = await js.stream_info(stream)
            state = info.state
            print(
                f"stream info: {state.messages} messages, "
                f"seqs {state.first_seq}..{state.last_seq}, {state.bytes} bytes"
            )

            acked, terminated = await work(js, prefix, stream)
            print(f"worker: {acked} acked, {terminated} terminated")

            consumer = await applied_consumer_info(js, stream)
            delivered = consumer.delivered
            print(
                f"consumer info: {consumer.name} delivered "
                f"{delivered.consumer_seq if delivered else '?'} times up to stream seq "
                f"{delivered.stream_seq if delivered else '?'}, "
                f"{consumer.num_pending} pending, {consumer.num_ack_pending} awaiting ack"
            )
        finally:
            # Deleting the stream deletes its consumers and messages too.
            deleted = await js.delete_stream(stream)
            print(f"deleted stream {stream}: {deleted}")
    ok = state.messages == ORDERS == last_seq and (acked, terminated) == (ORDERS - 1, 1)
    print(f"jetstream: {ORDERS} orders stored once, {acked} acked, {terminated} terminated")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except natsrs.errors.ConnectError as exc:
        sys.exit(f"jetstream: cannot connect to {NATS_URL}: {type(exc).__name__}: {exc}")
    except ServiceUnavailableError:
        sys.exit(f"jetstream: JetStream is not enabled on {NATS_URL} (start nats-server with -js)")
