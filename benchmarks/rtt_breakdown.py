"""Where a sequential request/reply round trip goes: wake-ups, syscalls and CPU per side.

Runs a requester and a responder in two separate processes (natsrs, nats-py or the raw
engine, ``benchmarks/raw``, in any pairing) against one nats-server on loopback that this
script starts on a free port and stops by pid. The requester warms up, then makes
``--count`` sequential 16-byte requests; around exactly that timed window the script
reads, for every thread of the requester, the responder and the server:

* context switches (``voluntary_ctxt_switches``: the thread blocked and had to be woken;
  ``nonvoluntary``: it was preempted) from ``/proc/<pid>/task/<tid>/status``;
* CPU time from ``/proc/<pid>/task/<tid>/schedstat`` (nanoseconds on a CPU);

and, in a separate traced run (tracing slows the syscalls, so its latency is not
reported), the syscalls per thread and kind with ``perf trace -s`` (or ``strace -c -f``
when perf is missing or not permitted). With ``--profile``, one more run records the
natsrs and nats-py processes with ``perf record --call-graph dwarf`` and prints where each
thread's samples go.

Everything is divided by the number of timed round trips. Each combination is measured
``--runs`` times (clean runs, no tracer) and the medians are printed, with the range of
p50 and the CPU that other processes used meanwhile (the machine is shared)::

    python benchmarks/rtt_breakdown.py                     # every pairing, 3 runs, asyncio
    python benchmarks/rtt_breakdown.py --pairs natsrs:natsrs,natsrs:raw --runs 5
    python benchmarks/rtt_breakdown.py --pairs natsrs:natsrs --profile --loop uvloop

A pairing is ``REQUESTER:RESPONDER``. The roles themselves are this script run with
``--role`` (Python clients, using ``pyworker.py``'s glue and responder) or the raw program's
``rtt_requester``/``rtt_responder`` scenarios; both speak the same line protocol on
stdin/stdout (``ready`` after warm-up, ``done`` after the timed requests, each waiting
for a line, then one JSON line).

Needs Linux (``/proc``). The raw program is built with cargo when missing or stale (as
``bench.py`` does); without it the raw pairings are skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pyworker  # noqa: E402  (a sibling module, not a package)

SUBJECT = "bench.rtt"
KINDS = ("natsrs", "natsrs-iter", "nats-py", "raw")
"""``natsrs-iter`` is natsrs with an ``async for`` responder instead of ``subscribe(cb=)``."""
DEFAULT_PAIRS = (
    "natsrs:natsrs",
    "nats-py:nats-py",
    "raw:raw",
    "natsrs:raw",
    "raw:natsrs",
    "nats-py:raw",
    "raw:nats-py",
    "raw:natsrs-iter",
)
STEP_TIMEOUT = 120.0
"""Seconds any one step of a role (connecting, warming up, the timed requests) may take."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the roles (run in their own process) ---------------------------------------------------


def handshake(word: str) -> None:
    """Tell the orchestrator ``word`` and block until it answers with a line.

    Blocking the event loop thread here is deliberate: nothing else runs in this process
    while the orchestrator reads counters or attaches a tracer.
    """
    print(word, flush=True)
    sys.stdin.readline()


async def requester(client_kind: str, url: str, count: int, warmup: int, size: int) -> Any:
    glue = pyworker.make_glue(client_kind.removesuffix("-iter"))
    client = await glue.connect(url)
    payload = b"x" * size
    req = client.request
    timeout = pyworker.REQUEST_TIMEOUT
    for _ in range(warmup):
        await req(SUBJECT, payload, timeout=timeout)
    handshake("ready")
    micros: list[float] = []
    clock = time.perf_counter_ns
    start = time.perf_counter()
    for _ in range(count):
        sent = clock()
        reply = await req(SUBJECT, payload, timeout=timeout)
        micros.append((clock() - sent) / 1e3)
        if len(reply.data) != size:
            raise RuntimeError(f"reply of {len(reply.data)} bytes, expected {size}")
    elapsed = time.perf_counter() - start
    handshake("done")
    await client.close()
    micros.sort()
    return {
        "p50_us": pyworker.percentile(micros, 0.50),
        "p99_us": pyworker.percentile(micros, 0.99),
        "req_per_s": count / elapsed,
    }


