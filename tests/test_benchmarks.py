"""Smoke test of the benchmark suite (``benchmarks/bench.py``): it runs and reports figures.

Only that the driver works end to end, core and JetStream scenarios: no timing is asserted
(the figures depend on the machine), and the raw engine is skipped (``--no-raw``) so no
Rust build is needed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench.py"


@pytest.mark.timeout(120)
def test_quick_run_reports_positive_natsrs_figures(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    command = [
        sys.executable, str(BENCH),
        "--quick", "--runs", "1", "--no-raw", "--loop", "asyncio",
        "--scenarios", "publish,request", "--busy-threshold", "0", "--json", str(out),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=110, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "publish, await each" in result.stdout

    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["meta"]["quick"] is True
    results = {(r["case"], r["client"]): r for r in document["results"]}
    assert {case for case, _ in results} == {"publish", "request"}
    assert all(client != "raw" for _, client in results)

    publish = results[("publish", "natsrs")]
    assert publish["errors"] == []
    assert publish["metrics"]["msgs_per_s"]["median"] > 0
    request = results[("request", "natsrs")]
    assert request["errors"] == []
    for key in ("p50_us", "p99_us", "req_per_s"):
        assert request["metrics"][key]["median"] > 0, key
    rows = [row for row in document["rows"] if row["case"] == "publish"]
    assert rows and rows[0]["natsrs"] > 0


@pytest.mark.timeout(120)
def test_quick_jetstream_run_reports_figures_for_both_clients(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    command = [
        sys.executable, str(BENCH),
        "--quick", "--runs", "1", "--no-raw", "--loop", "asyncio",
        "--scenarios", "js-publish,js-publish-async,js-fetch,js-ordered",
        "--busy-threshold", "0", "--json", str(out),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=110, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "JS pull fetch 500, ack each" in result.stdout

    document = json.loads(out.read_text(encoding="utf-8"))
    results = {(r["case"], r["client"]): r for r in document["results"]}
    cases = {"js_publish", "js_publish_async", "js_fetch", "js_ordered"}
    assert {case for case, _ in results} == cases
    clients = {"natsrs", "nats-py"} & set(document["meta"]["clients"])
    assert "natsrs" in clients
    # A natsrs without an ordered consumer reports that instead of a figure.
    unsupported = {
        (row["case"], "natsrs")
        for row in document["rows"]
        if row["natsrs_unsupported"] == "no ordered consumer"
    }
    assert unsupported <= {("js_ordered", "natsrs")}
    expected = {"js_publish": ("p50_us", "p99_us", "msgs_per_s")}
    for case in cases:
        for client in clients:
            outcome = results[(case, client)]
            assert outcome["errors"] == [], (case, client)
            if (case, client) in unsupported:
                assert outcome["metrics"]["msgs_per_s"]["median"] is None
                continue
            for key in expected.get(case, ("msgs_per_s",)):
                assert outcome["metrics"][key]["median"] > 0, (case, client, key)


@pytest.mark.timeout(120)
def test_probes_report_a_rate_for_each_probe() -> None:
    probes = BENCH.parent / "probes.py"
    result = subprocess.run(
        [sys.executable, str(probes), "--rounds", "2"],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["pubcall", "consume"]
    assert all(float(line.split("median ")[1].split(" ")[0]) > 0 for line in lines)


@pytest.mark.timeout(120)
def test_jsprobe_reports_per_call_costs() -> None:
    jsprobe = BENCH.parent / "jsprobe.py"
    command = [
        sys.executable, str(jsprobe), "natsrs",
        "--rounds", "2", "--burst", "200", "--core-pipeline", "500",
    ]  # fmt: skip
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line, pipeline = result.stdout.splitlines()
    assert line.startswith("natsrs: call ")
    assert float(line.split("call ")[1].split(" ")[0]) > 0
    assert float(line.split("loop thread CPU ")[1].split(" ")[0]) > 0
    assert pipeline.startswith("natsrs core pipeline: ")
    assert float(pipeline.split(": ")[1].split(" ")[0]) > 0
