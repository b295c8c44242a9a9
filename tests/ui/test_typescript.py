"""TypeScript checks of the labextension (tsc --noEmit + eslint), so the single test command covers them."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

LABEXT = Path(__file__).resolve().parents[2] / "labextension"


@pytest.fixture(scope="module")
def jlpm() -> str:
    beside = Path(sys.executable).parent / "jlpm"  # the test venv's, even when it is not on PATH
    exe = shutil.which("jlpm") or (str(beside) if beside.exists() else None)
    if exe is None:
        pytest.fail("jlpm not found: install jupyter-builder (pip install jupyter-builder)")
    if not (LABEXT / "node_modules").exists():
        subprocess.run([exe, "install"], cwd=LABEXT, check=True, capture_output=True, timeout=600)
    return exe


def test_typescript_compiles_and_lints(jlpm):
    out = subprocess.run([jlpm, "run", "lint:check"], cwd=LABEXT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