async def responder(client_kind: str, url: str, size: int) -> Any:
    glue = pyworker.make_glue(client_kind.removesuffix("-iter"))
    client = await glue.connect(url)
    payload = b"x" * size
    served = 0

    async def respond(msg: pyworker.Msg) -> None:
        nonlocal served
        await msg.respond(payload)
        served += 1

    loop = asyncio.get_running_loop()
    if client_kind.endswith("-iter"):
        messages = await glue.iterate(client, SUBJECT)

        async def serve() -> None:
            async for msg in messages:
                await respond(msg)

        server = loop.create_task(serve())
    else:
        await glue.callback(client, SUBJECT, respond)
    await pyworker.round_trip(client)
    stop: asyncio.Future[None] = loop.create_future()
    fd = sys.stdin.fileno()

    def on_stdin() -> None:
        loop.remove_reader(fd)
        if not stop.done():
            stop.set_result(None)

    # Watched by the loop, not read by a helper thread: no extra thread in the counts.
    loop.add_reader(fd, on_stdin)
    print("ready", flush=True)
    await stop
    await client.close()
    if client_kind.endswith("-iter"):
        await asyncio.wait_for(server, pyworker.REQUEST_TIMEOUT)
    return {"served": served}


def run_role(args: argparse.Namespace) -> int:
    loop = pyworker.new_loop(args.loop)
    asyncio.set_event_loop(loop)
    try:
        if args.role == "requester":
            coro = requester(args.client, args.url, args.count, args.warmup, args.size)
        else:
            coro = responder(args.client, args.url, args.size)
        metrics = loop.run_until_complete(coro)
    finally:
        loop.close()
    print(json.dumps({"client": args.client, "role": args.role, "metrics": metrics}), flush=True)
    return 0


# -- reading /proc --------------------------------------------------------------------------


@dataclass
class ThreadSample:
    comm: str
    voluntary: int
    involuntary: int
    cpu_ns: int


def read_threads(pid: int) -> dict[int, ThreadSample]:
    """Every thread of ``pid`` now: name, context switches, nanoseconds on a CPU."""
    threads: dict[int, ThreadSample] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return threads
    for tid_text in tids:
        base = f"/proc/{pid}/task/{tid_text}"
        try:
            with open(f"{base}/status", encoding="ascii") as f:
                status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
            with open(f"{base}/schedstat", encoding="ascii") as f:
                cpu_ns = int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended meanwhile
        threads[int(tid_text)] = ThreadSample(
            status["Name"].strip(),
            int(status["voluntary_ctxt_switches"]),
            int(status["nonvoluntary_ctxt_switches"]),
            cpu_ns,
        )
    return threads


