"""Palette commands, the launcher card, and the sidebar's readability in light and dark themes."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

pytestmark = pytest.mark.ui

WORKBENCH = "import edgelab as el\nel.Workbench()"


def _notebook_cells(path):
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in json.loads(path.read_text())["cells"]]


def _run_palette(page, text: str) -> None:
    """Run a command the way a person does: open the palette, type its label, press Enter."""
    box = page.locator(".lm-CommandPalette-input")
    for _ in range(5):  # a notebook that is still starting its kernel can take focus and close the palette
        # (the Ctrl+Shift+C shortcut is not reliable while a notebook editor has focus)
        page.evaluate("window.jupyterapp.commands.execute('apputils:activate-command-palette')")
        try:
            box.fill(text, timeout=5_000)
            page.locator(".lm-CommandPalette-item.lm-mod-active", has_text=text).wait_for(timeout=5_000)
            box.press("Enter", timeout=5_000)
            return
        except PlaywrightTimeout:
            page.wait_for_timeout(500)
    raise AssertionError(f"could not run {text!r} from the command palette")


def test_launcher_card_and_palette_create_the_workbench_notebook(lab, lab_page):
    page = lab_page(lab)
    page.locator(".jp-LauncherCard[title*='edgelab workbench']").click(timeout=60_000)
    editor = page.locator(".jp-NotebookPanel:visible .jp-Cell .cm-content").first
    expect(editor).to_have_text(re.compile(r"import edgelab as el\s*el\.Workbench\(\)"), timeout=60_000)
    created = sorted(lab.root_dir.glob("*.ipynb"))
    assert len(created) == 1 and _notebook_cells(created[0]) == [WORKBENCH]

    _run_palette(page, "edgelab: open workbench notebook")
    page.wait_for_function("document.querySelectorAll('.jp-NotebookPanel').length === 2", timeout=60_000)
    assert len(list(lab.root_dir.glob("*.ipynb"))) == 2


def test_palette_view_model_graph_opens_the_selected_onnx(lab, lab_page, onnx_model_factory):
    model = onnx_model_factory(lab.root_dir)
    page = lab_page(lab)
    page.locator(f".jp-DirListing-item[title^='Name: {model.name}']").click()
    _run_palette(page, "edgelab: view model graph")
    nodes = page.frame_locator(".jp-edgelab-netron-frame").locator("#canvas g.node")
    nodes.first.wait_for(state="visible", timeout=45_000)
    assert nodes.count() >= 3


def _luminance(css: str) -> float:
    r, g, b = (int(x) / 255 for x in re.findall(r"\d+", css)[:3])
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(fg: str, bg: str) -> float:
    a, b = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


@pytest.mark.parametrize("theme", ["JupyterLab Light", "JupyterLab Dark"])
def test_sidebar_is_readable_in_light_and_dark_themes(lab_factory, tmp_path, lab_page, onnx_model_factory,
                                                      artifacts_dir, theme):
    home = tmp_path / ".edgelab"
    model = onnx_model_factory(tmp_path, "theme_model.onnx")
    env = {**os.environ, "EDGELAB_HOME": str(home)}
    out = subprocess.run([sys.executable, "-m", "edgelab.cli", "compare", str(model), "--recipes", "fp32",
                          "--quick", "--batch", "1"], env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    lab = lab_factory(root_dir=tmp_path, env={"EDGELAB_HOME": str(home)})
    page = lab_page(lab)
    page.evaluate(f"window.jupyterapp.commands.execute('apputils:change-theme', {{theme: '{theme}'}})")
    page.wait_for_function(f"document.body.dataset.jpThemeName === '{theme}'", timeout=30_000)
    page.locator(".jp-SideBar [data-id='edgelab-runs']").click()
    page.locator("#edgelab-runs .jp-edgelab-run").first.wait_for(state="visible")
    page.evaluate("window.jupyterapp.commands.execute('docmanager:open', {path: 'theme_model.onnx', factory: 'Netron'})")
    page.frame_locator(".jp-edgelab-netron-frame").locator("#canvas g.node").first.wait_for(state="visible")
    page.wait_for_timeout(500)
    page.screenshot(path=artifacts_dir / f"theme-{theme.split()[-1].lower()}.png")
    bg = page.locator("#edgelab-runs").evaluate("n => getComputedStyle(n).backgroundColor")
    for cls in ("jp-edgelab-run-model", "jp-edgelab-run-date", "jp-edgelab-run-best", "jp-edgelab-runs-title"):
        fg = page.locator(f"#edgelab-runs .{cls}").first.evaluate("n => getComputedStyle(n).color")
        assert _contrast(fg, bg) >= 3.0, (theme, cls, fg, bg)
