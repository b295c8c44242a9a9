"""HTML pieces of the workbench widget: the results table (measured vs projected), progress text, facts.

Pure string composition from what the core returns (Report dicts, progress events); no computation.
"""
from __future__ import annotations

import html

STYLE = """<style>
.elw{overflow-x:auto;max-width:100%}
.elw table{border-collapse:collapse;font-size:12px;margin:4px 0}
.elw td,.elw th{border:1px solid #ddd;padding:2px 6px;text-align:right;white-space:nowrap}
.elw td:first-child,.elw th:first-child{text-align:left}
.elw th.meas,.elw td.meas{background:#f1fbf1}
.elw th.proj,.elw td.proj{background:#eef3ff;font-style:italic;color:#234}
.elw td.err{color:#b00;text-align:left;white-space:normal}
.elw .best{font-weight:bold}
.elw .legend{font-size:11px;color:#555}
</style>"""


def _f(x, fmt="{:.3g}"):
    if x is None:
        return "–"
    try:
        return fmt.format(x)
    except (TypeError, ValueError):
        return html.escape(str(x))


def quality(v: dict) -> str:
    acc = v.get("accuracy") or {}
    if acc.get("value") is not None:
        d = acc.get("delta")
        return f"{acc['value']:.4f}" + (f" ({d:+.4f})" if d else "")
    agr = v.get("agreement") or {}
    if agr.get("cosine") is not None:
        return f"cos {agr['cosine']:.5f}"
    return "–"


def results_table(report=None, pending: dict | None = None, best: dict | None = None,
                  savings: dict | None = None, partial: list | None = None) -> str:
    """The comparison table.

    `report`: a finished Report (or None while running); `partial`: variant rows already evaluated
    (accuracy, memory; timing comes at the end); `pending`: {variant: stage text} for variants not finished yet; `best`: {profile: variant id}; `savings`: {profile: savings dict of the best variant}.
    """
    e = html.escape
    rows = list(report.variants) if report is not None else list(partial or [])
    profs = sorted({p for v in rows for p in (v.get("estimates") or {})})
    host = ""
    if report is not None:
        host = e(str(report.host.get("label") or report.host.get("cpu", "")))
    head = ('<tr><th>variant</th><th>runtime</th>'
            f'<th class="meas" title="measured on {host}">p50 ms</th><th class="meas">speed-up</th>'
            '<th class="meas">accuracy / agreement</th><th class="meas">size KiB</th><th class="meas">peak MiB</th>'
            + "".join(f'<th class="proj" title="projected from profile {e(p)}">{e(p)} ms*</th>' for p in profs)
            + "</tr>")
    body = []
    best = dict(best or {})
    here = report.best() if report is not None else None
    if here is not None:
        best["here (measured)"] = here["id"]
    best_ids = {vid: [p for p, b in best.items() if b == vid] for vid in set(best.values())}
    for v in rows:
        lat = v.get("latency_ms") or {}
        sp = (v.get("speedup") or {}).get("median")
        marks = best_ids.get(v["id"], [])
        name = e(v["id"]) + ("".join(f' <span title="best for {e(p)}">★{e(p)}</span>' for p in marks))
        cls = ' class="best"' if marks else ""
        if v.get("error"):
            body.append(f'<tr{cls}><td>{name}</td><td>{e(str(v.get("runtime", "")))}</td>'
                        f'<td class="err" colspan="{5 + len(profs)}">{e(str(v["error"]).splitlines()[0])}</td></tr>')
            continue
        cells = [f"<td>{name}</td>", f"<td>{e(str(v.get('runtime', '')))}</td>",
                 f'<td class="meas">{_f(lat.get("p50"), "{:.4f}")}</td>',
                 f'<td class="meas">{_f(sp, "{:.2f}x")}</td>', f'<td class="meas">{quality(v)}</td>',
                 f'<td class="meas">{_f((v.get("size_bytes") or 0) / 1024, "{:.0f}")}</td>',
                 f'<td class="meas">{_f((v.get("peak_memory_bytes") or 0) / 2**20, "{:.1f}")}</td>']
        for p in profs:
            est = (v.get("estimates") or {}).get(p) or {}
            fits = "" if est.get("fits") is not False else " ✗ does not fit"
            cells.append(f'<td class="proj" title="{e(str(est.get("source", "")))}">'
                         f'{_f(est.get("latency_ms"), "{:.3g}")}{fits}</td>')
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    for vid, stage in (pending or {}).items():
        if any(v["id"] == vid for v in rows):
            continue
        body.append(f'<tr><td>{e(vid)}</td><td colspan="{6 + len(profs)}" style="text-align:left;color:#777">'
                    f'{e(stage)}</td></tr>')
    legend = (f'<div class="legend">green columns: <b>measured</b> on {host or "this host"} (batch 1); '
              'blue italic columns (*): <b>projected</b> per profile, not measured; ★ = best variant per profile '
              '(fastest within 1 point of fp32 accuracy that fits).</div>') if rows else ""
    sav = savings_table(savings) if savings else ""
    if report is not None and report.warnings:
        legend += "".join(f'<div class="legend">warning: {e(w)}</div>' for w in report.warnings)
    return f'{STYLE}<div class="elw"><table>{head}{"".join(body)}</table>{legend}{sav}</div>'