def machine_busy_s() -> float:
    """Busy CPU seconds of the whole machine since boot (``/proc/stat``)."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = f.readline().split()[1:9]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields)
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def thread_label(kind: str, pid: int, tid: int, comm: str) -> str:
    """A thread's role: the event loop thread, raw's ``block_on`` thread, or its name."""
    if tid == pid:
        if kind == "raw":
            return "main (block_on)"
        if kind == "server":
            return "nats-server"
        return "loop (python)"
    if kind == "server":
        return "nats-server"
    if comm.startswith(("tokio-runtime", "tokio-rt")):
        return "tokio worker"
    return comm


@dataclass
class ThreadDelta:
    threads: int = 0  # threads of this label that ran at all in the window
    voluntary: int = 0
    involuntary: int = 0
    cpu_ns: int = 0


def delta(
    kind: str, pid: int, before: dict[int, ThreadSample], after: dict[int, ThreadSample]
) -> dict[str, ThreadDelta]:
    by_label: dict[str, ThreadDelta] = collections.defaultdict(ThreadDelta)
    for tid, end in after.items():
        start = before.get(tid, ThreadSample(end.comm, 0, 0, 0))
        d = by_label[thread_label(kind, pid, tid, end.comm)]
        cpu = end.cpu_ns - start.cpu_ns
        vol = end.voluntary - start.voluntary
        invol = end.involuntary - start.involuntary
        if cpu or vol or invol:
            d.threads += 1
        d.voluntary += vol
        d.involuntary += invol
        d.cpu_ns += cpu
    return dict(by_label)


# -- tracers --------------------------------------------------------------------------------


def perf_usable() -> bool:
    perf = shutil.which("perf")
    if perf is None:
        return False
    probe = subprocess.run(
        [perf, "trace", "-s", "--", "true"], capture_output=True, text=True, timeout=30
    )
    return probe.returncode == 0 and "Summary of events" in (probe.stdout + probe.stderr)


def strace_usable() -> bool:
    strace = shutil.which("strace")
    if strace is None:
        return False
    probe = subprocess.run([strace, "-c", "true"], capture_output=True, text=True, timeout=30)
    return probe.returncode == 0


class Tracer:
    """``perf trace -s`` (per thread) or ``strace -c -f`` (per process) on one process."""

    def __init__(self, tool: str, pid: int, out: Path) -> None:
        self.tool = tool
        self.out = out
        self.pid = pid
        if tool == "perf":
            command = ["perf", "trace", "-s", "-o", str(out), "-p", str(pid)]
        else:
            tids = [arg for tid in os.listdir(f"/proc/{pid}/task") for arg in ("-p", tid)]
            command = ["strace", "-c", "-f", "-o", str(out), *tids]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self) -> dict[str, collections.Counter[str]]:
        """Detach; syscall counts per thread label (strace: one label, the process)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        text = self.out.read_text(errors="replace") if self.out.exists() else ""
        return parse_perf_trace(text) if self.tool == "perf" else parse_strace(text)


def parse_perf_trace(text: str) -> dict[str, collections.Counter[str]]:
    """``perf trace -s`` output: a block per thread, ``comm (tid), N events``, then rows."""
    result: dict[str, collections.Counter[str]] = {}
    current: collections.Counter[str] | None = None
    header = re.compile(r"^\s*(.+?) \((\d+)\), \d+ events")
    row = re.compile(r"^\s+([a-z_0-9]+)\s+(\d+)\s+\d+\s+[\d.]+")
    for line in text.splitlines():
        match = header.match(line)
        if match:
            current = result.setdefault(f"{match.group(1)}#{match.group(2)}", collections.Counter())
            continue
        match = row.match(line)
        if match and current is not None:
            current[match.group(1)] += int(match.group(2))
    return result


def parse_strace(text: str) -> dict[str, collections.Counter[str]]:
    counts: collections.Counter[str] = collections.Counter()
    row = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?([a-z_0-9]+)\s*$")
    for line in text.splitlines():
        match = row.match(line)
        if match and match.group(2) != "total":
            counts[match.group(2)] += int(match.group(1))
    return {"process#0": counts}


