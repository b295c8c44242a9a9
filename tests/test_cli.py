"""The edgelab command: outputs, files written, exit codes (0 / 1 with one line / 2 for usage)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import leftover_workers

ROOT = Path(__file__).resolve().parents[1]


def run(*args, cwd=None, env=None):
    e = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run([sys.executable, "-m", "edgelab.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=e, timeout=300)


def test_compare_writes_json_and_html(cnn, cnn_npz, tmp_path):
    out_json, out_html = tmp_path / "out.json", tmp_path / "out.html"
    p = run("compare", str(cnn), "--data", str(cnn_npz), "--recipes", "fp32,ort-opt,int8-dynamic,int8-static",
            "--quick", "--batch", "1", "--json", str(out_json), "--html", str(out_html))
    assert p.returncode == 0, p.stderr
    d = json.loads(out_json.read_text())
    assert [v["id"] for v in d["variants"]] == ["fp32", "ort-opt", "int8-dynamic", "int8-static"]
    assert d["variants"][0]["accuracy"]["value"] == 1.0
    html = out_html.read_text()
    assert "<table>" in html and "Plotly" in html and "cdn.plot.ly" not in html.split("<body>")[1]
    assert "int8-static" in p.stdout and "[build 4/4] int8-static" in p.stderr and "[evaluate" in p.stderr
    # history lists it and reopens it
    h = run("history")
    assert d["run_id"] in h.stdout
    h2 = run("history", d["run_id"], "--json", str(tmp_path / "again.json"))
    assert h2.returncode == 0 and json.loads((tmp_path / "again.json").read_text())["run_id"] == d["run_id"]


def test_inspect(cnn):
    p = run("inspect", str(cnn))
    assert p.returncode == 0, p.stderr
    assert "MACs" in p.stdout and "Conv×2" in p.stdout and "onnxruntime  all ops supported" in p.stdout
    j = json.loads(run("inspect", str(cnn), "--json").stdout)
    assert j["model"]["macs"] == 8 * 16 * 16 * 9 + 16 * 8 * 8 * 8 * 9 + 64


def test_passes_and_recipes_listing():
    p = run("passes")
    assert p.returncode == 0 and "int8-static" in p.stdout and "--calibration" in p.stdout
    j = json.loads(run("passes", "--json").stdout)
    assert {x["name"] for x in j} >= {"ort-optimize", "int8-dynamic", "int8-static", "fp16"}
    r = run("recipes")
    assert "int8-static-pt" in r.stdout


@pytest.mark.parametrize("args,needle", [
    (["compare", "missing.onnx"], "model file not found"),
    (["compare", "{cnn}", "--recipes", "fp32,warp-speed"], "unknown recipe 'warp-speed'; valid recipes: fp32"),
    (["compare", "{cnn}", "--data", "{bad_npz}"], "does not match|differs|dims"),
    (["inspect", "{junk}"], "not a readable ONNX file"),
    (["history", "no-such-run"], "no run 'no-such-run'"),
])
def test_failures_exit_1_with_one_line(tmp_path, cnn, args, needle):
    import numpy as np

    junk = tmp_path / "junk.onnx"
    junk.write_bytes(os.urandom(300))
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros((2, 3), np.float32))
    args = [a.format(cnn=cnn, junk=junk, bad_npz=bad) for a in args]
    p = run(*args, cwd=tmp_path)
    assert p.returncode == 1, (p.stdout, p.stderr)
    lines = [line for line in p.stderr.splitlines() if line.startswith("edgelab: error:")]
    assert len(lines) == 1 and __import__("re").search(needle, lines[0]), p.stderr
    assert "Traceback" not in p.stderr


def test_usage_error_exits_2():
    p = run("compare")
    assert p.returncode == 2 and "usage:" in p.stderr
    assert run("frobnicate").returncode == 2


def test_sigterm_stops_cleanly_and_keeps_finished(cnn, tmp_path):
    import signal
    import time

    e = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "edgelab.cli", "compare", str(cnn), "--recipes",
                             "fp32,fp16,int8-dynamic,int8-dynamic-u8,ort-opt", "--batch", "1,64"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e, cwd=tmp_path)
    deadline = time.time() + 120
    err = ""
    while time.time() < deadline:
        line = proc.stderr.readline()
        err += line
        if "[latency]" in line:
            break
    proc.send_signal(signal.SIGTERM)
    out, rest = proc.communicate(timeout=60)
    assert proc.returncode == 130, err + rest
    h = run("history", "--json-list", env={"EDGELAB_HOME": os.environ["EDGELAB_HOME"]})
    runs = json.loads(h.stdout)
    assert runs and runs[0]["status"] == "interrupted"
    assert leftover_workers(os.environ["EDGELAB_HOME"]) == []
