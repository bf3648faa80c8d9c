"""Queue group: three workers share the jobs on one subject, each job done once.

Subscribers that join the same queue group split the messages between them: the server
delivers each message to one member only. Each worker has its own connection, as
separate processes would.

Run it against any NATS server (``NATS_URL``, default ``nats://127.0.0.1:4222``)::

    python examples/queue_workers.py
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys

import natsrs

NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
TIMEOUT = 5.0  # seconds; every wait is bounded so the example never hangs
WORKERS = 3
JOBS = 30
QUEUE = "workers"


async def server_round_trip(nc: natsrs.Client) -> None:
    """Return once the server has processed everything ``nc`` sent before the call.

    ``flush()`` only writes the connection's buffer out. The server handles a connection's
    messages in order, so a message to ourselves coming back proves our subscriptions are
    in place before another connection publishes.
    """
    inbox = nc.new_inbox()
    probe = await nc.subscribe(inbox)
    await nc.publish(inbox)
    await probe.next(timeout=TIMEOUT)
    await probe.unsubscribe()


async def work(name: str, sub: natsrs.Subscriber, done: list[int], finished: asyncio.Event) -> int:
    """Process jobs until the subscription is drained; returns how many this worker did."""
    mine = 0
    async for msg in sub:
        job = int(msg.payload)
        await asyncio.sleep(0.001)  # the "work"
        mine += 1
        done.append(job)
        if len(done) == JOBS:
            finished.set()
    print(f"  {name} processed {mine} jobs")
    return mine


async def main() -> int:
    subject = f"examples.jobs.{secrets.token_hex(4)}"
    producer = await natsrs.connect(NATS_URL, name="example-producer", connection_timeout=TIMEOUT)
    workers: list[natsrs.Client] = []
    try:
        subs: list[natsrs.Subscriber] = []
        for i in range(WORKERS):
            nc = await natsrs.connect(NATS_URL, name=f"example-worker-{i + 1}")
            workers.append(nc)
            subs.append(await nc.subscribe(subject, queue=QUEUE))
            await server_round_trip(nc)  # subscribed before the producer starts
        print(f"{WORKERS} workers in queue group {QUEUE!r} on {subject}")

        done: list[int] = []
        finished = asyncio.Event()
        tasks = [
            asyncio.ensure_future(work(f"worker-{i + 1}", sub, done, finished))
            for i, sub in enumerate(subs)
        ]

        for job in range(JOBS):
            await producer.publish(subject, str(job).encode())
        await producer.flush()
        print(f"producer published {JOBS} jobs")

        await asyncio.wait_for(finished.wait(), TIMEOUT)
        for sub in subs:
            await sub.drain()  # ends each worker's `async for`
        counts = await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
    finally:
        for nc in [producer, *workers]:
            await nc.close()

    once = sorted(done) == list(range(JOBS))
    print(f"per worker: {counts} (sum {sum(counts)})")
    print(f"every job processed exactly once: {once}")
    print(f"queue_workers: {JOBS} jobs processed by {WORKERS} workers")
    return 0 if once else 1


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except natsrs.errors.ConnectError as exc:
        sys.exit(f"queue_workers: cannot connect to {NATS_URL}: {type(exc).__name__}: {exc}")
