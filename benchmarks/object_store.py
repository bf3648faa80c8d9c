"""Object Store put/get of one large object: natsrs side by side with nats-py.

Starts one JetStream nats-server on loopback and a file of random bytes, then for each
client (a fresh process per run, ``import natsrs as nats`` or ``import nats``) puts the
file as one object streamed from the open file, reads it back into a file, and reads it
back as ``bytes``. Prints MB/s and each phase's peak RSS growth (the process's high-water
mark over its RSS when the phase began), medians of ``--runs`` runs::

    python benchmarks/object_store.py                    # 100 MiB, 3 runs, asyncio
    python benchmarks/object_store.py --size 16 --runs 1 --loop uvloop --storage memory

The issue's targets: put and get ≥ 3x nats-py's MB/s; RSS growth of put and of a get into
a file under 2 x chunk size x chunks in flight (natsrs's put keeps up to 32 chunks of
128 KiB in flight, its get asks for 8 at a time: 8 MiB). A get into ``bytes`` holds the
object itself, so its growth is reported and not held to that bound. Progress goes to
stderr, the table to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MIB = 1 << 20
CHUNK = 128 * 1024
IN_FLIGHT = 32
CLIENTS = ("natsrs", "nats-py")
PHASES = (
    ("put", "put from a file"),
    ("get_file", "get into a file"),
    ("get_bytes", "get as bytes"),
)


def log(message: str) -> None:
    print(f"[object_store] {message}", file=sys.stderr, flush=True)


# -- the worker (one client, one run) ----------------------------------------------------


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> int:
    """Resets the RSS high-water mark (Linux: clear_refs 5); returns the RSS now, bytes."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    return _status_kib("VmRSS") * 1024


def _size(path: str) -> int:
    return os.path.getsize(path)


def _peak_growth(start: int) -> int:
    return _status_kib("VmHWM") * 1024 - start


async def worker(client: str, url: str, path: str, storage: str, out_dir: str) -> dict[str, Any]:
    if client == "natsrs":
        import natsrs as nats
    else:
        import nats  # type: ignore[no-redef]
    size = _size(path)
    nc = await nats.connect(url)
    js = nc.jetstream(timeout=30)
    bucket = f"bench_{os.getpid()}"
    obs = await js.create_object_store(bucket, storage=storage)
    result: dict[str, Any] = {}

    start = _reset_peak()
    began = time.perf_counter()
    # Blocking file objects are what the clients are given, as users do.
    with open(path, "rb") as source:  # noqa: ASYNC230
        info = await obs.put("object", source)
    took = time.perf_counter() - began
    result["put"] = {"mb_s": size / MIB / took, "growth": _peak_growth(start)}
    assert info.size == size, (info.size, size)

    target = os.path.join(out_dir, f"{client}-{os.getpid()}.out")
    start = _reset_peak()
    began = time.perf_counter()
    with open(target, "wb") as sink:  # noqa: ASYNC230
        await obs.get("object", writeinto=sink)
    took = time.perf_counter() - began
    result["get_file"] = {"mb_s": size / MIB / took, "growth": _peak_growth(start)}
    assert _size(target) == size
    os.unlink(target)

    start = _reset_peak()
    began = time.perf_counter()
    got = await obs.get("object")
    took = time.perf_counter() - began
    result["get_bytes"] = {"mb_s": size / MIB / took, "growth": _peak_growth(start)}
    assert len(got.data or b"") == size
    del got

    await js.delete_object_store(bucket)
    await nc.close()
    return result


# -- the driver ----------------------------------------------------------------------------


def run_worker(args: argparse.Namespace, client: str, url: str, path: str, out: str) -> Any:
    command = [
        sys.executable,
        __file__,
        "--worker",
        client,
        "--url",
        url,
        "--file",
        path,
        "--storage",
        args.storage,
        "--loop",
        args.loop,
        "--out-dir",
        out,
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "python"), env.get("PYTHONPATH", "")) if p
    )
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=args.timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{client} worker failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100, help="object size in MiB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--storage", choices=("file", "memory"), default="file")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per run")
    parser.add_argument("--worker", choices=CLIENTS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--out-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        if args.loop == "uvloop":
            import uvloop

            uvloop.install()
        result = asyncio.run(worker(args.worker, args.url, args.file, args.storage, args.out_dir))
        print(json.dumps(result))
        return 0

    sys.path.insert(0, str(REPO / "python"))
    from natsrs._server import NatsServer

    with tempfile.TemporaryDirectory(prefix="natsrs-obs-bench-") as tmp:
        path = os.path.join(tmp, "object.bin")
        with open(path, "wb") as f:
            for _ in range(args.size):
                f.write(os.urandom(MIB))
        results: dict[str, list[Any]] = {client: [] for client in CLIENTS}
        with NatsServer(jetstream=True, monitor=False) as server:
            for run in range(args.runs):
                for client in CLIENTS:
                    log(f"run {run + 1}/{args.runs}: {client}")
                    results[client].append(run_worker(args, client, server.url, path, tmp))

    bound = 2 * CHUNK * IN_FLIGHT
    print(
        f"\nObject Store, one {args.size} MiB object, {args.storage} storage, "
        f"{args.loop} loop, median of {args.runs} run(s)\n"
    )
    print(
        "| phase | natsrs MB/s | nats-py MB/s | ratio | natsrs RSS growth MiB "
        "| nats-py RSS growth MiB |"
    )
    print("|---|--:|--:|--:|--:|--:|")
    for key, title in PHASES:
        ours = statistics.median(r[key]["mb_s"] for r in results["natsrs"])
        theirs = statistics.median(r[key]["mb_s"] for r in results["nats-py"])
        grow = max(r[key]["growth"] for r in results["natsrs"]) / MIB
        grow_py = max(r[key]["growth"] for r in results["nats-py"]) / MIB
        print(
            f"| {title} | {ours:.0f} | {theirs:.0f} | {ours / theirs:.1f}x "
            f"| {grow:.1f} | {grow_py:.1f} |"
        )
    print(
        f"\nTargets: MB/s >= 3x nats-py; RSS growth of put and get-into-file "
        f"< {bound / MIB:.0f} MiB (2 x {CHUNK // 1024} KiB x {IN_FLIGHT} in flight); "
        "RSS growth is the largest of the runs."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
