"""plotly figures from a Report (pure functions), and the self-contained HTML report page."""
from __future__ import annotations

import html

RUNTIME_COLORS = {"onnxruntime": "#1f77b4", "tvm": "#d62728"}


def _quality(v: dict) -> tuple[float | None, str]:
    acc = v.get("accuracy") or {}
    if acc.get("value") is not None:
        return acc["value"], f"{acc['metric']} (measured)"
    agr = v.get("agreement") or {}
    if agr.get("cosine") is not None:
        return agr["cosine"], "cosine to fp32 (measured)"
    return None, "quality"


def accuracy_vs_latency(report):
    """Scatter of quality vs measured p50 latency, one colour per runtime, Pareto front drawn."""
    import plotly.graph_objects as go

    fig = go.Figure()
    pts = []
    ylabel = "quality"
    for runtime in sorted({v.get("runtime", "?") for v in report.variants}):
        vs = [v for v in report.variants if v.get("runtime") == runtime and not v.get("error")
              and (v.get("latency_ms") or {}).get("p50") is not None]
        xs, ys, texts = [], [], []
        for v in vs:
            q, ylabel = _quality(v)
            if q is None:
                continue
            xs.append(v["latency_ms"]["p50"])
            ys.append(q)
            texts.append(f"{v['id']}<br>p50 {v['latency_ms']['p50']:.3f} ms, {q:.4f}<br>"
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
    fig.update_layout(title=f"{report.model.get('name')}: accuracy vs latency (measured on {host}, batch 1)",
                      xaxis_title="p50 latency, ms (measured)", yaxis_title=ylabel, template="plotly_white",
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


def report_page(report) -> str:
    """A self-contained HTML page: header, comparison table, charts (plotly.js inlined, no CDN)."""
    from plotly.offline import get_plotlyjs

    from .report import table_html

    figs = [accuracy_vs_latency(report)]
    divs = "".join(f.to_html(full_html=False, include_plotlyjs=False) for f in figs if f is not None)
    e = html.escape
    h = report.host
    sections = ""
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

