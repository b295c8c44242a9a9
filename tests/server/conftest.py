"""A real ``jupyter lab`` on 127.0.0.1 shared by a test module, with files to attack the routes with.

Reuses the server launcher of tests/ui/conftest.py (loaded by path; test folders are not packages).
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("edgelab_ui_fixtures", Path(__file__).parents[1] / "ui" / "conftest.py")
ui = sys.modules.setdefault("edgelab_ui_fixtures", importlib.util.module_from_spec(_spec))
if not hasattr(ui, "start_lab"):
    _spec.loader.exec_module(ui)

SECRET = b"edgelab-secret-outside-the-root"


@pytest.fixture(scope="module")
def routes_server(tmp_path_factory):
    """Server root with: small.onnx, sub/inner.onnx, .hidden.onnx, a symlinked file and a symlinked
    folder that both point outside the root (to a file containing SECRET)."""
    base = tmp_path_factory.mktemp("routes")
    root, outside, state = base / "root", base / "outside", base / "state"
    for d in (root / "sub", outside, state):
        d.mkdir(parents=True)
    ui.write_small_cnn(root / "small.onnx")
    ui.write_small_cnn(root / "sub" / "inner.onnx")
    (root / ".hidden.onnx").write_bytes(SECRET)
    (outside / "secret.onnx").write_bytes(SECRET)
    os.symlink(outside / "secret.onnx", root / "escape.onnx")
    os.symlink(outside, root / "outdir")
    home = root / ".edgelab"
    server = ui.start_lab(root, state, env={"EDGELAB_HOME": str(home)})
    server.edgelab_home = home
    server.secret = SECRET
    yield server
    server.stop()
