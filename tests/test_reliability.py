"""Interrupted builds, a full disk and a read-only workspace: clear errors, nothing half-written, next run resumes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import edgelab as el
from edgelab.store import Store

ROOT = Path(__file__).resolve().parents[1]


def _tmp_entries(home: Path) -> list[str]:
    cache = home / "cache"
    return [str(p) for p in cache.rglob(".tmp-*")] if cache.exists() else []


def test_sigint_mid_quantization_leaves_no_half_built_variant(tmp_path, workspace):
    """Ctrl-C while int8-static calibrates: the finished variants stay cached, nothing half-written remains,
    the run is stored as interrupted, and the next run reuses what was built."""
    from edgelab.demo import digits_model_path

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # 2000 calibration samples of the demo CNN take seconds: long enough to interrupt in the middle
    proc = subprocess.Popen([sys.executable, "-m", "edgelab.cli", "compare", str(digits_model_path()), "--recipes",
                             "fp32,fp16,int8-static:samples=2000", "--quick", "--batch", "1"],
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    err = ""
    while True:
        line = proc.stderr.readline()
        err += line
        if "[build 3/3] int8-static" in line or not line:
            break
    time.sleep(1.0)  # inside quantize_static's calibration now
    proc.send_signal(signal.SIGINT)
    out, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130, err + rest
    assert _tmp_entries(workspace) == []
    runs = Store().list_runs()
    assert len(runs) == 1 and runs[0]["status"] == "interrupted"
    # what finished is reused by the next build: fp16 comes from the cache
    m = el.load(digits_model_path())
    assert el.build(m, "fp16").cached


def test_full_disk_is_a_clear_error_and_loses_nothing(tmp_path, workspace, cnn):
    """A file-size limit makes every large write fail as on a full disk (EFBIG instead of ENOSPC)."""
    code = f"""
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
import edgelab as el
from edgelab.store import Store
m = el.load({str(cnn)!r})
first = el.compare(m, recipes=["fp32"], measure=el.MeasureConfig(batch_sizes=(1,), min_runs=5, min_time_s=0.05))
resource.setrlimit(resource.RLIMIT_FSIZE, (512, resource.RLIM_INFINITY))
try:
    el.build(m, "fp16")
except el.EdgelabError as e:
    print("BUILD", type(e).__name__, str(e).splitlines()[0])
try:
    el.compare(m, recipes=["fp32", "int8-dynamic"],
               measure=el.MeasureConfig(batch_sizes=(1,), min_runs=5, min_time_s=0.05))
except el.EdgelabError as e:
    print("COMPARE", type(e).__name__, str(e).splitlines()[0])
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))  # disk freed
print("RUNS", Store().count(), Store().get_report(first.run_id).status)
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert p.returncode == 0, p.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in p.stdout.strip().splitlines())
    assert lines["BUILD"].startswith(("PassError", "StoreError")) and "disk" in lines["BUILD"] + lines["COMPARE"]
    assert lines["COMPARE"].split()[0] in ("StoreError", "PassError", "WorkerError")
    assert lines["RUNS"] == "1 complete"  # the earlier run is intact
    assert _tmp_entries(workspace) == []


def test_read_only_workspace_is_a_clear_error(cnn, monkeypatch):
    monkeypatch.setenv("EDGELAB_HOME", "/proc/edgelab-cannot-exist")
    with pytest.raises(el.StoreError, match="set EDGELAB_HOME to a writable folder"):
        el.compare(cnn, recipes=["fp32"], measure=el.MeasureConfig(batch_sizes=(1,), min_runs=5, min_time_s=0.05))
    p = subprocess.run([sys.executable, "-m", "edgelab.cli", "compare", str(cnn), "--recipes", "fp32,fp16", "--quick"],
                       capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert p.returncode == 1 and p.stderr.strip().splitlines()[-1].startswith("edgelab: error: cannot create")
