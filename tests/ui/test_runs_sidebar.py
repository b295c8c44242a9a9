"""The edgelab sidebar lists a run written by the CLI (refreshing on its own) and opens its report."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.ui


def _edgelab_cli(*args: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("edgelab", path=os.path.dirname(sys.executable)) or shutil.which("edgelab")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "edgelab.cli", *args]
    out = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out


@pytest.mark.parametrize("base_url", ["/", "/user/someone/"], ids=["root", "base_url"])
def test_sidebar_lists_cli_run_and_opens_report(lab_factory, tmp_path, lab_page, page_requests,
                                                onnx_model_factory, artifacts_dir, base_url):
    home = tmp_path / ".edgelab"
    model = onnx_model_factory(tmp_path, "sidebar_model.onnx")
    lab = lab_factory(root_dir=tmp_path, base_url=base_url, env={"EDGELAB_HOME": str(home)})
    page = lab_page(lab)

    page.locator(".jp-SideBar [data-id='edgelab-runs']").click()
    panel = page.locator("#edgelab-runs")
    panel.wait_for(state="visible")
    page.locator(".jp-edgelab-runs-status", has_text="No runs yet").wait_for()

    # a run lands in the store while the lab is open: the sidebar picks it up by itself
    _edgelab_cli("compare", str(model), "--recipes", "fp32,ort-opt", "--quick", "--batch", "1",
                 env={**os.environ, "EDGELAB_HOME": str(home)}, cwd=tmp_path)
    run = panel.locator(".jp-edgelab-run").first
    run.wait_for(state="visible", timeout=20_000)
    assert panel.locator(".jp-edgelab-run").count() == 1
    assert run.locator(".jp-edgelab-run-model").inner_text() == "sidebar_model"
    assert "cores" in run.locator(".jp-edgelab-run-host").inner_text()
    assert "p50" in run.locator(".jp-edgelab-run-best").inner_text()
    suffix = "base-url" if base_url != "/" else "root"
    page.screenshot(path=artifacts_dir / f"sidebar-{suffix}.png")

    run.click()
    report = page.locator(".jp-edgelab-report iframe")
    report.wait_for(state="visible")
    assert report.get_attribute("src").startswith(f"{lab.url}edgelab/api/runs/")
    body = page.frame_locator(".jp-edgelab-report iframe").locator("body")
    body.wait_for(state="visible", timeout=30_000)
    assert "sidebar_model" in body.inner_text(timeout=30_000)
    page.wait_for_timeout(1500)  # let the report's figures draw before the screenshot
    page.screenshot(path=artifacts_dir / f"report-{suffix}.png")
    hosts = {u.split("/")[2].split(":")[0] for u in page_requests if u.startswith(("http://", "https://"))}
    assert hosts == {"127.0.0.1"}, hosts


def test_model_names_are_text_not_html_in_the_sidebar(lab_factory, tmp_path, lab_page, onnx_model_factory):
    home = tmp_path / ".edgelab"
    hostile = "<img src=x onerror=window.__edgelab_pwned=1>"
    model = onnx_model_factory(tmp_path, f"{hostile}.onnx")
    env = {**os.environ, "EDGELAB_HOME": str(home)}
    _edgelab_cli("compare", str(model), "--recipes", "fp32", "--quick", "--batch", "1", env=env, cwd=tmp_path)
    lab = lab_factory(root_dir=tmp_path, env={"EDGELAB_HOME": str(home)})
    page = lab_page(lab)
    page.locator(".jp-SideBar [data-id='edgelab-runs']").click()
    name = page.locator("#edgelab-runs .jp-edgelab-run-model").first
    name.wait_for(state="visible")
    assert name.inner_text() == hostile
    assert page.locator("#edgelab-runs img").count() == 0
    page.locator("#edgelab-runs .jp-edgelab-run").first.click()
    page.locator(".jp-edgelab-report iframe").wait_for(state="visible")
    page.wait_for_timeout(1500)
    assert page.evaluate("window.__edgelab_pwned") is None
