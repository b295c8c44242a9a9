"""Fleet over TVM RPC on 127.0.0.1 only: a real tracker and two `edgelab device serve` servers, stopped by PID."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest

from edgelab import compare
from edgelab.runners import MeasureConfig, remote
from tests.tvm.conftest import free_port

pytestmark = [pytest.mark.tvm, pytest.mark.slow]
QUICK = MeasureConfig(batch_sizes=(1,), min_runs=20, min_time_s=0.2, max_time_s=3, warmup_runs=2, eval_samples=32)


def test_remote_figures_arrive_labelled(ws, tiny, fleet):
    tracker, _ = fleet
    events = []
    report = compare(tiny, recipes=["fp32", "tvm"], measure=QUICK, store=False, progress=events.append,
                     devices=[f"{tracker}/dev-a", {"tracker": tracker, "key": "dev-b"}, f"{tracker}/gone"])
    assert report.status == "complete"
    for v in report.variants:
        assert v["error"] is None and v["latency_ms"]["p50"] > 0  # local figures unaffected
        for key in ("dev-a", "dev-b"):
            cell = v["remote"][key]
            assert cell["error"] is None and cell["measured_on"] == f"measured on {key}"
            assert cell["latency_ms"]["runs"] == 50 and cell["latency_ms"]["p50"] > 0
        assert "no device with key 'gone'" in v["remote"]["gone"]["error"]
    assert any("device gone" in w for w in report.warnings)
    assert any(e.get("stage") == "remote" for e in events)
    from edgelab.report import Report

    back = Report.from_json(json.loads(json.dumps(report.to_json())))  # survives the JSON contract round trip
    assert back.variants[1]["remote"]["dev-a"]["measured_on"] == "measured on dev-a"


def test_unreachable_tracker_is_a_cell_error_and_fast(ws, tiny):
    t0 = time.perf_counter()
    res = remote.measure([("fp32", tiny, "onnxruntime")], [f"127.0.0.1:{free_port()}/x"])
    assert "unreachable" in res["x"]["fp32"]["error"] and time.perf_counter() - t0 < 10


def test_device_that_stops_answering_times_out(ws, tiny, fleet):
    tracker, procs = fleet
    os.killpg(procs[1].pid, signal.SIGSTOP)  # dev-a freezes: registered but never answers
    try:
        t0 = time.perf_counter()
        res = remote.measure([("fp32", tiny, "onnxruntime")], [f"{tracker}/dev-a", f"{tracker}/dev-b"],
                             runs=5, timeout_s=5)
        assert res["dev-a"]["fp32"]["error"] and time.perf_counter() - t0 < 60
        assert res["dev-b"]["fp32"]["error"] is None  # the run went on with the other device
    finally:
        os.killpg(procs[1].pid, signal.SIGCONT)


def test_serve_refuses_unreachable_tracker(tmp_path):
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "edgelab.cli", "device", "serve", "--tracker",
                          f"127.0.0.1:{free_port()}", "--key", "k", "--host", "127.0.0.1"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and "tracker 127.0.0.1" in res.stderr and "unreachable" in res.stderr
