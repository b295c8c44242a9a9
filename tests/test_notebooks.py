"""Execute every notebook in notebooks/ top to bottom in a real kernel (nbclient); they are committed clean."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
REPO = Path(__file__).resolve().parents[1]


def _text(nb) -> str:
    out = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            out.append(o.get("text", ""))
            out += [str(v) for k, v in o.get("data", {}).items() if k.startswith("text/")]
    return "\n".join(out)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; clear them before committing"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path, monkeypatch):
    from edgelab.demo import digits_model_path

    if "digits_model_path" in path.read_text() and not digits_model_path().exists():
        pytest.skip(f"the bundled demo model is not built yet ({digits_model_path()})")
    monkeypatch.setenv("EDGELAB_HOME", str(tmp_path / ".edgelab"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    t0 = time.monotonic()
    client.execute()  # raises CellExecutionError (with the cell and traceback) on any error
    took = time.monotonic() - t0
    print(f"{path.name}: executed in {took:.1f} s with {sys.executable}")
    text = _text(nb)
    if path.name == "quickstart.ipynb":
        assert "complete: fp32, int8-dynamic, int8-static" in text, text[-2000:]
        assert "best on this machine (measured):" in text
        assert "usage: %edgelab compare" in text  # the usage line, not a traceback
        assert "not started by a running Jupyter server" in text  # el.view under nbclient says what is missing
        widgets = [o for c in nb.cells for o in c.get("outputs", [])
                   if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
        assert widgets, "the workbench widget was not displayed"
