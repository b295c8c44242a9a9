"""The interactive workbench widget: pick a model, profiles and recipes, Run/Cancel, results, charts, savings.

    wb = el.Workbench()            # or el.Workbench(model, data), or %edgelab workbench
    wb                              # display it; press Run
    wb.report                       # the Report once a run finished

It only composes what the core returns: `edgelab.compare` runs in a background thread (progress events
drive the bars, `cancel` stops it), `plots.*` draw the figures, `savings` recomputes cost from the finished
Report when a workload slider moves (nothing is re-measured).
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import ipywidgets as W

from . import _html

DEMO, PASSED = "<demo>", "<object>"
DEFAULT_RECIPES = ("fp32", "int8-dynamic", "int8-static")
STAGES = {"build": 1, "evaluate": 2, "evaluated": 2, "load": 3, "latency": 3, "done": 4}
KEEP = "recipe default"


class Workbench(W.VBox):
    """One panel: model → profiles × recipes → Run → table + charts + workload sliders."""

    def __init__(self, model=None, data=None, *, calibration=None, recipes=None, profiles=None, measure=None,
                 workdir: str | Path = "."):
        self._obj, self._data, self._calib, self.measure = model, data, calibration, measure
        self.report = None
        self.error: str | None = None
        self.savings: dict = {}
        self._thread: threading.Thread | None = None
        self._cancel: threading.Event | None = None
        self._pending: dict[str, str] = {}
        self._partial: dict[str, dict] = {}
        self._bars: dict[str, tuple] = {}
        self._last_tick = 0.0
        self.model_picker = W.Dropdown(options=_model_options(model, Path(workdir)), description="model",
                                       layout=W.Layout(width="420px"))
        self.model_facts = W.HTML()
        self.model_picker.observe(lambda _: self._show_facts(), names="value")
        self.profile_boxes = _profile_boxes(profiles)
        self.recipe_boxes = _recipe_boxes(recipes)
        self.calibration = W.Dropdown(options=[KEEP, "minmax", "entropy", "percentile"], description="calibration")
        self.per_channel = W.Dropdown(options=[KEEP, "per-channel", "per-tensor"], description="weights")
        self.tvm_trials = W.IntText(value=0, description="TVM trials", tooltip="MetaSchedule tuning budget "
                                    "(trials) for TVM recipes; 0 = recipe default", layout=W.Layout(width="200px"))
        self.run_button = W.Button(description="Run", button_style="primary", icon="play")
        self.cancel_button = W.Button(description="Cancel", icon="stop", disabled=True)
        self.run_button.on_click(lambda _: self.run())
        self.cancel_button.on_click(lambda _: self.cancel())
        self.status = W.HTML("Pick a model, profiles and recipes, then press Run.")
        self.progress_box = W.VBox()
        self.table = W.HTML(_html.results_table())
        self.figures = {k: _figure_widget() for k in ("pareto", "latency", "memory", "cost")}
        self.requests = W.FloatLogSlider(value=1e5, base=10, min=2, max=9, step=0.1, description="requests/day", style={"description_width": "90px"},
                                         readout_format=".3g", continuous_update=True)
        self.devices = W.IntSlider(value=1, min=1, max=1000, description="devices")
        self.cloud = W.Dropdown(options=_cloud_options(), description="cloud")
        self.electricity = W.FloatSlider(value=0.25, min=0.0, max=1.0, step=0.01, description="$/kWh",
                                         readout_format=".2f")
        for w in (self.requests, self.devices, self.cloud, self.electricity):
            w.observe(lambda _: self.update_savings(), names="value")
        box = lambda title, *ch: W.VBox([W.HTML(f"<b>{title}</b>"), *ch])  # noqa: E731
        charts = W.VBox([self.figures[k] for k in ("pareto", "latency", "memory", "cost")])
        charts.add_class("edgelab-live-charts")
        self.export_charts = W.HTML()  # the same charts, static, for an HTML export (see _html.export_snapshot)
        from .explain_panel import ExplainPanel

        self.explain_panel = ExplainPanel(lambda: self._run_data)
        self._run_data = (None, None)
        super().__init__([
            W.HBox([box("Model", self.model_picker, self.model_facts)]),
            box("Target profiles (hover for specs and sources)", _grid(self.profile_boxes.values())),
            box("Recipes (hover for what they do)", _grid(self.recipe_boxes.values()),
                W.HBox([self.calibration, self.per_channel, self.tvm_trials])),
            W.HBox([self.run_button, self.cancel_button, self.status]),
            self.progress_box, box("Results", self.table),
            box("Workload (savings update without re-measuring)",
                W.HBox([self.requests, self.devices]), W.HBox([self.cloud, self.electricity])),
            charts, self.export_charts, self.explain_panel,
        ])
        self.add_class("edgelab-workbench")
        self._show_facts()

    def __repr__(self) -> str:
        state = "running" if self.running else (f"report {self.report.run_id}" if self.report is not None
                                                  else (f"error: {self.error}" if self.error else "not run yet"))
        return f"Workbench(model={self.model_picker.label!r}, {state})"

    def _repr_mimebundle_(self, **kwargs):
        """The widget view, plus what a page without the widget state shows instead (an HTML export
        from JupyterLab, where saving widget state is off by default): how to keep the workbench."""
        data = super()._repr_mimebundle_(**kwargs)
        data["text/html"] = ('<div class="edgelab-no-widget-state"><b>edgelab workbench</b> (an interactive widget; '
                             "this page has no saved widget state). To keep the workbench and its charts in an "
                             "HTML export, turn on <i>Settings → Save Widget State Automatically</i> in JupyterLab "
                             "(or execute with nbclient/nbconvert, which store it), save, then export. The results "
                             "also live in <code>wb.report</code>: <code>wb.report.to_html()</code> is a standalone "
                             "page.</div>")
        return data

    # ---- selection --------------------------------------------------------------------------------
    def _show_facts(self):
        try:
            self.model_facts.value = self._model()._repr_html_()
        except Exception as e:  # noqa: BLE001 — shown, not raised: the picker must stay usable
            self.model_facts.value = f'<span style="color:#b00">{_html.html.escape(_one_line(e))}</span>'

    def _model(self):
        from ..model import load

        key = self.model_picker.value
        if key == PASSED:
            return self._obj if hasattr(self._obj, "sha256") else load(self._obj)
        if key == DEMO:
            from ..demo import digits_model_path

            return load(digits_model_path(), name="digits_cnn")
        return load(key)

    def _datasets(self):
        if self.model_picker.value == DEMO:
            from ..data import Dataset

            return Dataset.demo_digits("test"), Dataset.demo_digits("train").take(256)
        if self.model_picker.value == PASSED:
            return self._data, self._calib
        return None, None

    @property
    def selected_profiles(self) -> list[str]:
        return [k for k, b in self.profile_boxes.items() if b.value]

    def selected_recipes(self) -> list:
        """Recipe objects for the ticked recipes, with the main options applied where a step has them."""
        from ..passes import get
        from ..variant import Recipe, recipes

        named, out = recipes(), []
        for name in [k for k, b in self.recipe_boxes.items() if b.value]:
            r, steps, tags = named[name], [], []
            for pname, opts in r.steps:
                o, names = dict(opts), {x["name"] for x in get(pname).options()}
                for opt, val in self._overrides():
                    if opt in names and o.get(opt, _default(get(pname), opt)) != val:
                        o[opt] = val
                        tags.append(f"{opt}={val}")
                steps.append((pname, o))
            out.append(Recipe(f"{name}[{','.join(tags)}]" if tags else name, steps, r.description))
        return out

    def _overrides(self):
        if self.calibration.value != KEEP:
            yield "calibration", self.calibration.value
        if self.per_channel.value != KEEP:
            yield "per_channel", self.per_channel.value == "per-channel"
        if self.tvm_trials.value > 0:
            for opt in ("trials", "max_trials", "tuning_trials"):
                yield opt, int(self.tvm_trials.value)

    # ---- run ----------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self, *, block: bool = False):
        """Start `compare` in a background thread (what the Run button does); `block` waits for it."""
        if self.running:
            return self
        from ..workbench import _recipes

        try:
            model, (data, calib) = self._model(), self._datasets()
            recipes = _recipes(self.selected_recipes())
        except Exception as e:  # noqa: BLE001 — a bad selection is shown as one line
            self._finish(None, _one_line(e))
            return self
        self.report, self.error, self._cancel = None, None, threading.Event()
        self._pending = {r.name: "queued" for r in recipes}
        self._partial = {}
        self._bars = {r.name: (W.IntProgress(value=0, max=4, description=r.name, bar_style="info",
                                             style={"description_width": "160px"}), W.Label("queued"))
                      for r in recipes}
        self.progress_box.children = [W.HBox(list(b)) for b in self._bars.values()]
        self.table.value = _html.results_table(None, self._pending)
        self.status.value = f"running {len(recipes)} variants of <b>{_html.html.escape(model.name)}</b>…"
        self.run_button.disabled, self.cancel_button.disabled = True, False
        self._run_data = (data, calib)
        args = (model, data, calib, recipes, self.selected_profiles, self._cancel)
        self._thread = threading.Thread(target=self._work, args=args, daemon=True, name="edgelab-workbench")
        self._thread.start()
        if block:
            self.wait()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a running job; True when nothing is running any more."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def cancel(self):
        """Stop the run (what the Cancel button does); finished variants are kept."""
        if self._cancel is not None and self.running:
            self._cancel.set()
            self.status.value = "cancelling…"
            self.cancel_button.disabled = True

    def _work(self, model, data, calib, recipes, profiles, cancel):
        from ..errors import EdgelabError
        from ..workbench import compare

        report, err = None, None
        try:
            report = compare(model, data=data, calibration=calib, recipes=recipes, profiles=profiles,
                             workload=self.workload(), measure=self.measure, progress=self._on_progress,
                             cancel=cancel)
        except (EdgelabError, KeyboardInterrupt) as e:
            err = "cancelled" if isinstance(e, KeyboardInterrupt) else _one_line(e)
        except Exception as e:  # noqa: BLE001 — the kernel must survive; say what happened
            err = f"{type(e).__name__}: {_one_line(e)}"
        self._finish(report, err)

    def _on_progress(self, e: dict):
        st, vid = e.get("stage"), e.get("variant")
        now = time.monotonic()
        if st == "latency" and "rounds" in e and now - self._last_tick < 0.25:
            return  # hundreds of rounds per second: redraw a few times a second only
        self._last_tick = now
        targets = [vid] if vid in self._bars else (
            [k for k, s in self._pending.items() if s != "failed"] if st in ("latency", "done") else [])
        for k in targets:
            bar, label = self._bars[k]
            if st == "error":
                bar.bar_style, self._pending[k] = "danger", "failed"
            else:
                bar.value = max(bar.value, STAGES.get(st, bar.value))
            label.value = _html.stage_text(e)
            if self._pending.get(k) != "failed":
                self._pending[k] = label.value
        if st == "evaluated":  # accuracy and memory are known now; timing comes from the interleaved rounds
            self._partial[vid] = e["row"]
        if st in ("evaluate", "evaluated", "error", "latency", "load"):
            self.table.value = _html.results_table(None, self._pending, partial=list(self._partial.values()))

    def _finish(self, report, err):
        self.report, self.error = report, err
        self.run_button.disabled, self.cancel_button.disabled = False, True
        for bar, _ in self._bars.values():
            if report is not None and bar.bar_style != "danger":
                bar.value, bar.bar_style = bar.max, "success" if report.status == "complete" else "warning"
        if report is None:
            self.status.value = f'<span style="color:#b00">error: {_html.html.escape(err or "")}</span>'
            return
        for vid, (bar, label) in self._bars.items():
            v = next((x for x in report.variants if x["id"] == vid), None)
            label.value = (f"error: {str(v['error']).splitlines()[0]}" if v and v.get("error") else "done")
            if v and v.get("error"):
                bar.bar_style = "danger"
        self.status.value = (f"run <code>{report.run_id}</code>: {report.status}, "
                             f"{sum(not v.get('error') for v in report.variants)}/{len(report.variants)} variants measured")
        self._pending = {}
        from .. import plots

        _set_figure(self.figures["pareto"], plots.accuracy_vs_latency(report))
        _set_figure(self.figures["latency"], plots.latency_per_profile(report))
        _set_figure(self.figures["memory"], plots.memory_vs_ram(report))
        self.explain_panel.set_report(report)
        self.update_savings()

    # ---- savings (no re-measuring) -------------------------------------------------------------------
    def workload(self):
        """The Workload the sliders describe (None while edgelab.savings is not installed)."""
        from ._savings import make_workload

        return make_workload(self.requests.value, self.devices.value)

    def best_per_profile(self) -> dict:
        from ..errors import ConfigError

        out = {}
        for p in (self.report.profiles if self.report is not None else {}) or {}:
            try:
                b = self.report.best(profile=p)
            except ConfigError:
                continue
            if b is not None:
                out[p] = b["id"]
        return out

    def update_savings(self):
        """Recompute savings from the finished report and the sliders; redraw table and cost chart."""
        if self.report is None:
            return
        from .. import plots
        from ._savings import savings_for

        best = self.best_per_profile()
        self.savings = savings_for(self.report, self.workload(), best, cloud=self.cloud.value,
                                   electricity_usd_per_kwh=self.electricity.value)
        self.table.value = _html.results_table(self.report, None, best, self.savings)
        title = f"Cloud ({self.cloud.value}) vs edge cost, {self.requests.value:,.0f} requests/day (projected)"
        fw, series = self.figures["cost"], plots.cost_series(self.savings)
        if fw.data and [t.name for t in fw.data] == [s["name"] for s in series]:
            with fw.batch_update():  # same lines, new numbers: update in place (a new figure costs ~100 ms)
                for t, s in zip(fw.data, series):
                    t.x, t.y = s["x"], s["y"]
                    if "text" in s:
                        t.text = s["text"]
                fw.layout.title.text = title
        else:
            _set_figure(fw, plots.cost_over_months(self.savings, title=title))
        self.export_charts.value = _html.export_snapshot(self.figures.values())


def _one_line(e) -> str:
    s = str(e).strip()
    return s.splitlines()[0] if s else type(e).__name__


def _default(info, opt):
    return next((o["default"] for o in info.options() if o["name"] == opt), None)


def _figure_widget():
    import plotly.graph_objects as go

    fw = go.FigureWidget()
    fw.update_layout(template="plotly_white", height=360, title="(run to see this chart)",
                     margin={"t": 60, "l": 60, "r": 20, "b": 50})
    return fw


def _set_figure(fw, fig):
    fw.data = []
    fw.add_traces(list(fig.data))
    fw.layout = fig.layout


def _grid(children):
    return W.GridBox(list(children), layout=W.Layout(grid_template_columns="repeat(auto-fill, 170px)"))


def _model_options(model, workdir: Path) -> list:
    from ..demo import digits_model_path

    opts = []
    if model is not None:
        name = getattr(model, "name", None) or (Path(model).name if isinstance(model, (str, Path)) else
                                                type(model).__name__)
        opts.append((f"passed in: {name}", PASSED))
    opts.append(("bundled demo: digits CNN" + ("" if digits_model_path().exists() else " (not installed)"), DEMO))
    opts += [(f"./{p.name}", str(p)) for p in sorted(workdir.glob("*.onnx"))]
    return opts


def _profile_boxes(selected) -> dict:
    from ._savings import profile_catalog

    sel = set(selected or ())
    return {pid: W.Checkbox(value=pid in sel, description=pid, indent=False, tooltip=_html.profile_tooltip(p),
                            layout=W.Layout(width="165px")) for pid, p in profile_catalog().items()}


def _recipe_boxes(selected) -> dict:
    from ..variant import recipes

    sel = set(selected or DEFAULT_RECIPES)
    return {n: W.Checkbox(value=n in sel, description=n, indent=False, tooltip=r.description,
                          layout=W.Layout(width="165px")) for n, r in recipes().items()}


def _cloud_options() -> list:
    from ._savings import cloud_options

    return cloud_options()
