"""plotly figures from a Report (pure functions), and the self-contained HTML report page."""
from __future__ import annotations

import html

RUNTIME_COLORS = {"onnxruntime": "#1f77b4", "tvm": "#d62728"}


def _quality_metric(report) -> tuple:
    """(getter, axis label): accuracy when it separates the variants, else agreement with fp32.

    On easy tasks every variant keeps fp32's top-1 exactly; then the cosine of the outputs to fp32's is
    what tells them apart, so that is what the chart shows (and says so).
    """
    ok = [v for v in report.variants if not v.get("error")]
    accs = {(v.get("accuracy") or {}).get("value") for v in ok} - {None}
    if len(accs) > 1:
        metric = next((v["accuracy"]["metric"] for v in ok if v.get("accuracy")), "accuracy")
        return (lambda v: (v.get("accuracy") or {}).get("value")), f"{metric} (measured)"
    return (lambda v: (v.get("agreement") or {}).get("cosine")), "cosine of outputs to fp32 (measured)"


def accuracy_vs_latency(report):
    """Scatter of quality vs measured p50 latency, one colour per runtime, Pareto front drawn."""
    import plotly.graph_objects as go

    fig = go.Figure()
    pts = []
    quality, ylabel = _quality_metric(report)
    for runtime in sorted({v.get("runtime", "?") for v in report.variants}):
        vs = [v for v in report.variants if v.get("runtime") == runtime and not v.get("error")
              and (v.get("latency_ms") or {}).get("p50") is not None]
        xs, ys, texts = [], [], []
        for v in vs:
            q = quality(v)
            if q is None:
                continue
            xs.append(v["latency_ms"]["p50"])
            ys.append(q)
            texts.append(f"{v['id']}<br>p50 {v['latency_ms']['p50']:.3f} ms, {q:.5f}<br>"
                         f"{(v.get('speedup') or {}).get('median') or '-'}x vs fp32")
            pts.append((xs[-1], ys[-1]))
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers+text", name=runtime, text=[t.split("<br>")[0] for t in texts],
                                 textposition="top center", hovertext=texts, hoverinfo="text",
                                 marker={"size": 11, "color": RUNTIME_COLORS.get(runtime)}))
    front = _pareto(pts)
    if front:
        fig.add_trace(go.Scatter(x=[p[0] for p in front], y=[p[1] for p in front], mode="lines",
                                 name="Pareto front", line={"dash": "dot", "color": "#888"}))
    host = report.host.get("label") or report.host.get("cpu", "")
    same = "" if "accuracy" in ylabel or "top1" in ylabel or "mae" in ylabel else \
        "; every variant has the same accuracy, so agreement with fp32 separates them"
    fig.update_layout(title=f"{report.model.get('name')}: accuracy vs latency (batch 1)"
                            f"<br><sub>measured on {host}{same}</sub>",
                      xaxis_title="p50 latency, ms (measured, log scale)", xaxis_type="log",
                      yaxis_title=ylabel, template="plotly_white",
                      height=420, margin={"t": 60, "l": 60, "r": 20, "b": 50})
    return fig


def _pareto(pts):
    """Points not beaten by another that is both faster and at least as accurate."""
    front, best_q = [], float("-inf")
    for x, y in sorted(pts):
        if y > best_q:
            front.append((x, y))
            best_q = y
    return front


def _ok(report):
    return [v for v in report.variants if not v.get("error")]


def _host(report) -> str:
    return report.host.get("label") or report.host.get("cpu", "this host")


def latency_per_profile(report):
    """Grouped bars per variant: measured p50 on this host (solid) and projected latency per profile (hatched)."""
    import plotly.graph_objects as go

    vs = _ok(report)
    ids = [v["id"] for v in vs]
    fig = go.Figure()
    fig.add_trace(go.Bar(name=f"measured on {_host(report)}", x=ids,
                         y=[(v.get("latency_ms") or {}).get("p50") for v in vs], marker={"color": "#2ca02c"}))
    profs = sorted({p for v in vs for p in (v.get("estimates") or {})})
    for p in profs:
        est = [(v.get("estimates") or {}).get(p) or {} for v in vs]
        fig.add_trace(go.Bar(name=f"projected: {p}", x=ids, y=[e.get("latency_ms") for e in est],
                             marker={"pattern": {"shape": "/"}}, hovertext=[e.get("source") or "" for e in est]))
    fig.update_layout(barmode="group", title="Latency per variant: measured here vs projected per profile (batch 1)",
                      yaxis_title="latency, ms", yaxis_type="log" if profs else "linear", template="plotly_white",
                      height=400, margin={"t": 60, "l": 60, "r": 20, "b": 50})
    return fig


def _ram_bytes(profile: dict) -> float | None:
    for k in ("ram_bytes", "memory_bytes", "ram"):
        x = profile.get(k)
        if isinstance(x, dict):
            x = x.get("value")
        if isinstance(x, (int, float)):
            return x
    return None