def savings_table(savings: dict) -> str:
    """{profile: {variant, cloud_usd_month, edge_usd_month, savings_usd_month, breakeven_months}} as HTML."""
    e = html.escape
    rows = "".join(
        f'<tr><td>{e(p)}</td><td>{e(str(s.get("variant", "")))}</td><td class="proj">{_f(s.get("cloud_usd_month"), "{:,.2f}")}</td>'
        f'<td class="proj">{_f(s.get("edge_usd_month"), "{:,.2f}")}</td>'
        f'<td class="proj">{_f(s.get("savings_usd_month"), "{:,.2f}")}</td>'
        f'<td class="proj">{_f(s.get("breakeven_months"), "{:.1f}")}</td></tr>'
        for p, s in sorted(savings.items()) if s)
    return ('<table class="savings"><tr><th>profile</th><th>best variant</th><th class="proj">cloud $/mo*</th>'
            '<th class="proj">edge $/mo*</th><th class="proj">saves $/mo*</th><th class="proj">break-even months*</th>'
            f'</tr>{rows}</table><div class="legend">* projected from the workload below and the profile; '
            'nothing is re-measured when the sliders move.</div>')


def stage_text(e: dict) -> str:
    """One short line for a progress event (mirrors the CLI's wording)."""
    st = e.get("stage")
    if st == "latency" and "rounds" in e:
        return f"timing (interleaved), batch {e['batch']}: round {e['rounds']}, {e['elapsed_s']:.1f} s"
    if st == "load":
        return "loading for timing"
    if st == "error":
        return f"error: {str(e.get('message', '')).splitlines()[0] if e.get('message') else ''}"
    return {"build": "building", "evaluate": "evaluating (outputs, peak memory)",
            "evaluated": "evaluated; waiting for the interleaved timing",
            "latency": "timing (interleaved)"}.get(st, str(st))


def profile_tooltip(p) -> str:
    """Key specs and the source of each figure of a Profile (or a dict like its summary()) as hover text."""
    d = p.summary() if hasattr(p, "summary") else dict(p)
    lines = [f"{d.get('name') or d.get('id', '')} [{d.get('kind', '')}]"]
    if d.get("cores"):
        lines.append(f"{d['cores']} cores, {d.get('clock_ghz', '?')} GHz")
    for prec, g in (d.get("peak_gops") or {}).items():
        lines.append(f"peak {prec}: {g} G{'OP' if prec == 'int8' else 'FLOP'}/s ({(d.get('precisions') or {}).get(prec, '')})")
    if d.get("ram_bytes"):
        lines.append(f"RAM {d['ram_bytes'] / 2**20:,.0f} MiB, bandwidth {d.get('mem_bandwidth_gbs', '?')} GB/s")
    if d.get("power_w") or d.get("price_usd") or d.get("usd_per_hour"):
        lines.append(f"power {d.get('power_w', '?')} W, price {d.get('price_usd') or '-'} USD"
                     + (f", {d['usd_per_hour']} USD/h" if d.get("usd_per_hour") else ""))
    if d.get("device_factor"):
        from ..profiles.reference import describe

        lines.append("projections " + describe(d["device_factor"]))
    for k, src in list((getattr(p, "sources", None) or d.get("sources") or {}).items())[:8]:
        if isinstance(src, dict):
            src = src.get("source") or src.get("derived") or ""
            src = f"{src}" if not isinstance(src, dict) else ""
        lines.append(f"source {k}: {src}")
    return "\n".join(lines)


def export_snapshot(figures) -> str:
    """The charts as a static plotly page in an iframe: what an HTML export of the notebook shows.

    The live charts are plotly FigureWidgets (anywidget modules), which nbconvert's widget renderer cannot
    load: a saved notebook exported to HTML shows a broken-widget icon where each chart was. This snapshot
    travels in the widget state as a plain HTML widget. In a live Jupyter page (JupyterLab, Notebook 7) it
    stays hidden and loads nothing, since the FigureWidgets above draw the same figures; anywhere else it
    hides the broken live charts and draws the figures with plotly.js from plotly's CDN (the exported page
    already needs the network for its widget renderer). Place it right after the box of live charts it
    stands in for, and give that box the class "edgelab-live-charts".
    """
    import plotly.io as pio
    from plotly.io._html import plotly_cdn_url

    figs = [f for f in figures if f.data]
    if not figs:
        return ""
    height = sum(int(f.layout.height or 360) + 10 for f in figs)
    divs = "".join(f'<div id="f{i}" style="height:{int(f.layout.height or 360)}px;margin-bottom:10px"></div>'
                   for i, f in enumerate(figs))
    data = ("[" + ",".join(pio.to_json(f, validate=False) for f in figs) + "]").replace("</", "<\\/")
    doc = f"""<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0">{divs}
<script>
(function () {{
  var frame = window.frameElement, live = true;
  try {{ live = !!window.parent.document.getElementById("jupyter-config-data"); }} catch (e) {{}}
  if (live || !frame) return;
  frame.style.display = "block";
  var live_box = frame.closest(".widget-html").previousElementSibling;  // the FigureWidgets it stands in for
  if (live_box && live_box.classList.contains("edgelab-live-charts")) live_box.style.display = "none";
  var figs = {data};
  var s = document.createElement("script");
  s.src = "{plotly_cdn_url()}";
  s.onload = function () {{
    figs.forEach(function (f, i) {{ Plotly.newPlot("f" + i, f.data, f.layout, {{responsive: true}}); }});
  }};
  s.onerror = function () {{
    document.body.insertAdjacentHTML("afterbegin", "<p>edgelab: the charts need plotly.js from {plotly_cdn_url()}, which did not load (offline?).</p>");
  }};
  document.head.appendChild(s);
}})();
</script></body></html>"""
    return (f'<iframe class="edgelab-export-charts" title="edgelab charts (static snapshot for exported pages)" '
            f'style="display:none;width:100%;height:{height}px;border:0" srcdoc="{html.escape(doc, quote=True)}">'
            "</iframe>")

