"""A notebook progress bar for long edgelab steps (the `progress=` callback of compare/run_demo)."""
from __future__ import annotations

import html


class ProgressBar:
    """Displays a bar and the current stage; call it with compare()'s progress events."""

    def __init__(self):
        import ipywidgets as W
        from IPython.display import display

        self.bar = W.IntProgress(value=0, min=0, max=1, description="edgelab", bar_style="info",
                                 layout=W.Layout(width="340px"))
        self.label = W.HTML("starting…")
        self.box = W.HBox([self.bar, self.label])
        self.n = 1
        display(self.box)

    def __call__(self, e: dict):
        from ._html import stage_text

        st = e.get("stage")
        if "n" in e and e.get("n"):
            self.n = e["n"]
            self.bar.max = 3 * self.n
        step = {"build": 0, "evaluate": 1, "evaluated": 1}.get(st)
        if step is not None and e.get("i") is not None:
            self.bar.value = step * self.n + e["i"] + 1
        elif st in ("latency", "load"):
            self.bar.value = max(self.bar.value, 2 * self.n)
        elif st == "done":
            self.bar.value = self.bar.max
            self.bar.bar_style = "success" if e.get("status") in ("complete", "reused") else "warning"
        if st == "error":
            self.bar.bar_style = "warning"
        what = f"{e['variant']}: " if e.get("variant") else ""
        self.label.value = html.escape(what + (stage_text(e) if st != "done" else f"done ({e.get('status')})"))
