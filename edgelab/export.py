"""Export a deployable artifact for a device: the built variant, a manifest and a minimal run script.

    >>> edgelab.export.export("model.onnx", recipe="tvm", profile="rpi5", out="deploy/rpi5")

The folder holds `model.so` (+ `model.json`) for TVM recipes or `model.onnx` for onnxruntime ones,
`manifest.json` (model sha256, recipe, target, versions, input/output specs, artifact sha256) and
`run.py`, which runs the artifact on the device with only numpy + the TVM runtime (or onnxruntime).
Weights are embedded in the artifact (no separate params file).
"""
from __future__ import annotations

import hashlib
import json
import shutil
import time
from importlib import metadata
from pathlib import Path

from . import workspace
from .errors import ConfigError

FORMAT = "edgelab-export/1"

RUN_SCRIPT = '''#!/usr/bin/env python3
"""Run this edgelab export on the device: python3 run.py [--input x.npy] [--output y.npy] [--runs N].

Needs numpy and, for a TVM artifact, the TVM runtime (pip install apache-tvm==%(tvm)s on aarch64;
32-bit ARM: build the runtime from source), or onnxruntime for an .onnx artifact.
Without --input, random inputs with the manifest's shapes (batch 1) are used.
"""
import argparse, json, os, time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MANIFEST = json.loads((HERE / "manifest.json").read_text())


def inputs(path):
    if path:
        return [np.load(path)]
    rng = np.random.default_rng(0)
    return [rng.standard_normal([d if isinstance(d, int) and d > 0 else 1 for d in s["shape"]]).astype(s["dtype"])
            for s in MANIFEST["inputs"]]


def runner():
    if MANIFEST["runtime"] == "tvm":
        import tvm
        from tvm import relax
        vm = relax.VirtualMachine(tvm.runtime.load_module(str(HERE / MANIFEST["artifact"])), tvm.cpu())
        def run(xs):
            out = vm["main"](*[tvm.runtime.tensor(x) for x in xs])
            return out.numpy() if hasattr(out, "numpy") else out[0].numpy()
        return run
    import onnxruntime as ort
    sess = ort.InferenceSession(str(HERE / MANIFEST["artifact"]), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    return lambda xs: sess.run(None, dict(zip(names, xs)))[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input")
    ap.add_argument("--output")
    ap.add_argument("--runs", type=int, default=10)
    a = ap.parse_args()
    xs = inputs(a.input)
    t0 = time.perf_counter()
    run = runner()
    load_s = time.perf_counter() - t0
    y = run(xs)
    times = []
    for _ in range(a.runs):
        t0 = time.perf_counter()
        run(xs)
        times.append(time.perf_counter() - t0)
    if a.output:
        np.save(a.output, y)
    print(json.dumps({"model": MANIFEST["model"]["name"], "recipe": MANIFEST["recipe"]["name"],
                      "output_shape": list(y.shape), "load_ms": round(load_s * 1e3, 2),
                      "median_ms": round(sorted(times)[len(times) // 2] * 1e3, 4) if times else None}))


if __name__ == "__main__":
    main()
'''


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _version(pkg: str):
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def export(model, recipe: str = "tvm", *, profile: str | None = None, out, calibration=None,
           progress=None, overwrite: bool = False) -> Path:
    """Build `recipe` of `model` for `profile` (None/'host' = this machine) and write a deployable folder."""
    from .data import Dataset
    from .model import Model, load
    from .passes import tvm as tvm_passes
    from .variant import Recipe, build

    model = model if isinstance(model, Model) else load(model)
    rec = Recipe.parse(recipe)
    out = Path(out).absolute()
    if out.exists() and any(out.iterdir()):
        if not (overwrite or (out / "manifest.json").exists()):
            raise ConfigError(f"{out} exists and is not an edgelab export; choose another --out or empty it")
    target = None
    if profile not in (None, "", "host", "local"):
        target = tvm_passes.profile(profile)
        if rec.runtime == "tvm":
            tvm_passes.check_toolchain(tvm_passes.resolve_target(target))
    calib = None
    if rec.needs_calibration:
        calib = calibration if calibration is not None else Dataset.synthetic(model, n=64)
    v = build(model, rec, calibration=calib, target=target if rec.runtime == "tvm" else None, progress=progress)
    art = Path(v.path)
    meta = json.loads(art.with_suffix(".json").read_text()) if rec.runtime == "tvm" else {}
    manifest = {
        "format": FORMAT, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": {"name": model.name, "sha256": model.sha256, "size_bytes": model.size_bytes},
        "recipe": rec.to_dict(), "runtime": v.runtime, "precision": v.precision,
        "artifact": "model.so" if v.runtime == "tvm" else "model.onnx", "artifact_sha256": _sha256(art),
        "profile": profile or "host",
        "target": meta.get("target") if v.runtime == "tvm" else "any CPU with onnxruntime",
        "static_batch": meta.get("static_batch"), "params": "embedded in the artifact",
        "inputs": meta.get("inputs") or [{"name": t.name, "shape": list(t.shape), "dtype": t.dtype}
                                         for t in model.inputs],
        "outputs": [{"name": t.name, "shape": list(t.shape), "dtype": t.dtype} for t in model.outputs],
        "versions": {"edgelab": _version("edgelab"), "tvm": _version("apache-tvm"),
                     "onnxruntime": _version("onnxruntime"), "onnx": _version("onnx")},
        "calibration": "synthetic inputs (give real samples!)" if (rec.needs_calibration and calibration is None)
        else None,
    }
    with workspace.atomic_dir(out.parent / f".{out.name}.new") as tmp:
        shutil.copy2(art, tmp / manifest["artifact"])
        if v.runtime == "tvm":
            shutil.copy2(art.with_suffix(".json"), tmp / "model.json")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
        (tmp / "run.py").write_text(RUN_SCRIPT % {"tvm": _version("apache-tvm") or "0.27.0.post1"})
    staged = out.parent / f".{out.name}.new"
    if out.exists():
        shutil.rmtree(out)
    staged.rename(out)
    return out
