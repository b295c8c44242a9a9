"""tvm-tune on a fleet device: candidates built here, measured there over TVM RPC (127.0.0.1 only, servers stopped
by PID); the workbench tunes a tvm-tune variant on the device it measures it on; bad devices fail fast and clearly."""
from __future__ import annotations

import json
import math
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

import models
from edgelab import compare, variant
from edgelab import model as M
from edgelab.errors import ConfigError, RuntimeBackendError
from edgelab.passes import tvm as tvm_passes
from edgelab.runners import MeasureConfig, remote
from tests.tvm.conftest import cache_entries, free_port

pytestmark = [pytest.mark.tvm, pytest.mark.slow]
QUICK = MeasureConfig(batch_sizes=(1,), min_runs=20, min_time_s=0.2, max_time_s=3, warmup_runs=2, eval_samples=32)
TUNE = "tvm-tune:trials=6"  # the trial budget ends it (default 10 minutes)


def _records(db: Path) -> list:
    return [json.loads(line) for line in (db / "database_tuning_record.json").open()]


def _loaded_on_server(log: Path) -> int:
    """Candidate libraries the server loaded (its log has one `load_module .../cand.so` line per measurement)."""
    return sum("load_module" in line and "cand.so" in line for line in log.read_text().splitlines())


def test_compare_tunes_on_the_device_it_measures(ws, tiny, fleet, tmp_path):
    tracker, _ = fleet
    events = []
    report = compare(tiny, recipes=["fp32", TUNE], measure=QUICK, store=False, progress=events.append,
                     devices=[f"{tracker}/dev-a"])
    row = report.variants[1]
    cell = row["remote"]["dev-a"]
    assert row["id"] == TUNE and row["error"] is None and cell["error"] is None
    assert cell["latency_ms"]["p50"] > 0 and cell["measured_on"] == "measured on dev-a"
    assert any(e["stage"] == "tune" and e["message"].startswith("dev-a: measuring candidates on device 'dev-a'")
               for e in events)
    # server-side evidence: dev-a loaded the candidates, dev-b (not asked) none
    assert _loaded_on_server(tmp_path / "dev-a.log") >= 6 and _loaded_on_server(tmp_path / "dev-b.log") == 0

    # the same recipe with device= is the variant the workbench built for dev-a (cache hit), tuned on dev-a
    v = variant.build(M.load(tiny), f"{TUNE},device={tracker}/dev-a")
    meta = json.loads(Path(v.path).with_suffix(".json").read_text())
    assert v.cached and meta["tuned"] and meta["tuned_on"] == "dev-a" and meta["tuning_records"] >= 6

    # its own database, keyed by the device key besides model + target; records measured there are finite
    simplified = Path(v.path).parent / "simplified.onnx"
    host = tvm_passes.resolve_target(None)
    dev_key = tvm_passes.tune_key(simplified, host, 1, True, "NHWC", device_key="dev-a")
    local_key = tvm_passes.tune_key(simplified, host, 1, True, "NHWC")
    assert dev_key != local_key != tvm_passes.tune_key(simplified, host, 1, True, "NHWC", device_key="dev-b")
    tune_dir = ws / "cache" / "tune"
    assert sorted(p.name for p in tune_dir.iterdir()) == sorted([dev_key[:24], local_key[:24]])
    secs = [r[1][1] for r in _records(tune_dir / dev_key[:24]) if r[1][1]]
    assert len(secs) >= 6 and all(math.isfinite(s[0]) and 0 < s[0] < 1 for s in secs)

    from edgelab.runners import tvm as rt  # the host-target library runs here too: same outputs as onnxruntime

    run, _ = rt.load(v.path, 2)
    x = np.random.default_rng(3).standard_normal((2, 1, 16, 16)).astype(np.float32)
    np.testing.assert_allclose(run({"input": x})[0], models.ort_outputs(tiny, x), atol=1e-4)


def test_cli_compare_passes_devices(monkeypatch):
    import edgelab
    from edgelab.cli import build_parser, run_compare_args

    seen = {}
    monkeypatch.setattr(edgelab, "load", lambda path: path)
    monkeypatch.setattr(edgelab, "compare", lambda model, **kw: seen.update(kw))
    a = build_parser().parse_args(["compare", "m.onnx", "--devices", "127.0.0.1:9190/a,127.0.0.1:9190/b@rpi5"])
    run_compare_args(a, None)
    assert seen["devices"] == ["127.0.0.1:9190/a", "127.0.0.1:9190/b@rpi5"]


