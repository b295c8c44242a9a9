"""A notebook saved with widget state and exported to HTML (nbconvert) still shows the workbench's charts.

The live charts are plotly FigureWidgets (anywidget modules), which nbconvert's widget renderer cannot
load: without edgelab's static snapshot each chart is a broken-widget icon in the export. Here a real
kernel runs the workbench (nbclient stores the widget state, as JupyterLab's "save widget state" does),
nbconvert writes the page, and Chromium opens it. The page's CDN scripts (require.js, the widget
renderer, plotly.js) are served from the same files as published on npm / in the plotly wheel, since
this machine has no internet; anything else the page asks the network for is refused.
Screenshot: tests/artifacts/html-export.png.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ui, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
NPM_PACKAGES = {"@jupyter-widgets/html-manager@1.0.15": "package/dist/embed-amd.js",
                "requirejs@2.3.7": "package/require.js"}

CELL = """\
import edgelab as el
quick = el.MeasureConfig(min_runs=10, min_time_s=0.2, max_time_s=1, batch_sizes=(1,), warmup_runs=2,
                         eval_samples=64)
wb = el.Workbench(profiles=["rpi4", "rpi5"], recipes=["fp32", "int8-static"], measure=quick)
wb.run(block=True)
assert wb.report is not None, wb.error
wb.explain_panel.explain()
assert wb.explain_panel.wait(300)
wb
"""


@pytest.fixture(scope="module")
def cdn_files(tmp_path_factory) -> dict[str, Path]:
    """{url fragment: local file} for the scripts an exported page loads from CDNs."""
    import plotly

    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is needed to fetch the widget renderer the exported page loads (install Node.js/npm)")
    d = tmp_path_factory.mktemp("cdn")
    files = {"plotly-": Path(plotly.__file__).parent / "package_data" / "plotly.min.js"}
    for spec, member in NPM_PACKAGES.items():
        out = subprocess.run([npm, "pack", spec, "--silent", "--pack-destination", str(d)], cwd=d,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, f"npm pack {spec} failed: {out.stderr[-2000:]}"
        tgz = d / out.stdout.strip().splitlines()[-1]
        dest = d / spec.split("@")[-2].split("/")[-1]
        dest.mkdir()
        subprocess.run(["tar", "xzf", str(tgz), "-C", str(dest), member], check=True)
        files[{"requirejs@2.3.7": "require", "@jupyter-widgets/html-manager@1.0.15": "html-manager"}[spec]] = \
            dest / member
    return files


@pytest.fixture(scope="module")
def exported(tmp_path_factory, cdn_files) -> Path:
    """The workbench notebook executed by a real kernel (widget state stored) and exported to HTML."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    d = tmp_path_factory.mktemp("export")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(CELL)]
    env = {"EDGELAB_HOME": str(d / "ws"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits the environment
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3", store_widget_state=True).execute(cwd=str(d))
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert any(m["model_module"] == "anywidget" for m in state.values())  # the live charts are saved too
    nbformat.write(nb, d / "workbench.ipynb")
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    (d / "workbench.html").write_text(body)
    return d / "workbench.html"


def test_exported_notebook_shows_the_charts(exported, cdn_files, chromium, artifacts_dir):
    served, refused = [], []

    def route(r):
        url = r.request.url
        if url.startswith("file:"):
            return r.continue_()
        for frag, path in cdn_files.items():
            if frag in url and url.split("?")[0].endswith(".js"):
                served.append(url)
                return r.fulfill(path=str(path), content_type="application/javascript")
        refused.append(url)
        return r.abort()

    context = chromium.new_context(viewport={"width": 1300, "height": 1000})
    context.route("**/*", route)
    page = context.new_page()
    try:
        page.goto(exported.as_uri())
        wb = page.locator(".edgelab-workbench")
        wb.wait_for(state="visible", timeout=60_000)  # the widget renderer rebuilt the workbench from its state
        assert "int8-static" in wb.locator(".elw table").first.inner_text()

        snapshots = wb.locator("iframe.edgelab-export-charts")
        assert snapshots.count() == 2  # the four workbench charts, and the Explain panel's per-layer chart
        snapshots.first.wait_for(state="visible", timeout=60_000)
        charts = page.frame_locator("iframe.edgelab-export-charts >> nth=0").locator(".js-plotly-plot")
        charts.nth(3).wait_for(state="attached", timeout=60_000)
        assert charts.count() == 4
        titles = page.frame_locator("iframe.edgelab-export-charts >> nth=0").locator(".gtitle").all_text_contents()
        assert any("accuracy vs latency" in t for t in titles) and any("edge cost" in t for t in titles), titles
        points = page.frame_locator("iframe.edgelab-export-charts >> nth=0").locator(".scatterlayer .point")
        assert points.count() >= 2  # fp32 and int8-static on the Pareto chart
        bars = page.frame_locator("iframe.edgelab-export-charts >> nth=1").locator(".barlayer .point")
        bars.first.wait_for(state="attached", timeout=60_000)  # per-layer SQNR bars
        # the live FigureWidgets cannot load in an export: their boxes are hidden, no broken-widget icon shows
        for box in wb.locator(".edgelab-live-charts").all():
            assert not box.is_visible()
        assert any("plotly-" in u for u in served) and any("html-manager" in u for u in served), served
        wb.evaluate("el => el.scrollIntoView()")
        page.screenshot(path=str(artifacts_dir / "html-export.png"), full_page=True)
    finally:
        context.close()


def test_export_without_widget_state_says_how_to_keep_the_workbench(exported):
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(exported.with_suffix(".ipynb"), as_version=4)
    del nb.metadata["widgets"]  # what JupyterLab saves by default ("Save Widget State Automatically" is off)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    assert 'class="edgelab-no-widget-state"' in body and "Save Widget State Automatically" in body
    assert "application/vnd.jupyter.widget-view+json" not in body  # no empty widget placeholder


def test_snapshot_is_empty_before_a_run():
    from edgelab.widgets import Workbench

    wb = Workbench()
    assert wb.export_charts.value == ""  # nothing to show yet: no empty frame in an export