def memory_vs_ram(report):
    """Peak memory measured per variant (bars) against each profile's RAM (dashed lines)."""
    import plotly.graph_objects as go

    vs = _ok(report)
    fig = go.Figure(go.Bar(name=f"peak memory, measured on {_host(report)}", x=[v["id"] for v in vs],
                           y=[(v.get("peak_memory_bytes") or 0) / 2**20 for v in vs], marker={"color": "#9467bd"}))
    for pid, prof in sorted((report.profiles or {}).items()):
        ram = _ram_bytes(prof if isinstance(prof, dict) else {})
        if ram:
            fig.add_hline(y=ram / 2**20, line_dash="dash", line_color="#888", annotation_text=f"{pid} RAM",
                          annotation_position="top left")
    fig.update_layout(title="Memory: measured peak per variant vs each profile's RAM", yaxis_title="MiB",
                      yaxis_type="log", template="plotly_white", height=380, margin={"t": 60, "l": 60, "r": 20, "b": 50})
    return fig


PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]


def cost_series(savings: dict, *, months: int = 36) -> list[dict]:
    """The lines of `cost_over_months` as plain data: per profile a cloud line, an edge line and a
    break-even marker (empty when there is none within `months`). `savings`: {profile: {cloud_usd_month,
    edge_usd_month, breakeven_months, upfront_usd?, edge_energy_usd_month?}} as `savings.savings` returns;
    with an up-front hardware price the edge line starts there and grows by the energy cost."""
    xs = list(range(months + 1))
    out = []
    for k, (pid, s) in enumerate(sorted((p, s) for p, s in savings.items() if s and s.get("cloud_usd_month") is not None)):
        c, edge = PALETTE[k % len(PALETTE)], s.get("edge_usd_month")
        if s.get("edge_energy_usd_month") is not None:  # hardware bought up front, then energy per month
            up, edge = s.get("upfront_usd") or 0.0, s["edge_energy_usd_month"]
        else:
            up = 0.0
        be = s.get("breakeven_months")
        be_ok = be is not None and 0 <= be <= months
        out += [{"name": f"cloud (for {pid})", "kind": "cloud", "color": c, "x": xs,
                 "y": [s["cloud_usd_month"] * m for m in xs]},
                {"name": f"edge: {pid}", "kind": "edge", "color": c, "x": xs,
                 "y": [up + edge * m for m in xs] if edge is not None else []},
                {"name": f"break-even {pid}", "kind": "breakeven", "color": c, "x": [be] if be_ok else [],
                 "y": [s["cloud_usd_month"] * be] if be_ok else [],
                 "text": [f"break-even {be:.1f} mo"] if be_ok else []}]
    return out


