"""natsrs side by side with nats-py and the raw engine (async-nats, no Python).

Starts one nats-server on loopback, then runs every scenario for each client: natsrs and
nats-py under each event loop (``benchmarks/pyworker.py``, one fresh process per
measurement) and the raw engine (``benchmarks/raw``, a Rust program built here with cargo
when missing or stale). Prints one table per event loop with medians of ``--runs`` runs,
the ratios natsrs / nats-py and natsrs / raw engine, and the project's targets::

    python benchmarks/bench.py                       # everything, both loops, 3 runs
    python benchmarks/bench.py --quick --runs 1      # smoke run (seconds)
    python benchmarks/bench.py --scenarios publish,request --loop uvloop --json out.json
    python benchmarks/bench.py --scenarios js-publish,js-publish-async,js-fetch  # JetStream

The server runs with JetStream (memory streams; files in its temporary directory) when a
``js-*`` scenario is selected.

Progress goes to stderr; the tables go to stdout (Markdown pipe tables).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from natsrs._server import NatsServer, find_server_binary

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORKER = HERE / "pyworker.py"
RAW_DIR = HERE / "raw"
RAW_BIN = RAW_DIR / "target" / "release" / "natsrs-raw-bench"

PY_CLIENTS = ("natsrs", "nats-py")
# natsrs with its engine on the event loop's thread (`runtime("loop")`, set for the whole
# worker process through NATSRS_RUNTIME): measured beside the default with --runtime both.
NATSRS_LOOP = "natsrs-loop"
SMALL = 16
MIB = 1 << 20
JS_SIZE = 128


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    higher_is_better: bool = True


@dataclass(frozen=True)
class Target:
    """A project target for one metric: ``ratio`` against ``against``, or an absolute cap."""

    text: str
    vs_nats_py: float | None = None  # natsrs / nats-py must be >= (or <= when lower is better)
    vs_raw: float | None = None  # natsrs / raw must be >=
    at_most: float | None = None  # natsrs's own figure must be <=


@dataclass(frozen=True)
class Case:
    """One measurement: a worker scenario with its counts, and the metrics it reports."""

    scenario: str  # the --scenarios name
    number: int  # the scenario number
    worker: str  # scenario name understood by pyworker.py and the raw program
    title: str
    metrics: tuple[Metric, ...]
    full: tuple[int, int]  # (count, warmup)
    quick: tuple[int, int]
    size: int = SMALL
    once: bool = False  # measured in the first run only (memory: a size, not a timing)
    jetstream: bool = False  # needs a server with JetStream enabled
    targets: dict[str, Target] = field(default_factory=dict)


MSGS = Metric("msgs_per_s", "msgs/s", "msg/s")
MBS = Metric("mb_per_s", "MB/s", "MB/s")
P50 = Metric("p50_us", "p50 µs", "µs", higher_is_better=False)
P99 = Metric("p99_us", "p99 µs", "µs", higher_is_better=False)

# fmt: off
CASES: tuple[Case, ...] = (
    Case(
        "publish", 1, "publish", "publish, await each",
        (MSGS,), (1_000_000, 100_000), (20_000, 2_000),
        targets={"msgs_per_s": Target("≥ 5x nats-py, ≥ 0.6x raw", vs_nats_py=5, vs_raw=0.6)},
    ),
    Case(
        "batch", 2, "batch", "publish, batch API",
        (MSGS,), (1_000_000, 100_000), (20_000, 2_000),
        targets={"msgs_per_s": Target("≥ 0.8x raw", vs_raw=0.8)},
    ),
    Case(
        "subscribe", 3, "subscribe", "pub → sub, async for",
        (MSGS,), (100_000, 10_000), (10_000, 1_000),
        targets={"msgs_per_s": Target("≥ 20x nats-py", vs_nats_py=20)},
    ),
    Case(
        "callback", 4, "callback", "pub → sub, callback*",
        (MSGS,), (200_000, 20_000), (10_000, 1_000),
        targets={"msgs_per_s": Target("≥ 5x nats-py", vs_nats_py=5)},
    ),
    Case(
        "request", 5, "request", "request/reply, sequential",
        (P50, P99, Metric("req_per_s", "req/s", "req/s")),
        (5_000, 500), (300, 50),
        targets={"p50_us": Target("≤ 0.6x nats-py", vs_nats_py=0.6)},
    ),
    Case(
        "inflight", 6, "inflight", "100 requests in flight",
        (Metric("req_per_s", "req/s", "req/s"),), (50_000, 5_000), (2_000, 200),
        targets={"req_per_s": Target("≥ 5x nats-py", vs_nats_py=5)},
    ),
    Case(
        "large", 7, "large_pub", "1 MiB publish",
        (MBS,), (400, 16), (16, 4), size=MIB,
        targets={"mb_per_s": Target("≥ 2x nats-py", vs_nats_py=2)},
    ),
    Case(
        "large", 7, "large_recv", "1 MiB pub → sub",
        (MBS,), (300, 16), (16, 4), size=MIB,
        targets={"mb_per_s": Target("≥ 2x nats-py", vs_nats_py=2)},
    ),
    Case(
        "memory", 8, "memory_stream", "RSS growth, msgs via 1 sub",
        (
            Metric("rss_growth_mb", "growth MB", "MB", higher_is_better=False),
            Metric("rss_after_mb", "RSS after MB", "MB", higher_is_better=False),
        ),
        (1_000_000, 10_000), (20_000, 1_000), once=True,
        targets={"rss_growth_mb": Target("≤ 10 MB", at_most=10.0)},
    ),
    Case(
        "memory", 8, "memory_idle", "RSS per idle subscription",
        (Metric("bytes_per_sub", "bytes/sub", "B", higher_is_better=False),),
        (10_000, 0), (500, 0), once=True,
        targets={"bytes_per_sub": Target("≤ 2 KB", at_most=2048.0)},
    ),
    # JetStream: a fresh memory stream per run, 128-byte payloads. Counts are sized so that
    # nats-py, the slowest, takes a few seconds per run.
    Case(
        "js-publish", 9, "js_publish", "JS publish, await each ack",
        (P50, P99, MSGS), (5_000, 500), (200, 20), size=JS_SIZE, jetstream=True,
        targets={"p50_us": Target("≤ nats-py", vs_nats_py=1.0)},
    ),
    Case(
        "js-publish-async", 10, "js_publish_async", "JS publish_async, acks pipelined",
        (MSGS,), (60_000, 6_000), (2_000, 200), size=JS_SIZE, jetstream=True,
        targets={"msgs_per_s": Target("≥ 5x nats-py, ≥ 0.6x raw", vs_nats_py=5, vs_raw=0.6)},
    ),
    Case(
        "js-fetch", 11, "js_fetch", "JS pull fetch 500, ack each",
        (MSGS,), (30_000, 3_000), (2_000, 500), size=JS_SIZE, jetstream=True,
        targets={"msgs_per_s": Target("≥ 5x nats-py", vs_nats_py=5)},
    ),
    Case(
        "js-ordered", 12, "js_ordered", "JS ordered consumer, cb=",
        (MSGS,), (300_000, 20_000), (2_000, 200), size=JS_SIZE, jetstream=True,
    ),
)
# fmt: on
SCENARIOS = tuple(dict.fromkeys(case.scenario for case in CASES))
CALLBACK_NOTE = "\\* callback subscriptions: nats-py `subscribe(cb=)`; natsrs: {natsrs}."


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the raw engine -------------------------------------------------------------------------


def raw_is_stale() -> bool:
    if not RAW_BIN.exists():
        return True
    built = RAW_BIN.stat().st_mtime
    sources = [RAW_DIR / "Cargo.toml", RAW_DIR / "Cargo.lock", *RAW_DIR.glob("src/**/*.rs")]
    return any(path.exists() and path.stat().st_mtime > built for path in sources)


def ensure_raw() -> Path | None:
    """The raw program, built with cargo if missing or older than its sources."""
    if not raw_is_stale():
        return RAW_BIN
    cargo = shutil.which("cargo")
    if cargo is None:
        if RAW_BIN.exists():
            log("cargo not found: using the existing (possibly stale) raw engine binary")
            return RAW_BIN
        log("cargo not found: skipping the raw engine")
        return None
    command = [
        cargo, "build", "--release",
        "--manifest-path", str(RAW_DIR / "Cargo.toml"),
        "--target-dir", str(RAW_DIR / "target"),
    ]  # fmt: skip
    log(f"building the raw engine: {shlex.join(command)}")
    start = time.monotonic()
    result = subprocess.run(command, stdout=sys.stderr, stderr=sys.stderr, check=False)
    if result.returncode != 0 or not RAW_BIN.exists():
        log(f"cargo failed (exit {result.returncode}): skipping the raw engine")
        return None
    log(f"raw engine built in {time.monotonic() - start:.0f} s")
    return RAW_BIN


# -- running measurements -------------------------------------------------------------------


@dataclass
class Measurement:
    case: Case
    client: str  # natsrs, nats-py, raw
    loop: str | None  # None for raw
    runs: list[dict[str, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unsupported: str | None = None
    notes: dict[str, str] = field(default_factory=dict)
    other_load: list[float] = field(default_factory=list)  # see LoadMeter, one per run

    def median(self, key: str) -> float | None:
        values = [run[key] for run in self.runs if key in run]
        return statistics.median(values) if values else None


def counts(case: Case, quick: bool) -> tuple[int, int]:
    return case.quick if quick else case.full


class LoadMeter:
    """CPU time that other processes used during a measurement, in CPUs (0.0 .. nproc).

    Busy time of the whole machine (``/proc/stat``, including steal) minus what this driver,
    the measured child (``RUSAGE_CHILDREN``) and the nats-server process used. On a shared
    machine a build or a test suite running next door shows up here; the driver re-runs a
    measurement that was disturbed more than ``--busy-threshold``.
    """

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid
        self._tick = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0
        self._start: tuple[float, float, float, float, float] | None = None

    def _machine_busy(self) -> float:
        fields = _read("/proc/stat").split("\n", 1)[0].split()[1:]
        if len(fields) < 8:
            return 0.0
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
        return (user + nice + system + irq + softirq + steal) / self._tick

    def _server_cpu(self) -> float:
        if self.server_pid is None:
            return 0.0
        stat = _read(f"/proc/{self.server_pid}/stat")
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) < 13:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / self._tick

    def _sample(self) -> tuple[float, float, float, float, float]:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (
            time.monotonic(),
            self._machine_busy(),
            children.ru_utime + children.ru_stime,
            self._server_cpu(),
            time.process_time(),
        )

    def start(self) -> None:
        self._start = self._sample()

    def stop(self) -> float | None:
        if self._start is None or not Path("/proc/stat").exists():
            return None
        end = self._sample()
        wall, busy, child, server, own = (b - a for a, b in zip(self._start, end))
        if wall <= 0:
            return None
        return max(0.0, busy - child - server - own) / wall


@dataclass
class Outcome:
    metrics: dict[str, float] | None = None
    error: str | None = None
    unsupported: str | None = None  # the client has no API for the scenario
    notes: dict[str, str] = field(default_factory=dict)


def measure_once(command: list[str], timeout: float, env: dict[str, str] | None) -> Outcome:
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False, env=env
        )
    except subprocess.TimeoutExpired:
        return Outcome(error=f"timed out after {timeout:g} s")
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        tail = " | ".join(result.stderr.strip().splitlines()[-3:])
        return Outcome(error=f"exit {result.returncode}: {tail}")
    try:
        line = json.loads(lines[-1])
        metrics = {str(k): float(v) for k, v in line["metrics"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return Outcome(error=f"bad output {lines[-1][:200]!r}: {exc}")
    notes = {str(k): str(v) for k, v in (line.get("notes") or {}).items()}
    if line.get("unsupported"):
        return Outcome(unsupported=str(line["unsupported"]), notes=notes)
    return Outcome(metrics=metrics, notes=notes)


def worker_command(
    case: Case, client: str, loop: str | None, url: str, quick: bool, raw: Path | None
) -> list[str]:
    count, warmup = counts(case, quick)
    tail = ["--url", url, "--count", str(count), "--warmup", str(warmup), "--size", str(case.size)]
    if client == "raw":
        assert raw is not None
        return [str(raw), case.worker, *tail]
    assert loop is not None
    client = "natsrs" if client == NATSRS_LOOP else client
    return [
        sys.executable, str(WORKER),
        "--client", client, "--loop", loop, "--scenario", case.worker, *tail,
    ]  # fmt: skip


def worker_env(client: str) -> dict[str, str] | None:
    """The worker's environment: the driver's, with NATSRS_RUNTIME chosen for natsrs."""
    if client not in ("natsrs", NATSRS_LOOP):
        return None
    env = dict(os.environ)
    env["NATSRS_RUNTIME"] = "loop" if client == NATSRS_LOOP else "threads"
    return env


def describe(metrics: dict[str, float], case: Case) -> str:
    return ", ".join(f"{m.label} {fmt(metrics.get(m.key), m)}" for m in case.metrics)


def run_all(
    cases: Sequence[Case],
    clients: Sequence[str],
    loops: Sequence[str],
    raw: Path | None,
    url: str,
    runs: int,
    quick: bool,
    timeout: float,
    meter: LoadMeter,
    busy_threshold: float,
    busy_retries: int,
) -> list[Measurement]:
    table: dict[tuple[str, str, str | None], Measurement] = {}
    for case in cases:
        targets: list[tuple[str, str | None]] = []
        targets += [(client, loop) for loop in loops for client in clients]
        if raw is not None:
            targets.append(("raw", None))
        for client, loop in targets:
            table[(case.worker, client, loop)] = Measurement(case, client, loop)
    # Runs are interleaved (run 1 of everything, then run 2, ...) so that drift in the
    # machine's load affects every client alike.
    for run in range(runs):
        for case in cases:
            if case.once and run > 0:
                continue
            for (worker, client, loop), measurement in table.items():
                if worker != case.worker or measurement.unsupported:
                    continue
                command = worker_command(case, client, loop, url, quick, raw)
                where = client if loop is None else f"{client}/{loop}"
                prefix = f"[run {run + 1}/{runs}] {case.worker:<13} {where:<15}"
                # A measurement disturbed by other processes is repeated (after a pause);
                # the least disturbed attempt is kept.
                best: tuple[float, dict[str, float]] | None = None
                for attempt in range(busy_retries + 1):
                    meter.start()
                    outcome = measure_once(command, timeout, worker_env(client))
                    load = meter.stop()
                    measurement.notes.update(outcome.notes)
                    if outcome.unsupported:
                        measurement.unsupported = outcome.unsupported
                        log(f"{prefix} n/a ({outcome.unsupported})")
                        break
                    metrics = outcome.metrics
                    if metrics is None:
                        measurement.errors.append(outcome.error or "failed")
                        log(f"{prefix} ERROR {outcome.error}")
                        break
                    note = "" if load is None else f"  (other load {load:.2f} CPU)"
                    log(f"{prefix} {describe(metrics, case)}{note}")
                    if best is None or (load or 0.0) < best[0]:
                        best = (load or 0.0, metrics)
                    # Memory figures do not depend on the machine's load: never repeated.
                    quiet = load is None or busy_threshold <= 0 or load <= busy_threshold
                    if quiet or case.once:
                        break
                    if attempt < busy_retries:
                        log(f"{prefix} disturbed by other processes: waiting, then again")
                        time.sleep(3.0)
                if best is not None:
                    measurement.other_load.append(best[0])
                    measurement.runs.append(best[1])
    return list(table.values())


# -- the report -----------------------------------------------------------------------------


def fmt(value: float | None, metric: Metric) -> str:
    if value is None:
        return "—"
    if metric.unit in ("msg/s", "req/s"):
        if value >= 1e6:
            return f"{value / 1e6:.2f} M"
        return f"{value / 1e3:.1f} k"
    if metric.unit == "µs":
        return f"{value:.0f}"
    if metric.unit == "MB/s":
        return f"{value:.0f}"
    if metric.unit == "MB":
        return f"{value:.1f}"
    return f"{value:,.0f}"


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def verdict(
    target: Target, mine: float | None, vs_py: float | None, vs_raw: float | None, metric: Metric
) -> str:
    checks: list[bool | None] = []
    if target.vs_nats_py is not None:
        if vs_py is None:
            checks.append(None)
        elif metric.higher_is_better:
            checks.append(vs_py >= target.vs_nats_py)
        else:
            checks.append(vs_py <= target.vs_nats_py)
    if target.vs_raw is not None:
        checks.append(None if vs_raw is None else vs_raw >= target.vs_raw)
    if target.at_most is not None:
        checks.append(None if mine is None else mine <= target.at_most)
    if any(check is False for check in checks):
        return "**no**"
    if any(check is None for check in checks):
        return "n/a"
    return "yes"


def build_rows(
    measurements: Sequence[Measurement], cases: Sequence[Case], loops: Sequence[str]
) -> list[dict[str, Any]]:
    index = {(m.case.worker, m.client, m.loop): m for m in measurements}
    rows: list[dict[str, Any]] = []
    for loop in loops:
        for case in cases:
            raw = index.get((case.worker, "raw", None))
            mine = index.get((case.worker, "natsrs", loop))
            on_loop = index.get((case.worker, NATSRS_LOOP, loop))
            py = index.get((case.worker, "nats-py", loop))
            for metric in case.metrics:
                natsrs_value = mine.median(metric.key) if mine else None
                loop_value = on_loop.median(metric.key) if on_loop else None
                py_value = py.median(metric.key) if py else None
                raw_value = raw.median(metric.key) if raw else None
                vs_py = ratio(natsrs_value, py_value)
                vs_raw = ratio(natsrs_value, raw_value)
                target = case.targets.get(metric.key)
                rows.append(
                    {
                        "loop": loop,
                        "number": case.number,
                        "scenario": case.scenario,
                        "case": case.worker,
                        "title": case.title,
                        "metric": metric.key,
                        "unit": metric.unit,
                        "natsrs": natsrs_value,
                        "nats_py": py_value,
                        "raw": raw_value,
                        "natsrs_unsupported": mine.unsupported if mine else None,
                        "nats_py_unsupported": py.unsupported if py else None,
                        "natsrs_notes": mine.notes if mine else {},
                        "natsrs_vs_nats_py": vs_py,
                        "natsrs_vs_raw": vs_raw,
                        "natsrs_loop": loop_value,
                        "natsrs_loop_vs_nats_py": ratio(loop_value, py_value),
                        "natsrs_loop_vs_raw": ratio(loop_value, raw_value),
                        "natsrs_loop_vs_natsrs": ratio(loop_value, natsrs_value),
                        "target": target.text if target else None,
                        "holds": (
                            verdict(target, natsrs_value, vs_py, vs_raw, metric).strip("*")
                            if target
                            else None
                        ),
                    }
                )
    return rows


def pipe_table(lines: Sequence[Sequence[str]], numeric: set[int]) -> list[str]:
    """A Markdown pipe table, aligned for reading in a terminal too."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]

    def row(line: Sequence[str]) -> str:
        cells = (
            text.rjust(widths[i]) if i in numeric else text.ljust(widths[i])
            for i, text in enumerate(line)
        )
        return "| " + " | ".join(cells) + " |"

    rule = "|".join(
        "-" * (w + 1) + ":" if i in numeric else "-" * (w + 2) for i, w in enumerate(widths)
    )
    return [row(lines[0]), f"|{rule}|", *(row(line) for line in lines[1:])]


