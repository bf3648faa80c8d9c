"""Key-Value watch throughput and put-then-get latency: natsrs and nats-py side by side.

Starts one JetStream nats-server on loopback, fills a bucket with ``--count`` updates
(``--keys`` keys, history 64 so every update is kept) and times a watcher with
``include_history=True`` reading all of them, then ``--pairs`` sequential
``put``-then-``get`` pairs on one key, for each client and each event loop, in a fresh
process each. Prints updates per second, the CPU time the watching process spent per
update (all its threads: steadier than the rate on a busy host), the pairs' median
latency, and the ratios natsrs / nats-py::

    python benchmarks/kv_watch.py                    # 100k updates, both loops, 3 runs
    python benchmarks/kv_watch.py --count 20000 --runs 1 --loop asyncio

Progress goes to stderr, the table to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CLIENTS = ("natsrs", "nats-py")
LOOPS = ("asyncio", "uvloop")
TIMEOUT = 600.0


async def fill(url: str, bucket: str, count: int, keys: int) -> None:
    """Publish ``count`` updates with natsrs, pipelined (the fill is not measured)."""
    import natsrs

    nc = await natsrs.connect(url)
    try:
        js = nc.jetstream()
        await js.create_key_value(bucket=bucket, history=64)
        # The latency pairs write elsewhere, so later watchers see only the fill.
        await js.create_key_value(bucket=bucket + "_PAIRS", history=1)
        acks = []
        for i in range(count):
            acks.append(await js.publish_async(f"$KV.{bucket}.k{i % keys}", b"v%d" % i))
        for ack in acks:
            await ack
    finally:
        await nc.close()


async def watch(
    client: str, url: str, bucket: str, count: int, count_pairs: int
) -> tuple[float, float, float]:
    """Seconds for a watcher of ``client`` to deliver ``count`` entries (and the marker),
    the process's CPU seconds meanwhile, and the median seconds of ``count_pairs``
    put-then-get pairs."""
    if client == "natsrs":
        import natsrs as nats
    else:
        import nats  # type: ignore[no-redef]

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        kv = await js.key_value(bucket)
        start = time.perf_counter()
        cpu_start = time.process_time()
        watcher = await kv.watchall(include_history=True)
        seen = 0
        last = 0
        while True:
            entry = await watcher.updates(timeout=30)
            if entry is None:
                break
            if entry.revision <= last:
                raise RuntimeError(f"out of order: {entry.revision} after {last}")
            last = entry.revision
            seen += 1
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        await watcher.stop()
        # The round-trip-bound half: put then get, one pair at a time.
        latency_kv = await js.key_value(bucket + "_PAIRS")
        pairs: list[float] = []
        for i in range(count_pairs):
            began = time.perf_counter()
            await latency_kv.put("latency", b"v%d" % i)
            got = await latency_kv.get("latency")
            pairs.append(time.perf_counter() - began)
            if got.value != b"v%d" % i:
                raise RuntimeError(f"{client}: read {got.value!r} after writing v{i}")
    finally:
        await nc.close()
    if seen != count:
        raise RuntimeError(f"{client}: {seen} entries, expected {count}")
    return elapsed, cpu, statistics.median(pairs) if pairs else 0.0


def worker(args: argparse.Namespace) -> int:
    if args.loop == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    elapsed, cpu, pair = asyncio.run(
        watch(args.worker, args.url, args.bucket, args.count, args.pairs)
    )
    print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "pair_seconds": pair}))
    return 0


def measure(
    client: str, loop: str, url: str, bucket: str, count: int, pairs: int
) -> tuple[float, float, float]:
    """(updates per second, CPU µs per update, put-then-get median µs) of one fresh
    worker process."""
    env = dict(os.environ)
    paths = (str(REPO / "python"), env.get("PYTHONPATH"))
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    command = [sys.executable, __file__, "--worker", client, "--loop", loop]
    command += ["--url", url, "--bucket", bucket, "--count", str(count), "--pairs", str(pairs)]
    out = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"{client} on {loop} failed:\n{out.stderr}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return (
        count / float(result["seconds"]),
        float(result["cpu_seconds"]) / count * 1e6,
        float(result["pair_seconds"]) * 1e6,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--keys", type=int, default=2000)
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--loop", choices=[*LOOPS, "both"], default="both")
    parser.add_argument("--worker", choices=CLIENTS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--bucket", default="BENCH", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)

    sys.path.insert(0, str(REPO / "python"))
    from natsrs._server import NatsServer

    loops = LOOPS if args.loop == "both" else (args.loop,)
    with NatsServer(jetstream=True) as server:
        print(f"filling {args.count} updates over {args.keys} keys", file=sys.stderr)
        asyncio.run(fill(server.url, args.bucket, args.count, args.keys))
        print(
            "| loop | natsrs updates/s | nats-py updates/s | natsrs / nats-py "
            "| natsrs CPU µs/update | nats-py CPU µs/update "
            "| natsrs put+get p50 µs | nats-py put+get p50 µs | natsrs / nats-py |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for loop in loops:
            rates: dict[str, list[float]] = {client: [] for client in CLIENTS}
            cpus: dict[str, list[float]] = {client: [] for client in CLIENTS}
            latencies: dict[str, list[float]] = {client: [] for client in CLIENTS}
            for run in range(args.runs):
                for client in CLIENTS:
                    rate, cpu, pair = measure(
                        client, loop, server.url, args.bucket, args.count, args.pairs
                    )
                    print(
                        f"{loop} run {run + 1} {client}: {rate:,.0f}/s, CPU {cpu:.2f} µs/update, "
                        f"put+get {pair:.0f} µs",
                        file=sys.stderr,
                    )
                    rates[client].append(rate)
                    cpus[client].append(cpu)
                    latencies[client].append(pair)
            ours, theirs = (statistics.median(rates[c]) for c in CLIENTS)
            ours_c, theirs_c = (statistics.median(cpus[c]) for c in CLIENTS)
            ours_p, theirs_p = (statistics.median(latencies[c]) for c in CLIENTS)
            print(
                f"| {loop} | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.1f}x "
                f"| {ours_c:.2f} | {theirs_c:.2f} "
                f"| {ours_p:.0f} | {theirs_p:.0f} | {ours_p / theirs_p:.2f}x |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