def cost_over_months(savings: dict, *, months: int = 36, title: str = ""):
    """Cumulative cloud vs edge cost per profile (see `cost_series`), each break-even point marked."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for t in cost_series(savings, months=months):
        if t["kind"] == "breakeven":
            fig.add_trace(go.Scatter(x=t["x"], y=t["y"], mode="markers+text", showlegend=False, name=t["name"],
                                     marker={"symbol": "star", "size": 13, "color": t["color"]},
                                     textposition="top left", text=t["text"]))
        else:
            fig.add_trace(go.Scatter(x=t["x"], y=t["y"], name=t["name"],
                                     line={"color": t["color"], "dash": "dot" if t["kind"] == "cloud" else None}))
    fig.update_layout(title=title or "Cloud vs edge cost over time (projected)", xaxis_title="months",
                      yaxis_title="cumulative cost, USD", template="plotly_white", height=380,
                      margin={"t": 60, "l": 60, "r": 20, "b": 50})
    return fig


def layer_sqnr(explanation):
    """Per-layer SQNR (dB) of a quantized variant vs fp32, in graph order; the worst layers marked.

    `explanation`: an edgelab.explain.Explanation or its dict (a variant's `explanation` in a report).
    """
    import plotly.graph_objects as go

    ex = explanation if isinstance(explanation, dict) else explanation.to_dict()
    ts = (ex.get("layers") or {}).get("tensors") or []
    if not ts:
        return None
    worst = {w["tensor"] for w in ex.get("worst") or ()}
    x = [f"{t['order']}: {t['node'] or t['tensor']}" for t in ts]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=[t.get("sqnr_db") for t in ts], mode="lines+markers",
                             name="SQNR vs fp32 model (accumulated)"))
    fig.add_trace(go.Bar(x=x, y=[t.get("bulk_sqnr_db") for t in ts], name="bulk SQNR, this tensor alone",
                         marker={"color": ["#d62728" if t["tensor"] in worst else "#9ecae1" for t in ts]}))
    fig.update_layout(title=f"{ex['variant']}: per-layer SQNR vs fp32, dB (red = worst)<br><sub>measured on {ex.get('host', '')}</sub>",
                      xaxis_title="node (graph order)", yaxis_title="SQNR, dB (higher is better)",
                      template="plotly_white", height=380, margin={"t": 60, "l": 60, "r": 20, "b": 90})
    return fig


def _explanations_html(report) -> str:
    """The "Explanations" section: every variant that carries an `explanation`, with its layer chart."""
    from .explain import Explanation

    parts = []
    for v in report.variants:
        if v.get("explanation"):
            ex = Explanation.from_dict(v["explanation"])
            fig = layer_sqnr(ex)
            parts.append(f"<h3>{html.escape(v['id'])}</h3>{ex._repr_html_()}"
                         + (fig.to_html(full_html=False, include_plotlyjs=False) if fig is not None else ""))
    return f"<h2>Explanations</h2>{''.join(parts)}" if parts else ""


def _profiles_html(report) -> str:
    """Profiles projected onto, each with the projection method's error on published measurements, and prices."""
    if not report.profiles:
        return ""
    e = html.escape
    rows = []
    for pid, p in report.profiles.items():
        v = p.get("validation") or {}
        err = (f"median {v['median']}×, 80th pct {v['p80']}× over {v['n']} published rows" if v
               else "no published measurements to check against")
        df = p.get("device_factor")
        cal = (f"x{df['factor']:g} from {df['n']} published {df['model']} measurements on {df['device']}" if df
               else "none (datasheet only)")
        rows.append(f"<tr><td>{e(pid)}</td><td>{e(str(p.get('name', '')))}</td><td>{e(str(p.get('peak_gops', '')))}"
                    f"</td><td>{(p.get('ram_bytes') or 0) / 2**20:,.0f}</td><td>{e(cal)}</td><td>{e(err)}</td></tr>")
    pr = report.prices or {}
    prices = (f"<p class='meta'>Savings use the price table of {e(str(pr.get('date')))} ({e(str(pr.get('region')))})"
              f"{'; overridden: ' + e(', '.join(pr.get('overridden') or [])) if pr.get('overridden') else ''}.</p>"
              if pr else "")
    return ("<h2>Target profiles (projected, not measured)</h2><table><tr><th>profile</th><th>device</th>"
            "<th>peak GOPS</th><th>RAM MiB</th><th>device factor</th><th>projection error on published measurements</th></tr>"
            + "".join(rows) + "</table>" + prices)


def _op_profiles_html(report) -> str:
    """Per-kernel time of compiled (TVM) variants, as the worker measured it at batch 1."""
    e = html.escape
    out = []
    for v in report.variants:
        prof = v.get("op_profile")
        if not prof:
            continue
        rows = "".join(f"<tr><td>{e(k['name'])}</td><td>{k['calls']}</td><td>{k['mean_us']}</td>"
                       f"<td>{k['total_ms']}</td><td>{k['pct']}</td></tr>" for k in prof["kernels"][:12])
        out.append(f"<h3>{e(v['id'])}: time per kernel (measured on {e(str(prof.get('measured_on')))}, batch "
                   f"{prof.get('batch')})</h3><table><tr><th>kernel</th><th>calls</th><th>mean µs</th>"
                   f"<th>ms per inference</th><th>%</th></tr>{rows}</table>")
    return "<h2>Per-operator profile</h2>" + "".join(out) if out else ""


def report_page(report) -> str:
    """A self-contained HTML page: header, comparison table, charts (plotly.js inlined, no CDN)."""
    from plotly.offline import get_plotlyjs

    from .report import table_html

    figs = [accuracy_vs_latency(report)]
    if any(v.get("estimates") for v in report.variants):  # projections: latency, memory fit, cost
        figs += [latency_per_profile(report), memory_vs_ram(report)]
        ref = report.best() or (report.variants[0] if report.variants else {})
        if ref.get("savings"):
            figs.append(cost_over_months(ref["savings"], months=int((report.workload or {}).get("months", 36)),
                                         title=f"Cloud vs edge cost over time for {ref['id']} (projected)"))
    divs = "".join(f.to_html(full_html=False, include_plotlyjs=False) for f in figs if f is not None)
    e = html.escape
    h = report.host
    sections = ""
    sections += _explanations_html(report)
    sections += _profiles_html(report)
    sections += _op_profiles_html(report)
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>edgelab report: {e(str(report.model.get('name', '')))}</title>
<style>body{{font-family:system-ui,sans-serif;margin:1.5em;color:#222}} table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right}} td:first-child{{text-align:left}}
.meta{{color:#555;font-size:13px}}</style>
<script type="text/javascript">{get_plotlyjs()}</script></head><body>
<h1>edgelab: {e(str(report.model.get('name', '')))}</h1>
<p class="meta">run {e(report.run_id)} · {e(report.created)} · status {e(report.status)} ·
model sha256 {e(str(report.model.get('sha256', ''))[:12])}, {report.model.get('params', 0):,} params,
{(report.model.get('macs') or 0) / 1e6:.1f} M MACs<br>
measured on <b>{e(str(h.get('label') or h.get('cpu')))}</b> · ISA {e(', '.join(h.get('isa', [])))} ·
onnxruntime {e(str(h.get('onnxruntime')))} · onnx {e(str(h.get('onnx')))} · tvm {e(str(h.get('tvm')))}<br>
{e(report.settings.get('method', ''))}</p>
{table_html(report)}
{divs}
{sections}
</body></html>"""