def render(
    rows: Sequence[dict[str, Any]],
    cases: Sequence[Case],
    loops: Sequence[str],
    have_py: bool,
    have_raw: bool,
) -> str:
    by_key = {(c.worker, m.key): (c, m) for c in cases for m in c.metrics}
    header = [
        "#", "scenario", "metric", "natsrs", "nats-py", "raw engine",
        "natsrs / nats-py", "natsrs / raw", "target", "holds",
    ]  # fmt: skip
    with_loop = any(r["natsrs_loop"] is not None for r in rows)
    if with_loop:
        header += ["natsrs loop", "loop / natsrs", "loop / nats-py", "loop / raw", "holds (loop)"]
    out: list[str] = []
    for loop in loops:
        lines = [header]
        for row in (r for r in rows if r["loop"] == loop):
            case, metric = by_key[(row["case"], row["metric"])]
            target = case.targets.get(metric.key)
            natsrs_cell = fmt(row["natsrs"], metric)
            if row["natsrs_unsupported"]:
                natsrs_cell = f"n/a ({row['natsrs_unsupported']} yet)"
            py_cell = "not installed" if not have_py else fmt(row["nats_py"], metric)
            if row["nats_py_unsupported"]:
                py_cell = f"n/a ({row['nats_py_unsupported']})"
            raw_cell = fmt(row["raw"], metric) if have_raw else "skipped"
            loop_cells = [
                fmt(row["natsrs_loop"], metric),
                fmt_ratio(row["natsrs_loop_vs_natsrs"]),
                fmt_ratio(row["natsrs_loop_vs_nats_py"]),
                fmt_ratio(row["natsrs_loop_vs_raw"]),
                verdict(
                    target,
                    row["natsrs_loop"],
                    row["natsrs_loop_vs_nats_py"],
                    row["natsrs_loop_vs_raw"],
                    metric,
                )
                if target
                else "",
            ]
            lines.append(
                [
                    str(case.number),
                    case.title,
                    metric.label,
                    natsrs_cell,
                    py_cell,
                    raw_cell,
                    fmt_ratio(row["natsrs_vs_nats_py"]),
                    fmt_ratio(row["natsrs_vs_raw"]),
                    target.text if target else "",
                    verdict(
                        target,
                        row["natsrs"],
                        row["natsrs_vs_nats_py"],
                        row["natsrs_vs_raw"],
                        metric,
                    )
                    if target
                    else "",
                    *(loop_cells if with_loop else []),
                ]
            )
        out.append(f"### event loop: {loop}\n")
        numeric = {3, 4, 5, 6, 7, *((10, 11, 12, 13) if with_loop else ())}
        out.extend(pipe_table(lines, numeric=numeric))
        out.append("")
    callback_modes = sorted(
        {r["natsrs_notes"]["callback"] for r in rows if "callback" in r["natsrs_notes"]}
    )
    if callback_modes:
        out.append(CALLBACK_NOTE.format(natsrs=" / ".join(callback_modes)))
        out.append("")
    return "\n".join(out)


