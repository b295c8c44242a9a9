"""Text and HTML views of an Explanation (the HTML block is what the notebook panel and report show)."""
from __future__ import annotations

import html as _html


def _mix_line(mx: dict) -> str:
    def q(v):
        a = v.get("agreement") or {}
        sp = (v.get("speedup") or {}).get("median")
        return (f"top-1 agreement {a.get('top1')}, cosine {a.get('cosine')}, "
                f"speed-up {sp if sp is not None else '-'}x vs fp32")
    if mx["mixed"].get("error"):
        return f"mixed-precision variant failed: {mx['mixed']['error']}"
    return (f"keeping {', '.join(mx['excluded_nodes'])} in fp32: {q(mx['variant'])} → {q(mx['mixed'])} "
            f"(measured on {mx.get('measured_on')})")


def text(ex) -> str:
    lines = [ex.headline, f"({ex.host})"]
    for i, f in enumerate(ex.findings, 1):
        lines.append(f"{i}. {f['title']}: {f['detail']}")
        if f.get("recipe"):
            lines.append(f"   try: {_recipe_text(f['recipe'])}")
    if ex.layers:
        lines.append(f"layers ({ex.layers['method']}, {ex.layers['samples']} samples); "
                     f"output SQNR: " + ", ".join(f"{k} {v} dB" for k, v in ex.layers["outputs"].items()))
        for w in ex.worst:
            lines.append(f"  worst: {w['why']}")
    if ex.mixed:
        lines.append("mixed precision: " + _mix_line(ex.mixed))
        lines.append(f"   recipe: {_recipe_text(ex.mixed['recipe'])}")
    lines += [f"note: {n}" for n in ex.notes]
    return "\n".join(lines)


def _recipe_text(r: dict) -> str:
    steps = " → ".join(f"{s['pass']}(" + ", ".join(f"{k}={v}" for k, v in (s.get("options") or {}).items()) + ")"
                       for s in r["steps"])
    return f"{r['name']}: {steps}"


def html_block(ex) -> str:
    e = _html.escape
    items = []
    for f in ex.findings:
        rec = f'<div class="rec">try <code>{e(_recipe_text(f["recipe"]))}</code></div>' if f.get("recipe") else ""
        share = f" <span class='share'>({f['share']:.0%} of a call)</span>" if f.get("share") else ""
        items.append(f"<li><b>{e(f['title'])}</b>{share}: {e(f['detail'])}{rec}</li>")
    worst = "".join(f"<li>{e(w['why'])}</li>" for w in ex.worst)
    lay = ""
    if ex.layers:
        rows = "".join(
            f"<tr><td>{t['order']}</td><td>{e(t['node'])}</td><td>{e(t['op_type'])}</td><td>{e(t['tensor'])}</td>"
            f"<td>{_n(t.get('sqnr_db'))}</td><td>{_n(t.get('local_sqnr_db'))}</td><td>{_n(t.get('bulk_sqnr_db'))}</td>"
            f"<td>{_n(t.get('outlier_ratio'))}</td></tr>" for t in ex.layers["tensors"])
        lay = (f"<details><summary>per-layer error ({e(ex.layers['method'])}, {ex.layers['samples']} samples)"
               f"</summary><table><tr><th>#</th><th>node</th><th>op</th><th>tensor</th><th>SQNR dB vs fp32</th>"
               f"<th>local dB</th><th>bulk dB</th><th>max/p90</th></tr>{rows}</table></details>")
    mix = f"<p><b>Mixed precision</b>: {e(_mix_line(ex.mixed))}</p>" if ex.mixed else ""
    notes = "".join(f"<p class='note'>note: {e(n)}</p>" for n in ex.notes)
    return (f'<div class="edgelab-explain"><p><b>{e(ex.headline)}</b><br><small>{e(ex.host)}</small></p>'
            f"<ol>{''.join(items)}</ol>" + (f"<p>Worst layers:</p><ul>{worst}</ul>" if worst else "")
            + lay + mix + notes + "</div>")


def _n(x):
    return "-" if x is None else f"{x:g}"
