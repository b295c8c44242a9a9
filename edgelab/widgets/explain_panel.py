"""The workbench's "Explain" panel: why a variant is (not) faster and which layers cost accuracy.

It only composes edgelab.explain (run in a background thread, profiling in worker processes) and
edgelab.plots.layer_sqnr; nothing is computed here.
"""
from __future__ import annotations

import html
import threading

import ipywidgets as W

from . import _html


class ExplainPanel(W.VBox):
    """Pick a variant of the finished run, press Explain, read the ranked findings and the per-layer chart."""

    def __init__(self, datasets):
        from .workbench import _figure_widget

        self._datasets = datasets  # () -> (data, calibration) the run used
        self.report = None
        self.explanation = None
        self._thread: threading.Thread | None = None
        self.variant = W.Dropdown(options=[], description="variant", disabled=True)
        self.button = W.Button(description="Explain", icon="search", disabled=True,
                               tooltip="profile the variant against fp32 and measure per-layer error")
        self.button.on_click(lambda _: self.explain())
        self.output = W.HTML("Run first; then pick a variant and press Explain.")
        self.figure = _figure_widget()
        live = W.VBox([self.figure])
        live.add_class("edgelab-live-charts")
        self.export_chart = W.HTML()  # the same chart, static, for an HTML export (see _html.export_snapshot)
        super().__init__([W.HTML("<b>Explain a variant</b>"), W.HBox([self.variant, self.button]), self.output,
                          live, self.export_chart])

    def set_report(self, report):
        self.report = report
        ids = [v["id"] for v in report.variants if v["id"] != "fp32" and not v.get("error")] if report else []
        self.variant.options = ids
        self.variant.value = ids[0] if ids else None
        self.variant.disabled = self.button.disabled = not ids

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def explain(self):
        if self.running or self.report is None or not self.variant.value:
            return
        vid = self.variant.value
        self.button.disabled = True
        self.output.value = f"explaining <b>{html.escape(vid)}</b>: profiling it and fp32 in workers…"
        self._thread = threading.Thread(target=self._work, args=(vid,), daemon=True)
        self._thread.start()

    def _work(self, vid: str):
        from .. import plots
        from .workbench import _set_figure

        data, calib = self._datasets()
        try:
            ex = self.report.explain(vid, data=data, calibration=calib)
            self.explanation = ex
            self.output.value = ex._repr_html_()
            if ex.layers:
                _set_figure(self.figure, plots.layer_sqnr(ex))
                self.export_chart.value = _html.export_snapshot([self.figure])
        except Exception as e:  # noqa: BLE001 — one readable line, the kernel lives on
            self.output.value = f'<span style="color:#b00">error: {html.escape(str(e).splitlines()[0])}</span>'
        finally:
            self.button.disabled = False