def wake_delays(
    data: Path, pids: dict[str, tuple[str, int]], threads: dict[str, dict[int, ThreadSample]]
) -> dict[tuple[str, str], tuple[int, float]]:
    """``perf sched latency -p``: per thread of ours, wake-ups and the mean delay from
    being woken to running (what a hand-off waits for a CPU), grouped by thread label."""
    result = subprocess.run(
        ["perf", "sched", "latency", "-p", "-i", str(data)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    owner = {
        tid: (side, thread_label(kind, pid, tid, sample.comm))
        for side, (kind, pid) in pids.items()
        for tid, sample in threads[side].items()
    }
    sums: dict[tuple[str, str], list[float]] = collections.defaultdict(lambda: [0, 0.0])
    row = re.compile(r"^\s*\S.*?:(\d+)\s*\|\s*[\d.]+ ms\s*\|\s*(\d+)\s*\|\s*avg:\s*([\d.]+) ms")
    for line in result.stdout.splitlines():
        match = row.match(line)
        if match and int(match.group(1)) in owner:
            n, avg_ms = int(match.group(2)), float(match.group(3))
            acc = sums[owner[int(match.group(1))]]
            acc[0] += n
            acc[1] += n * avg_ms * 1e3
    return {key: (int(n), total / n if n else 0.0) for key, (n, total) in sums.items()}


# -- running one pairing ---------------------------------------------------------------------


class Role:
    """One role process; killed by its pid when closed."""

    def __init__(self, command: list[str], name: str) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert self.proc.stdout is not None
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.proc.stdout, selectors.EVENT_READ)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def expect(self, timeout: float = STEP_TIMEOUT) -> str:
        """The role's next stdout line (its protocol word or its JSON result)."""
        assert self.proc.stdout is not None
        if not self._selector.select(timeout):
            raise RuntimeError(f"{self.name}: no answer in {timeout:.0f} s")
        line = self.proc.stdout.readline().decode().strip()
        if not line:
            err = self.proc.stderr.read().decode() if self.proc.stderr else ""
            raise RuntimeError(f"{self.name} exited ({self.proc.poll()}): {err[-2000:]}")
        return line

    def answer(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._selector.close()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def role_command(
    kind: str, role: str, url: str, count: int, warmup: int, loop: str, raw: Path | None
) -> list[str]:
    if kind == "raw":
        assert raw is not None
        return [str(raw), f"rtt_{role}", "--url", url, "--count", str(count),
                "--warmup", str(warmup), "--size", "16"]  # fmt: skip
    script = str(Path(__file__).resolve())
    tail = ["--url", url, "--count", str(count), "--warmup", str(warmup), "--loop", loop]
    return [sys.executable, script, "--role", role, "--client", kind, *tail]


@dataclass
class Run:
    metrics: dict[str, float]
    threads: dict[str, dict[str, ThreadDelta]]  # side -> label -> delta
    syscalls: dict[str, dict[str, collections.Counter[str]]] = field(default_factory=dict)
    profiles: dict[str, Path] = field(default_factory=dict)
    other_load: float = 0.0  # CPUs used by other processes during the window
    count: int = 0
    pids: dict[str, int] = field(default_factory=dict)
    delays: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)
    """(side, thread label) -> (wake-ups, mean µs from wake-up to running), ``--sched``."""


def measure(
    pair: tuple[str, str],
    url: str,
    server_pid: int,
    args: argparse.Namespace,
    raw: Path | None,
    tracer: str | None = None,
    profile_dir: Path | None = None,
    sched: bool = False,
) -> Run:
    """One timed window of ``args.count`` round trips for ``pair``; optionally traced."""
    req_kind, resp_kind = pair
    resp = Role(role_command(resp_kind, "responder", url, 1, 0, args.loop, raw), "responder")
    req: Role | None = None
    tracers: dict[str, Tracer] = {}
    recorders: dict[str, subprocess.Popen[bytes]] = {}
    try:
        resp.expect()
        cmd = role_command(req_kind, "requester", url, args.count, args.warmup, args.loop, raw)
        req = Role(cmd, "requester")
        if req.expect() != "ready":
            raise RuntimeError("requester did not warm up")
        pids = {"requester": (req_kind, req.pid), "responder": (resp_kind, resp.pid)}
        pids["server"] = ("server", server_pid)
        tmp = Path(tempfile.mkdtemp(prefix="rtt-"))
        if tracer:
            for side in ("requester", "responder"):
                tracers[side] = Tracer(tracer, pids[side][1], tmp / f"{side}.trace")
        if profile_dir is not None:
            for side in ("requester", "responder"):
                kind, pid = pids[side]
                if kind == "raw":
                    continue
                data = profile_dir / f"{req_kind}-{resp_kind}-{side}.data"
                recorders[side] = subprocess.Popen(
                    [*PERF_RECORD, "-o", str(data), "-p", str(pid)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
        if sched:
            recorders["sched"] = subprocess.Popen(
                ["perf", "sched", "record", "-a", "-o", str(tmp / "sched.data")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        if tracers or recorders:
            time.sleep(1.0)  # let the tracers attach to every thread
        before = {side: read_threads(pid) for side, (_, pid) in pids.items()}
        busy_before, wall_before = machine_busy_s(), time.monotonic()
        req.answer()
        if req.expect() != "done":
            raise RuntimeError("requester did not finish")
        wall = time.monotonic() - wall_before
        busy = machine_busy_s() - busy_before
        after = {side: read_threads(pid) for side, (_, pid) in pids.items()}
        syscalls = {side: t.stop() for side, t in tracers.items()}
        profiles: dict[str, Path] = {}
        for side, rec in recorders.items():
            rec.send_signal(signal.SIGINT)
            rec.wait(timeout=120)
            if side == "sched":
                profiles[side] = tmp / "sched.data"
            else:
                assert profile_dir is not None
                profiles[side] = profile_dir / f"{req_kind}-{resp_kind}-{side}.data"
        req.answer()
        metrics = json.loads(req.expect())["metrics"]
        threads = {
            side: delta(kind, pid, before[side], after[side]) for side, (kind, pid) in pids.items()
        }
        delays = wake_delays(profiles.pop("sched"), pids, after) if sched else {}
        ours = sum(d.cpu_ns for side in threads.values() for d in side.values()) / 1e9
        return Run(
            metrics,
            threads,
            syscalls,
            profiles,
            other_load=max(busy - ours, 0.0) / wall if wall > 0 else 0.0,
            count=args.count,
            pids={side: pid for side, (_, pid) in pids.items()},
            delays=delays,
        )
    finally:
        for t in tracers.values():
            if t.proc.poll() is None:
                t.proc.kill()
                t.proc.wait()
        for rec in recorders.values():
            if rec.poll() is None:
                rec.kill()
                rec.wait()
        if req is not None:
            req.close()
        resp.close()


# -- reporting --------------------------------------------------------------------------------

SIDES = ("requester", "responder", "server")
PERF_RECORD = ["perf", "record", "-q", "-F", "1999", "--call-graph", "dwarf,16384"]


def fmt(value: float) -> str:
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def summarize(pair_name: str, runs: list[Run]) -> list[str]:
    """The Markdown rows of the per-combination summary table."""
    p50s = [r.metrics["p50_us"] for r in runs]
    cells = [pair_name, f"{fmt(median(p50s))} ({fmt(min(p50s))}..{fmt(max(p50s))})"]
    cells.append(fmt(median([r.metrics["p99_us"] for r in runs])))
    for side in SIDES:
        cs = [sum(d.voluntary + d.involuntary for d in r.threads[side].values()) / r.count
              for r in runs]  # fmt: skip
        cpu = [sum(d.cpu_ns for d in r.threads[side].values()) / 1e3 / r.count for r in runs]
        cells += [fmt(median(cs)), fmt(median(cpu))]
    cells.append(fmt(median([r.other_load for r in runs])))
    return ["| " + " | ".join(cells) + " |"]


def thread_rows(pair_name: str, runs: list[Run]) -> list[str]:
    rows = []
    for side in SIDES:
        labels = sorted({label for r in runs for label in r.threads[side]})
        for label in labels:
            ds = [r.threads[side].get(label, ThreadDelta()) for r in runs]
            n = max(d.threads for d in ds)
            vol = median([d.voluntary / r.count for d, r in zip(ds, runs, strict=True)])
            invol = median([d.involuntary / r.count for d, r in zip(ds, runs, strict=True)])
            cpu = median([d.cpu_ns / 1e3 / r.count for d, r in zip(ds, runs, strict=True)])
            if n == 0 and cpu == 0:
                continue
            rows.append(
                f"| {pair_name} | {side} | {label} | {n} | {fmt(vol)} | {fmt(invol)} | {fmt(cpu)} |"
            )
    return rows


def syscall_rows(pair_name: str, run: Run, kinds: dict[str, str], top: int) -> list[str]:
    rows = []
    for side in ("requester", "responder"):
        per_label: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        for key, counts in run.syscalls.get(side, {}).items():
            comm, _, tid = key.rpartition("#")
            if key == "process#0":
                label = "whole process (strace)"
            else:
                label = thread_label(kinds[side], run.pids[side], int(tid), comm)
            per_label[label] += counts
        for label, counts in sorted(per_label.items()):
            total = sum(counts.values()) / run.count
            if total < 0.05:
                continue
            kinds_text = ", ".join(
                f"{name} {fmt(n / run.count)}" for name, n in counts.most_common(top)
                if n / run.count >= 0.05
            )  # fmt: skip
            rows.append(f"| {pair_name} | {side} | {label} | {fmt(total)} | {kinds_text} |")
    return rows


PROFILE_PATTERNS = (
    ("epoll_wait / select", r"epoll_wait|select\.epoll|select_epoll"),
    ("natsrs extension", r"^natsrs|_natsrs|<natsrs::|natsrs::"),
    ("async-nats", r"async_nats"),
    ("tokio", r"tokio::"),
    ("asyncio _run_once", r"_run_once"),
    ("kernel send/write", r"tcp_sendmsg|unix_stream_sendmsg|sys_write|sys_sendto"),
    ("kernel recv/read", r"tcp_recvmsg|unix_stream_recvmsg|sys_read|sys_recvfrom"),
    ("futex wake/wait", r"futex"),
)  # fmt: skip


def profile_summary(data: Path, top: int) -> list[str]:
    """Per thread: samples, inclusive share of a few frame groups, top self frames."""
    script = subprocess.run(
        ["perf", "script", "-i", str(data), "-F", "comm,tid,ip,sym"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    by_thread: dict[str, list[list[str]]] = collections.defaultdict(list)
    for comm, frames in perf_samples(script.stdout):
        by_thread[comm].append(frames)
    lines = []
    patterns = [(name, re.compile(rx)) for name, rx in PROFILE_PATTERNS]
    for comm, samples in sorted(by_thread.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"- `{comm}`: {len(samples)} samples")
        shares = []
        for name, rx in patterns:
            hit = sum(1 for frames in samples if any(rx.search(f) for f in frames))
            if hit:
                shares.append(f"{name} {100 * hit / len(samples):.0f} %")
        lines.append("  - inclusive: " + ", ".join(shares))
        selfs = collections.Counter(frames[0] if frames else "?" for frames in samples)
        lines.append(
            "  - self: "
            + ", ".join(
                f"`{sym[:60]}` {100 * n / len(samples):.0f} %" for sym, n in selfs.most_common(top)
            )
        )
    return lines


def perf_samples(text: str) -> Iterator[tuple[str, list[str]]]:
    comm: str | None = None
    frames: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            if comm is not None:
                yield comm, frames
            comm, frames = None, []
        elif not line[0].isspace():
            comm, frames = line.split()[0], []
        else:
            parts = line.strip().split(None, 1)
            if len(parts) == 2:
                frames.append(re.sub(r"\+0x[0-9a-f]+$", "", parts[1].split(" (", 1)[0]))
    if comm is not None:
        yield comm, frames


# -- driver ----------------------------------------------------------------------------------


def wake_cost_us() -> str:
    """``perf bench sched pipe``: two processes bouncing a byte over pipes, µs per bounce
    (two wake-ups and two context switches): what one cross-thread hand-off costs here."""
    if shutil.which("perf") is None:
        return "not measured (no perf)"
    figures = []
    for pin in ([], ["taskset", "-c", "0"]):
        if pin and shutil.which("taskset") is None:
            continue
        result = subprocess.run(
            [*pin, "perf", "bench", "sched", "pipe", "-l", "20000"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        match = re.search(r"([\d.]+) usecs/op", result.stdout)
        where = "both on CPU 0" if pin else "free to use any CPU"
        figures.append(f"{match.group(1) if match else '?'} µs ({where})")
    return "; ".join(figures)


def side_costs(results: dict[str, list[Run]]) -> list[str]:
    """Each client's cost over the raw engine, per side, from the mixed pairings: the p50
    of ``X → raw`` minus ``raw → raw`` is X's requester cost, ``raw → X`` its responder's."""
    p50 = {name: median([r.metrics["p50_us"] for r in runs]) for name, runs in results.items()}
    base = p50.get("raw → raw")
    if base is None:
        return []
    rows = []
    for kind in ("natsrs", "natsrs-iter", "nats-py"):
        req, resp = p50.get(f"{kind} → raw"), p50.get(f"raw → {kind}")
        if req is None and resp is None:
            continue
        cells = [f"+{fmt(v - base)}" if v is not None else "-" for v in (req, resp)]
        rows.append(f"| {kind} | {cells[0]} | {cells[1]} |")
    if not rows:
        return []
    return [
        "",
        f"### p50 over the raw engine, per side (raw → raw: {fmt(base)} µs)",
        "",
        "| client | as requester (X → raw) | as responder (raw → X) |",
        "|---|---|---|",
        *rows,
    ]


def parse_pairs(text: str) -> list[tuple[str, str]]:
    pairs = []
    for item in text.split(","):
        req, sep, resp = item.strip().partition(":")
        if not sep or req not in KINDS or resp not in KINDS:
            raise SystemExit(f"bad pairing {item!r}: REQUESTER:RESPONDER, each one of {KINDS}")
        pairs.append((req, resp))
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--pairs", default=",".join(DEFAULT_PAIRS))
    parser.add_argument("--count", type=int, default=5000, help="timed round trips per run")
    parser.add_argument("--warmup", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3, help="clean runs per pairing")
    parser.add_argument("--loop", choices=pyworker.LOOPS, default="asyncio")
    parser.add_argument("--no-trace", action="store_true", help="skip the syscall run")
    parser.add_argument("--profile", action="store_true", help="perf record the Python sides")
    parser.add_argument(
        "--sched", action="store_true", help="perf sched: wake-up delays per thread (one run)"
    )
    parser.add_argument("--top", type=int, default=6, help="syscall kinds / frames shown")
    # The role of a child process (internal).
    parser.add_argument("--role", choices=("requester", "responder"))
    parser.add_argument("--client", choices=("natsrs", "natsrs-iter", "nats-py"))
    parser.add_argument("--url")
    parser.add_argument("--size", type=int, default=16)
    args = parser.parse_args(argv)
    if args.role:
        if not args.client or not args.url:
            parser.error("--role needs --client and --url")
        return run_role(args)
    if args.count <= 0 or args.runs <= 0:
        parser.error("--count and --runs must be > 0")

    import bench  # the raw program's build and nats-server's start, shared with bench.py

    from natsrs._server import NatsServer

    pairs = parse_pairs(args.pairs)
    raw: Path | None = None
    if any("raw" in p for p in pairs):
        raw = bench.ensure_raw()
        if raw is None:
            log("no raw engine program: skipping the pairings with raw")
            pairs = [p for p in pairs if "raw" not in p]
    tracer: str | None = None
    if not args.no_trace:
        if perf_usable():
            tracer = "perf"
        elif strace_usable():
            tracer = "strace"
    profile = args.profile and shutil.which("perf") is not None

    notes = [
        f"loop: {args.loop}; {args.count} timed round trips per run after {args.warmup} "
        f"warm-up, 16-byte payloads; {args.runs} clean runs per pairing (medians); "
        f"{os.cpu_count()} CPUs",
        "syscalls: "
        + {"perf": "`perf trace -s` (per thread), one extra run",
           "strace": "`strace -c -f` (per process: perf trace unusable here), one extra run",
           None: "not measured (" + ("--no-trace" if args.no_trace
                                     else "neither perf trace nor strace usable") + ")"}[tracer],
    ]  # fmt: skip
    if args.profile and not profile:
        notes.append("profile: perf not found, skipped")

    results: dict[str, list[Run]] = {}
    traced: dict[str, Run] = {}
    scheduled: dict[str, Run] = {}
    profiled: dict[str, dict[str, Path]] = {}
    profile_dir = Path(tempfile.mkdtemp(prefix="rtt-perf-")) if profile else None
    notes.append(
        f"one pipe bounce between two processes (`perf bench sched pipe`): {wake_cost_us()}"
    )
    with NatsServer(monitor=False) as server:
        log(f"nats-server at {server.url} (pid {server.pid})")
        assert server.pid is not None
        for pair in pairs:
            name = f"{pair[0]} → {pair[1]}"
            results[name] = []
            for n in range(args.runs):
                run = measure(pair, server.url, server.pid, args, raw)
                log(f"{name} run {n + 1}: p50 {run.metrics['p50_us']:.0f} µs, "
                    f"other load {run.other_load:.2f} CPU")  # fmt: skip
                results[name].append(run)
            if tracer:
                traced[name] = measure(pair, server.url, server.pid, args, raw, tracer=tracer)
                log(f"{name}: syscalls traced with {tracer}")
            if args.sched and shutil.which("perf") is not None:
                scheduled[name] = measure(pair, server.url, server.pid, args, raw, sched=True)
            if profile_dir is not None and pair != ("raw", "raw"):
                prof = measure(pair, server.url, server.pid, args, raw, profile_dir=profile_dir)
                profiled[name] = prof.profiles

    out = ["## Request/reply round trip breakdown", "", *[f"- {n}" for n in notes], ""]
    out += [
        "### Per round trip, by process (requester → responder)",
        "",
        "cs = context switches (voluntary + involuntary) per round trip; CPU in µs per round "
        "trip; p50 in µs (range over runs); other load = CPUs used by other processes.",
        "",
        "| pairing | p50 µs | p99 µs | req cs | req CPU µs | resp cs | resp CPU µs "
        "| server cs | server CPU µs | other load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, runs in results.items():
        out += summarize(name, runs)
    out += side_costs(results)
    out += [
        "",
        "### Per round trip, by thread",
        "",
        "| pairing | side | thread | n | voluntary cs | involuntary cs | CPU µs |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, runs in results.items():
        out += thread_rows(name, runs)
    if traced:
        out += [
            "",
            f"### Syscalls per round trip ({tracer}), top {args.top} kinds",
            "",
            "| pairing | side | thread | all | by kind |",
            "|---|---|---|---|---|",
        ]
        for name, run in traced.items():
            req_kind, resp_kind = name.split(" → ")
            out += syscall_rows(
                name, run, {"requester": req_kind, "responder": resp_kind}, args.top
            )
    if scheduled:
        out += [
            "",
            "### Wake-ups and their delay (perf sched latency, one run)",
            "",
            "Wake-ups per round trip, and the mean µs each woken thread waited for a CPU.",
            "",
            "| pairing | side | thread | wake-ups | mean delay µs |",
            "|---|---|---|---|---|",
        ]
        for name, run in scheduled.items():
            for (side, label), (n, avg) in sorted(run.delays.items()):
                rows_n = n / run.count
                if rows_n >= 0.05:
                    out.append(f"| {name} | {side} | {label} | {fmt(rows_n)} | {fmt(avg)} |")
    if profiled:
        out += ["", "### Where each thread's samples go (perf record, dwarf call graphs)", ""]
        for name, files in profiled.items():
            for side, data in files.items():
                out += [f"#### {name}: {side}", ""]
                out += profile_summary(data, args.top)
                out.append("")
    print("\n".join(out))
    if profile_dir is not None:
        log(f"perf data kept in {profile_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
