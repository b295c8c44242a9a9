"""The workbench's Explain panel: after a run, explaining a variant shows findings and the per-layer chart."""
from __future__ import annotations

import pytest

pytest.importorskip("ipywidgets")

from edgelab.widgets import Workbench  # noqa: E402


@pytest.mark.slow
def test_explain_panel_shows_findings_for_a_variant(workdir, quick):
    wb = Workbench(workdir / "tiny.onnx", measure=quick)
    panel = wb.explain_panel
    assert panel.button.disabled and panel.variant.options == ()
    for k, b in wb.recipe_boxes.items():
        b.value = k in ("fp32", "int8-dynamic")
    wb.run_button.click()
    assert wb.wait(timeout=120) and wb.error is None, wb.error
    assert list(panel.variant.options) == ["int8-dynamic"] and not panel.button.disabled
    panel.button.click()
    assert panel.wait(timeout=180)
    ex = panel.explanation
    assert ex is not None and ex.variant == "int8-dynamic", panel.output.value
    assert ex.findings and ex.headline
    assert "int8-dynamic" in panel.output.value and "error:" not in panel.output.value
    assert wb.report.variant("int8-dynamic").get("explanation")  # kept with the report
