"""An exported Raspberry Pi (aarch64) artifact runs under qemu-user and matches the host's onnxruntime output.

Needs Debian's qemu-user and g++-aarch64-linux-gnu, plus (downloaded once, cached in
$EDGELAB_TEST_CACHE or ~/.cache/edgelab-tests, never committed) an arm64 Python from Debian packages and
the aarch64 wheels of apache-tvm / apache-tvm-ffi / numpy from PyPI (shared/notes/tvm.md §3).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import models

pytestmark = [pytest.mark.tvm, pytest.mark.slow]
DEBS = ("python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libexpat1 zlib1g libffi8 libssl3 libbz2-1.0 "
        "liblzma5 libuuid1 libsqlite3-0 libncursesw6 libtinfo6 libreadline8 libc6 libgcc-s1 libstdc++6").split()
WHEELS = ("apache-tvm==0.27.0.post1", "apache-tvm-ffi==0.1.14.post1", "numpy", "ml_dtypes", "typing_extensions")


def _sh(cmd, **kw):
    res = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed: {res.stderr[-1500:]}")
    return res.stdout


def arm64_env() -> Path:
    """Folder with root/ (arm64 Python from .debs) and site/ (aarch64 wheels unpacked); built once."""
    cache = Path(os.environ.get("EDGELAB_TEST_CACHE") or Path.home() / ".cache" / "edgelab-tests") / "qemu-arm64"
    if (cache / "ready").exists():
        return cache
    tmp = cache.with_name(cache.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "debs").mkdir(parents=True)
    if "arm64" not in _sh(["dpkg", "--print-foreign-architectures"]).split():
        _sh(["dpkg", "--add-architecture", "arm64"])
        _sh(["apt-get", "update", "-q"], timeout=600)
    _sh(["apt-get", "download", *[f"{d}:arm64" for d in DEBS]], cwd=tmp / "debs", timeout=600)
    for deb in (tmp / "debs").glob("*.deb"):
        _sh(["dpkg", "-x", str(deb), str(tmp / "root")])
    _sh([sys.executable, "-m", "pip", "download", "--no-deps", "--platform", "manylinux_2_28_aarch64",
         "--only-binary=:all:", "--python-version", "3.11", *WHEELS, "-d", str(tmp / "wheels")], timeout=900)
    for whl in (tmp / "wheels").glob("*.whl"):
        zipfile.ZipFile(whl).extractall(tmp / "site")
    shutil.rmtree(tmp / "debs")
    shutil.rmtree(tmp / "wheels")
    (tmp / "ready").write_text("ok")
    shutil.rmtree(cache, ignore_errors=True)
    tmp.rename(cache)
    return cache


def test_rpi4_export_runs_under_qemu(ws, tiny, tmp_path):
    for tool, pkg in (("qemu-aarch64", "qemu-user"), ("aarch64-linux-gnu-g++", "g++-aarch64-linux-gnu")):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} missing: apt-get install {pkg}")
    from edgelab.export import export

    env_dir = arm64_env()
    out = export(tiny, "tvm", profile="rpi4", out=tmp_path / "pi4")
    x = np.random.default_rng(4).standard_normal((1, 1, 16, 16)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    root = env_dir / "root"
    res = subprocess.run(["qemu-aarch64", "-L", str(root), str(root / "usr/bin/python3.11"), str(out / "run.py"),
                          "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"), "--runs", "1"],
                         capture_output=True, text=True, timeout=900,
                         env={"PYTHONPATH": str(env_dir / "site"), "PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads(res.stdout.strip().splitlines()[-1])["output_shape"] == [1, 10]
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), models.ort_outputs(tiny, x), atol=1e-5)