# -- machine facts --------------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _output(command: list[str]) -> str | None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def machine(server_binary: str) -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or None,
    )
    mem_kib = next(
        (
            int(line.split()[1])
            for line in _read("/proc/meminfo").splitlines()
            if line.startswith("MemTotal:")
        ),
        None,
    )
    extension = importlib.util.find_spec("natsrs._natsrs")
    built = None
    if extension is not None and extension.origin:
        mtime = Path(extension.origin).stat().st_mtime
        built = datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc)
    commit = _output(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = _output(["git", "-C", str(REPO), "status", "--porcelain", "--", "src", "Cargo.toml"])
    return {
        "nproc": os.cpu_count(),
        "loadavg": _read("/proc/loadavg").split()[:3],
        "cpu": cpu,
        "ram_gib": round(mem_kib / 1024**2, 1) if mem_kib else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "nats_server": _output([server_binary, "--version"]),
        "natsrs": _version("natsrs"),
        "natsrs_commit": commit,
        "natsrs_src_modified": bool(dirty),
        "natsrs_extension_built": built.isoformat(timespec="seconds") if built else None,
        "nats_py": _version("nats-py"),
        "uvloop": _version("uvloop"),
    }


# -- command line ---------------------------------------------------------------------------


def parse_scenarios(values: Sequence[str]) -> list[Case]:
    names: list[str] = []
    for value in values:
        for name in value.replace(",", " ").split():
            if name.isdigit() and 1 <= int(name) <= len(SCENARIOS):
                name = SCENARIOS[int(name) - 1]
            if name == "all":
                names.extend(SCENARIOS)
            elif name in SCENARIOS:
                names.append(name)
            else:
                raise SystemExit(f"unknown scenario {name!r}: choose from {', '.join(SCENARIOS)}")
    wanted = set(names) if names else set(SCENARIOS)
    return [case for case in CASES if case.scenario in wanted]


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--scenarios",
        nargs="+",
        default=[],
        metavar="NAME",
        help=f"scenarios to run, names or numbers, comma- or space-separated "
        f"(default: all = {', '.join(SCENARIOS)})",
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="runs per measurement; the median is shown (3)"
    )
    parser.add_argument(
        "--loop",
        choices=("asyncio", "uvloop", "both"),
        default=None,
        help="event loop for the Python clients (default: both when uvloop is installed)",
    )
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    parser.add_argument("--no-raw", action="store_true", help="skip the raw engine (no cargo)")
    parser.add_argument("--no-nats-py", action="store_true", help="skip nats-py")
    parser.add_argument(
        "--runtime",
        choices=("threads", "loop", "both"),
        default="threads",
        help="where natsrs's engine runs (ConnectOptions.runtime): its tokio threads (the "
        "default), the event loop's thread, or both side by side as two columns",
    )
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds per measurement (300, quick: 60)"
    )
    parser.add_argument(
        "--busy-threshold",
        type=float,
        default=0.3,
        metavar="CPUS",
        help="repeat a measurement during which other processes used more than this many "
        "CPUs on average (0.3; 0 disables)",
    )
    parser.add_argument(
        "--busy-retries", type=int, default=2, help="repeats of a disturbed measurement (2)"
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be >= 1")

    # SIGTERM unwinds like Ctrl-C, so the server (and a running worker) are stopped.
    signal.signal(signal.SIGTERM, _terminate)
    cases = parse_scenarios(args.scenarios)
    have_uvloop = importlib.util.find_spec("uvloop") is not None
    if args.loop in (None, "both"):
        loops = ["asyncio", "uvloop"] if have_uvloop else ["asyncio"]
        if args.loop == "both" and not have_uvloop:
            log("uvloop is not installed: running under asyncio only")
    else:
        if args.loop == "uvloop" and not have_uvloop:
            parser.error("uvloop is not installed")
        loops = [args.loop]
    have_py = not args.no_nats_py and importlib.util.find_spec("nats") is not None
    if not args.no_nats_py and not have_py:
        log("nats-py is not installed: measuring natsrs and the raw engine only")
    clients = [c for c in PY_CLIENTS if c != "nats-py" or have_py]
    if args.runtime == "loop":
        clients[0] = NATSRS_LOOP
    elif args.runtime == "both":
        clients.insert(1, NATSRS_LOOP)
    raw = None if args.no_raw else ensure_raw()
    timeout = args.timeout or (60.0 if args.quick else 300.0)

    facts = machine(find_server_binary())
    started = datetime.datetime.now(datetime.timezone.utc)
    log(
        f"scenarios: {', '.join(dict.fromkeys(c.scenario for c in cases))}; loops: "
        f"{', '.join(loops)}; clients: {', '.join(clients)}"
        f"{', raw' if raw else ''}; runs: {args.runs}{'; quick' if args.quick else ''}"
    )
    with NatsServer(monitor=False, jetstream=any(case.jetstream for case in cases)) as server:
        log(f"{facts['nats_server']} at {server.url}")
        meter = LoadMeter(server.pid)
        measurements = run_all(
            cases,
            clients,
            loops,
            raw,
            server.url,
            args.runs,
            args.quick,
            timeout,
            meter,
            args.busy_threshold,
            args.busy_retries,
        )
    elapsed = (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds()
    facts["loadavg_after"] = _read("/proc/loadavg").split()[:3]
    log(f"done in {elapsed:.0f} s")

    rows = build_rows(measurements, cases, loops)
    print(render(rows, cases, loops, have_py, raw is not None))
    loads = [load for m in measurements for load in m.other_load]
    if loads:
        facts["other_load_cpus"] = {
            "median": round(statistics.median(loads), 3),
            "max": round(max(loads), 3),
        }
        policy = (
            f"measurements above {args.busy_threshold:g} CPU were repeated up to "
            f"{args.busy_retries} times, keeping the least disturbed"
            if args.busy_threshold > 0 and args.busy_retries > 0
            else "disturbed measurements were not repeated"
        )
        print(
            f"Load from other processes during the kept measurements: median "
            f"{statistics.median(loads):.2f} CPU, max {max(loads):.2f} CPU "
            f"(of {os.cpu_count()}; {policy})."
        )

    if args.json:
        document = {
            "meta": {
                **facts,
                "command": shlex.join(["python", *sys.argv]),
                "started": started.isoformat(timespec="seconds"),
                "seconds": round(elapsed, 1),
                "quick": args.quick,
                "runs": args.runs,
                "loops": loops,
                "clients": [*clients, *(["raw"] if raw else [])],
            },
            "results": [
                {
                    "scenario": m.case.scenario,
                    "case": m.case.worker,
                    "client": m.client,
                    "loop": m.loop,
                    "count": counts(m.case, args.quick)[0],
                    "size": m.case.size,
                    "metrics": {
                        metric.key: {
                            "unit": metric.unit,
                            "median": m.median(metric.key),
                            "runs": [run[metric.key] for run in m.runs if metric.key in run],
                        }
                        for metric in m.case.metrics
                    },
                    "errors": m.errors,
                    "other_load_cpus": [round(load, 3) for load in m.other_load],
                }
                for m in measurements
            ],
            "rows": rows,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        log(f"wrote {args.json}")
    failed = sum(bool(m.errors) and not m.runs for m in measurements)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
