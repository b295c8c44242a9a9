"""Variants are content-addressed: built once, reused, never half-written."""
import os
from pathlib import Path

import pytest

import edgelab as el
from edgelab import workspace


def test_same_model_and_recipe_is_built_once(cnn):
    m = el.load(cnn)
    a = el.build(m, "int8-dynamic")
    b = el.build(m, "int8-dynamic")
    assert not a.cached and b.cached and a.path == b.path and a.key == b.key
    assert el.build(m, "int8-dynamic-u8").key != a.key


def test_calibration_data_is_part_of_the_key(cnn, cnn_npz):
    m = el.load(cnn)
    ds = el.Dataset.from_npz(cnn_npz, m)
    assert el.build(m, "int8-static", calibration=ds.take(8)).key != el.build(m, "int8-static",
                                                                             calibration=ds.take(8, start=3)).key


def test_failed_build_leaves_nothing(cnn, monkeypatch):
    from edgelab.passes import fp16

    def boom(self, src, out_dir, ctx):
        (Path(out_dir) / "partial.onnx").write_bytes(b"half")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(fp16.Fp16, "run", boom)
    with pytest.raises(el.PassError, match="disk on fire"):
        el.build(el.load(cnn), "fp16")
    leftovers = [p for p in workspace.cache_dir().iterdir() if p.name != "models"]
    assert leftovers == []


def test_fp32_reference_is_the_model_itself(cnn):
    m = el.load(cnn)
    v = el.build(m, "fp32")
    assert v.path == m.path and v.runtime == "onnxruntime" and v.precision == "fp32"


def test_stale_tmp_sweep(tmp_path):
    d = tmp_path / "cache" / ".tmp-abc"
    d.mkdir(parents=True)
    old = 1_000_000
    os.utime(d, (old, old))
    fresh = tmp_path / "cache" / ".tmp-new"
    fresh.mkdir()
    assert workspace.sweep_stale_tmp(tmp_path / "cache") == 1
    assert fresh.exists() and not d.exists()
