"""notebooks/quickstart.ipynb in a real JupyterLab: the workbench runs on the demo model and really renders.

Checks what a person sees: progress bars while it runs, the results table with one row per variant,
a plotly chart with drawn points, and the inline Netron graph from el.view (same origin).
Runs in JupyterLab 4.6 and in Notebook 7 (same server). Screenshots: tests/artifacts/notebook-workbench-{lab,notebook7}.png.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ui, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "quickstart.ipynb"


def _prepare(root: Path) -> Path:
    """Copy the quickstart into the lab root. Without the committed demo model, EDGELAB_DEMO_ONNX may name
    a stand-in .onnx (a first cell points the demo at it); otherwise the test is skipped."""
    from edgelab.demo import digits_model_path

    nb = json.loads(NOTEBOOK.read_text())
    if not digits_model_path().exists():
        stand_in = os.environ.get("EDGELAB_DEMO_ONNX")
        if not stand_in or not Path(stand_in).is_file():
            pytest.skip(f"the bundled demo model is not built yet ({digits_model_path()})")
        nb["cells"].insert(0, {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                               "source": ["from pathlib import Path\n", "import edgelab.demo as d\n",
                                          f"d.digits_model_path = lambda: Path({stand_in!r})"]})
    dest = root / "quickstart.ipynb"
    dest.write_text(json.dumps(nb))
    return dest


@pytest.mark.parametrize("frontend", ["lab", "notebook7"])
def test_quickstart_workbench_renders_progress_table_and_charts(frontend, lab_factory, tmp_path, lab_page, page,
                                                                artifacts_dir):
    root = tmp_path / "root"
    root.mkdir()
    _prepare(root)
    env = {"EDGELAB_HOME": str(tmp_path / "ws"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    # one server serves both JupyterLab (/lab) and Notebook 7 (/notebooks, the `notebook` package)
    lab = lab_factory(root_dir=root, env=env, extra_args=["--JupyterNotebookApp.expose_app_in_browser=True"],
                      settings={"@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": True}})
    if frontend == "lab":
        page = lab_page(lab, "lab/tree/quickstart.ipynb")
    else:
        page.goto(lab.lab_url("notebooks/quickstart.ipynb"))
        page.wait_for_function("window.jupyterapp !== undefined", timeout=60_000)
        assert page.evaluate("window.jupyterapp.name") == "Jupyter Notebook"  # the Notebook 7 app, not Lab
    page.locator(".jp-Notebook").first.wait_for(state="visible")
    page.wait_for_function(
        "document.querySelector('.jp-Notebook') && window.jupyterapp.shell.currentWidget"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel?.status === 'idle'",
        timeout=90_000)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")

    wb = page.locator(".edgelab-workbench")
    wb.wait_for(state="visible", timeout=120_000)
    bars = wb.locator(".widget-hprogress")
    bars.first.wait_for(state="visible", timeout=120_000)  # the per-variant progress bars appear while it runs
    assert bars.count() == 3
    labels = [t.strip() for t in wb.locator(".widget-hprogress .widget-label").all_inner_texts()]
    assert labels[:3] == ["fp32", "int8-dynamic", "int8-static"], labels

    # the run finishes: a status line with the run id, one table row per variant with measured figures
    wb.locator("text=/run .* complete, 3\\/3 variants measured/").wait_for(timeout=300_000)
    rows = wb.locator(".elw table tr")
    texts = rows.all_inner_texts()
    assert any(t.startswith("fp32") for t in texts) and any(t.startswith("int8-static") for t in texts), texts
    assert "measured" in wb.locator(".elw .legend").first.inner_text()
    heads = wb.locator(".elw th.proj").all_inner_texts()
    assert "rpi4 ms*" in heads and "rpi5 ms*" in heads, heads  # projected columns, visibly separate
    for bar in wb.locator(".widget-hprogress .progress-bar").all():
        assert "success" in (bar.get_attribute("class") or ""), bar.get_attribute("class")

    # a plotly chart with data: the Pareto chart draws one point per variant, with a real size on screen
    points = wb.locator(".js-plotly-plot .scatterlayer .point")
    points.first.wait_for(state="visible", timeout=60_000)
    boxes = [points.nth(i).bounding_box() for i in range(points.count())]
    assert sum(1 for b in boxes if b and b["width"] > 3) >= 3, boxes
    bars_drawn = wb.locator(".js-plotly-plot .barlayer .point")
    assert bars_drawn.count() >= 3  # latency bars and memory bars

    # the inline Netron viewer of the last cell: same origin, the graph drawn
    frame_el = page.locator(".edgelab-netron iframe")
    frame_el.wait_for(state="attached", timeout=120_000)
    assert frame_el.get_attribute("src").startswith("/edgelab/netron/index.html?url=")
    nodes = page.frame_locator(".edgelab-netron iframe").locator("#canvas g.node")
    nodes.first.wait_for(state="attached", timeout=60_000)
    assert nodes.count() >= 3

    lines = wb.locator(".js-plotly-plot .scatterlayer .trace path.js-line")
    assert lines.count() >= 4  # the cost chart: cloud and edge lines for each profile
    # the static snapshot for HTML exports is in the widget tree but stays hidden (and loads nothing) here
    snapshot = wb.locator("iframe.edgelab-export-charts")
    snapshot.wait_for(state="attached", timeout=30_000)
    assert not snapshot.is_visible()
    assert wb.locator(".edgelab-live-charts").first.is_visible()

    # saved with widget state (the setting above), the notebook carries the static chart snapshot, so its
    # HTML export keeps the charts (tests/ui/test_html_export.py opens such an export in the browser)
    saved_before = (root / "quickstart.ipynb").stat().st_mtime
    page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("!window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=60_000)
    assert (root / "quickstart.ipynb").stat().st_mtime > saved_before
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(root / "quickstart.ipynb", as_version=4)
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert any("edgelab-export-charts" in str(m["state"].get("value", "")) for m in state.values())
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    assert "edgelab-export-charts" in body and "application/vnd.jupyter.widget-state+json" in body

    page.set_viewport_size({"width": 1400, "height": 2600})
    wb.evaluate("el => el.scrollIntoView()")
    page.wait_for_timeout(1000)
    page.screenshot(path=str(artifacts_dir / f"notebook-workbench-{frontend}.png"))
    shutil.copyfile(lab.log_path, artifacts_dir / f"notebook-workbench-{frontend}-lab.log")