def test_device_lost_mid_tuning_keeps_records_and_resumes(ws, tmp_path, fleet):
    tracker, procs = fleet
    m = M.load(models.tiny_cnn(tmp_path / "t.onnx", channels=4, size=8))
    recipe = f"tvm-tune:trials=8,minutes=3,device={tracker}/dev-a,device_timeout=5"
    msgs: list[str] = []

    def progress(msg):
        msgs.append(msg)
        if msg.startswith("searched kernel 3/") and procs[1].poll() is None:
            remote.stop(procs[1])  # dev-a goes away while the first round's candidates are measured

    t0 = time.perf_counter()
    with pytest.raises(RuntimeBackendError, match=r"device 'dev-a' was lost during tuning: no device with key "
                                                  r"'dev-a'.*edgelab device serve.*records kept.*resume"):
        variant.build(m, recipe, progress=progress)
    assert time.perf_counter() - t0 < 60
    assert cache_entries(ws) == []  # no variant; the database committed whole, nothing temporary left
    dbs = list((ws / "cache" / "tune").iterdir())
    assert len(dbs) == 1 and not dbs[0].name.startswith(".tmp")
    kept = len(_records(dbs[0]))
    assert kept >= 1

    procs.append(remote.start_server(tracker, "dev-a", port=free_port(), log=str(tmp_path / "dev-a2.log")))
    assert remote.wait_keys("127.0.0.1", int(tracker.rsplit(":", 1)[1]), ["dev-a"], 90)
    msgs.clear()
    v = variant.build(m, recipe, progress=msgs.append)
    assert any(f"reusing {kept} tuning records" in x for x in msgs), msgs
    assert json.loads(Path(v.path).with_suffix(".json").read_text())["tuned_on"] == "dev-a"
    assert _loaded_on_server(tmp_path / "dev-a2.log") >= 1


def test_bad_devices_fail_fast_with_what_to_do(ws, tiny, fleet):
    tracker, procs = fleet
    m = M.load(tiny)
    with pytest.raises(ConfigError, match="bad device 'nohost'"):
        variant.build(m, "tvm-tune:device=nohost")
    t0 = time.perf_counter()
    with pytest.raises(RuntimeBackendError, match=r"tracker 127.0.0.1:\d+ is unreachable.*rpc_tracker"):
        variant.build(m, f"tvm-tune:trials=2,device=127.0.0.1:{free_port()}/x")
    with pytest.raises(RuntimeBackendError, match=r"no device with key 'nope'.*registered: dev-a, dev-b.*"
                                                  r"edgelab device serve"):
        variant.build(m, f"tvm-tune:trials=2,device={tracker}/nope")
    if tvm_passes.shutil.which("aarch64-linux-gnu-g++"):  # an x86 server announced as a Pi 5: refused before tuning
        with pytest.raises(ConfigError, match=r"device 'dev-b' is x86_64 but the tuning target 'rpi5' is aarch64"):
            variant.build(m, f"tvm-tune:trials=2,device={tracker}/dev-b@rpi5")
    assert time.perf_counter() - t0 < 30
    os.killpg(procs[2].pid, signal.SIGSTOP)  # dev-b registered but never answers: no free device in time
    try:
        with pytest.raises(RuntimeBackendError, match=r"device 'dev-b' did not accept a session within 3 s"):
            variant.build(m, f"tvm-tune:trials=2,device={tracker}/dev-b,device_timeout=3")
    finally:
        os.killpg(procs[2].pid, signal.SIGCONT)
    assert cache_entries(ws) == [] and not (ws / "cache" / "tune").exists()


def test_cancel_reaches_tuning_on_a_device(ws, tiny, fleet):
    """The workbench's Cancel (compare's `cancel`) stops a tune running on a device, not only local work."""
    import threading

    tracker, _ = fleet
    cancel, when = threading.Event(), []

    def progress(e):
        if e.get("stage") == "tune" and str(e.get("message", "")).startswith("dev-a: ") and not cancel.is_set():
            when.append(time.monotonic())
            cancel.set()

    report = compare(tiny, recipes=["fp32", "tvm-tune:trials=500,minutes=0.5"], measure=QUICK, store=False,
                     progress=progress, cancel=cancel, devices=[f"{tracker}/dev-a"])
    assert when, "the device tune never started"
    assert report.status == "interrupted"
    assert time.monotonic() - when[0] < 20  # well inside the 30 s tuning budget it would otherwise use
