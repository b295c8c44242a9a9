"""`edgelab export`: artifact folder with manifest and run script, for TVM (host, ARM) and onnxruntime recipes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import models
from edgelab import model as M
from edgelab.errors import ConfigError
from edgelab.export import export

pytestmark = pytest.mark.tvm


def _run_script(folder: Path, x: np.ndarray, tmp: Path) -> np.ndarray:
    np.save(tmp / "x.npy", x)
    res = subprocess.run([sys.executable, str(folder / "run.py"), "--input", str(tmp / "x.npy"), "--output",
                          str(tmp / "y.npy"), "--runs", "3"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["output_shape"] == [len(x), 10] and summary["median_ms"] > 0
    return np.load(tmp / "y.npy")


@pytest.mark.parametrize("recipe,artifact,runtime", [("tvm", "model.so", "tvm"),
                                                     ("ort-opt", "model.onnx", "onnxruntime")])
def test_export_host_runs_and_matches(ws, tiny, tmp_path, recipe, artifact, runtime):
    out = export(tiny, recipe, out=tmp_path / "deploy")
    assert {p.name for p in out.iterdir()} >= {"manifest.json", "run.py", artifact}
    man = json.loads((out / "manifest.json").read_text())
    m = M.load(tiny)
    assert man["model"]["sha256"] == m.sha256 and man["recipe"]["name"] == recipe and man["runtime"] == runtime
    assert man["artifact"] == artifact and man["versions"]["onnxruntime"] and man["versions"]["tvm"]
    assert man["inputs"][0]["name"] == "input" and man["outputs"][0]["name"] == "logits"
    import hashlib

    assert man["artifact_sha256"] == hashlib.sha256((out / artifact).read_bytes()).hexdigest()
    x = np.random.default_rng(3).standard_normal((1, 1, 16, 16)).astype(np.float32)
    np.testing.assert_allclose(_run_script(out, x, tmp_path), models.ort_outputs(tiny, x), atol=1e-4)
    again = export(tiny, recipe, out=out)  # re-export over a previous export is allowed
    assert (again / "manifest.json").exists()


def test_export_rpi4_is_aarch64(ws, tiny, tmp_path):
    import shutil

    if shutil.which("aarch64-linux-gnu-g++") is None:
        pytest.skip("apt-get install g++-aarch64-linux-gnu")
    out = export(tiny, "tvm", profile="rpi4", out=tmp_path / "pi4")
    man = json.loads((out / "manifest.json").read_text())
    assert man["profile"] == "rpi4" and man["target"]["mcpu"] == "cortex-a72"
    raw = (out / "model.so").read_bytes()[:20]
    assert raw[:4] == b"\x7fELF" and raw[4] == 2 and int.from_bytes(raw[18:20], "little") == 0xB7


def test_export_refuses_foreign_folder(ws, tiny, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not an edgelab export"):
        export(tiny, "tvm", out=tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_cli_export_and_bad_profile(ws, tiny, tmp_path):
    from edgelab.cli import main

    assert main(["export", tiny, "--recipe", "tvm", "--out", str(tmp_path / "d")]) == 0
    assert (tmp_path / "d" / "manifest.json").exists()
    res = subprocess.run([sys.executable, "-m", "edgelab.cli", "export", tiny, "--profile", "pi9", "--out",
                          str(tmp_path / "e")], capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and "unknown profile 'pi9'" in res.stderr and len(res.stderr.splitlines()) == 1
