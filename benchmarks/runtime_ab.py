"""natsrs with its engine on tokio threads (the default) against ``runtime("loop")``.

Each round runs every scenario once per runtime, in alternating order, each in a fresh
``pyworker.py`` process against one nats-server (started here, on a free port, and
killed by pid at the end); ``NATSRS_RUNTIME=loop`` selects the loop runtime for the
worker's clients. Prints the median per scenario and runtime, and loop / threads::

    python benchmarks/runtime_ab.py                     # 5 rounds, asyncio
    python benchmarks/runtime_ab.py --rounds 3 --loop uvloop --scenarios request,inflight
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Messages (or requests) per scenario; a tenth of it warms up first.
COUNTS = {
    "request": 5_000,
    "inflight": 50_000,
    "callback": 200_000,
    "publish": 1_000_000,
    "subscribe": 300_000,
}
RUNTIMES = {"threads": {}, "loop": {"NATSRS_RUNTIME": "loop"}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def run_worker(scenario: str, url: str, loop: str, extra_env: dict[str, str]) -> float:
    env = {k: v for k, v in os.environ.items() if k != "NATSRS_RUNTIME"}
    env.update(extra_env)
    count = COUNTS[scenario]
    command = [
        sys.executable,
        str(HERE / "pyworker.py"),
        "--client",
        "natsrs",
        "--loop",
        loop,
        "--scenario",
        scenario,
        "--url",
        url,
        "--count",
        str(count),
        "--warmup",
        str(count // 10),
    ]
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{scenario} failed: {out.stderr[-500:]}")
    metrics = json.loads(lines[-1])["metrics"]
    value = metrics.get("p50_us") or metrics.get("msgs_per_s") or metrics.get("req_per_s")
    return float(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--scenarios", default=",".join(COUNTS))
    args = parser.parse_args()
    scenarios = [s for s in args.scenarios.split(",") if s]
    port = free_port()
    server = subprocess.Popen(
        ["nats-server", "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"nats://127.0.0.1:{port}"
    results: dict[str, dict[str, list[float]]] = {s: {r: [] for r in RUNTIMES} for s in scenarios}
    try:
        time.sleep(0.5)
        for round_ in range(args.rounds):
            order = list(RUNTIMES.items())
            if round_ % 2:
                order.reverse()
            for scenario in scenarios:
                for name, extra in order:
                    results[scenario][name].append(run_worker(scenario, url, args.loop, extra))
    finally:
        server.kill()
        server.wait()
    print(f"| scenario ({args.loop}, {args.rounds} rounds) | threads | loop | loop / threads |")
    print("|---|--:|--:|--:|")
    for scenario, by_runtime in results.items():
        threads = statistics.median(by_runtime["threads"])
        loop = statistics.median(by_runtime["loop"])
        unit = "p50 µs" if scenario == "request" else "/s"
        print(f"| {scenario} ({unit}) | {threads:,.0f} | {loop:,.0f} | {loop / threads:.2f} |")


if __name__ == "__main__":
    main()
