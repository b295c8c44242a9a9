"""The comparison of every variant side by side: JSON (the contract), a DataFrame, HTML, `best()`.

Measured figures are labelled with the host they were measured on; projected figures (estimates,
savings) carry the profile they were projected for.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError


@dataclass(frozen=True, eq=False)
class Report:
    """All results of one run. `variants` are dicts in the Report JSON contract (see DESIGN.md)."""

    model: dict
    host: dict
    variants: tuple
    run_id: str = ""
    created: str = ""
    settings: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    profiles: dict = field(default_factory=dict)
    workload: dict = field(default_factory=dict)
    prices: dict = field(default_factory=dict)
    warnings: tuple = ()
    status: str = "complete"

    # ---- access ---------------------------------------------------------------------------------
    def variant(self, variant_id: str) -> dict:
        for v in self.variants:
            if v["id"] == variant_id:
                return v
        raise ConfigError(f"no variant {variant_id!r} in this report; variants: {', '.join(self.ids)}")

    @property
    def ids(self) -> list[str]:
        return [v["id"] for v in self.variants]

    @property
    def reference(self) -> dict | None:
        return next((v for v in self.variants if v["recipe"] == "fp32"), None)

    def best(self, *, max_accuracy_drop: float = 0.01, profile: str | None = None,
             must_fit: bool = True) -> dict | None:
        """The fastest variant whose accuracy (or agreement) dropped by at most `max_accuracy_drop`.

        With `profile`, latency is the projected latency on that profile and, with `must_fit`, only
        variants that fit its memory are considered.
        """
        best, best_ms = None, float("inf")
        for v in self.variants:
            if v.get("error") or not _quality_ok(v, max_accuracy_drop):
                continue
            if profile is not None:
                est = (v.get("estimates") or {}).get(profile)
                if est is None:
                    if profile not in {p for x in self.variants for p in (x.get("estimates") or {})}:
                        raise ConfigError(f"no projections for profile {profile!r} in this report; "
                                          f"projected profiles: {', '.join(self.profiles) or 'none'}")
                    continue
                if must_fit and est.get("fits") is False:
                    continue
                ms = est.get("latency_ms")
            else:
                ms = (v.get("latency_ms") or {}).get("p50")
            if ms is not None and ms < best_ms:
                best, best_ms = v, ms
        return best

    def explain(self, variant_id: str, *, data=None, calibration=None, **kw):
        """Why this variant is (not) faster and which layers cost accuracy (edgelab.explain); the result is
        also stored in the variant dict under `explanation`, so to_json()/to_html() include it."""
        from .explain import explain_report

        return explain_report(self, variant_id, data=data, calibration=calibration, **kw)

    # ---- serialisation --------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"run_id": self.run_id, "created": self.created, "status": self.status, "model": self.model,
                "host": self.host, "settings": self.settings, "data": self.data, "profiles": self.profiles,
                "workload": self.workload, "prices": self.prices, "warnings": list(self.warnings),
                "variants": [dict(v) for v in self.variants]}

    def save_json(self, path) -> Path:
        from .workspace import atomic_write

        return atomic_write(Path(path), json.dumps(self.to_json(), indent=1, default=_default))

    @classmethod
    def from_json(cls, d: dict | str | Path) -> Report:
        if isinstance(d, (str, Path)):
            try:
                d = json.loads(Path(d).read_text())
            except (OSError, ValueError) as e:
                raise ConfigError(f"cannot read report {d}: {e}") from e
        if not isinstance(d, dict) or "variants" not in d or "model" not in d:
            raise ConfigError("not an edgelab report (needs 'model' and 'variants')")
        return cls(model=d["model"], host=d.get("host", {}), variants=tuple(d["variants"]),
                   run_id=d.get("run_id", ""), created=d.get("created", ""), settings=d.get("settings", {}),
                   data=d.get("data", {}), profiles=d.get("profiles", {}), workload=d.get("workload", {}),
                   prices=d.get("prices", {}), warnings=tuple(d.get("warnings", ())), status=d.get("status", ""))

    # ---- views ----------------------------------------------------------------------------------
    def rows(self) -> list[dict]:
        """One flat row per variant: measured columns labelled 'measured', projections by profile."""
        rows = []
        for v in self.variants:
            lat = v.get("latency_ms") or {}
            acc = v.get("accuracy") or {}
            agr = v.get("agreement") or {}
            sp = v.get("speedup") or {}
            row = {"variant": v["id"], "runtime": v.get("runtime"), "precision": v.get("precision"),
                   "size_kib": _r(v.get("size_bytes"), 1024),
                   "p50_ms (measured)": lat.get("p50"), "p90_ms (measured)": lat.get("p90"),
                   "speedup (measured)": sp.get("median"),
                   f"{acc.get('metric', 'accuracy')}": acc.get("value"), "acc_delta": acc.get("delta"),
                   "agree_top1": agr.get("top1"), "cosine": agr.get("cosine"),
                   "sqnr_db": agr.get("sqnr_db"), "max_abs_diff": agr.get("max_abs_diff"),
                   "peak_mem_mib (measured)": _r(v.get("peak_memory_bytes"), 2**20),
                   "error": v.get("error")}
            for batch, st in (v.get("latency_ms_by_batch") or {}).items():
                if batch != "1":
                    row[f"p50_ms b{batch} (measured)"] = st.get("p50")
            for prof, est in (v.get("estimates") or {}).items():
                row[f"{prof} ms (projected)"] = est.get("latency_ms")
                row[f"{prof} fits"] = est.get("fits")
            for prof, sav in (v.get("savings") or {}).items():
                row[f"{prof} saves $/mo (projected)"] = sav.get("savings_usd_month")
            rows.append(row)
        return rows

    def to_dataframe(self):
        import pandas as pd

        return pd.DataFrame(self.rows()).set_index("variant")

    def table(self) -> str:
        """Plain-text comparison table (what the CLI prints)."""
        cols = [("variant", "variant", "{}"), ("runtime", "runtime", "{}"), ("p50_ms (measured)", "p50 ms", "{:.3f}"),
                ("speedup (measured)", "speedup", "{:.2f}x"), ("acc", "accuracy", "{:.4f}"),
                ("acc_delta", "Δacc", "{:+.4f}"), ("agree_top1", "top1=fp32", "{:.4f}"),
                ("cosine", "cosine", "{:.6f}"), ("sqnr_db", "SQNR dB", "{:.1f}"), ("max_abs_diff", "max|Δ|", "{:.2e}"),
                ("size_kib", "KiB", "{:.0f}"), ("peak_mem_mib (measured)", "peak MiB", "{:.1f}")]
        rows = self.rows()
        for r, v in zip(rows, self.variants):
            r["acc"] = (v.get("accuracy") or {}).get("value")
        keys = {k for r in rows for k in r}
        extra = sorted(k for k in keys if k.startswith("p50_ms b")) + sorted(k for k in keys if k.endswith("(projected)"))
        cols += [(k, k.replace(" (projected)", "*").replace(" (measured)", ""), "{:.3f}") for k in extra]
        body = [[_fmt(r.get(k), f) for k, _, f in cols] for r in rows]
        heads = [h for _, h, _ in cols]
        widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(heads)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(heads, widths))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths)) for b in body]
        for r in rows:
            if r.get("error"):
                lines.append(f"! {r['variant']}: {r['error']}")
        lines.append(f"measured on {self.host.get('label') or self.host.get('cpu')}"
                     f" (batch 1, {self.settings.get('threads', '?')} threads); speedup = fp32 p50 / variant p50"
                     " per interleaved round, median"
                     + ("; * = projected" if any(k.endswith("(projected)") for k in extra) else ""))
        lines += [f"* {p}: projected from profile {p}, calibrated on this host{_scaled(info)}; {err}"
                  for p, info, err in self._method_errors()]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def _method_errors(self) -> list[tuple[str, dict, str]]:
        """(profile, its summary, the projection method's error against its published measurements)."""
        from .estimate import method_error

        return [(p, info or {}, method_error(p, (info or {}).get("validation")))
                for p, info in (self.profiles or {}).items()]

    def __repr__(self) -> str:
        return f"Report({self.model.get('name')!r}, {len(self.variants)} variants, {self.status})\n" + self.table()

    def to_html(self) -> str:
        """A self-contained HTML page (plotly.js embedded, works offline)."""
        from .plots import report_page

        return report_page(self)

    def save_html(self, path) -> Path:
        from .workspace import atomic_write

        return atomic_write(Path(path), self.to_html())

    def _repr_html_(self) -> str:
        return table_html(self)


def _scaled(info: dict) -> str:
    from .profiles.reference import describe

    return " and " + describe(info["device_factor"]) if info.get("device_factor") else ""


def _quality_ok(v: dict, max_drop: float) -> bool:
    acc = v.get("accuracy") or {}
    if acc.get("delta") is not None:
        drop = -acc["delta"] if acc.get("higher_is_better", True) else acc["delta"]
        return drop <= max_drop + 1e-12
    agr = v.get("agreement") or {}
    if agr.get("top1") is not None:
        return agr["top1"] >= 1 - max_drop
    if agr.get("cosine") is not None:
        return agr["cosine"] >= 1 - max_drop
    return v.get("recipe") == "fp32"


def _r(x, div):
    return None if x is None else round(x / div, 2)


def _fmt(x, f):
    if x is None:
        return "-"
    try:
        return f.format(x)
    except (ValueError, TypeError):
        return str(x)


def _default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def table_html(report: Report) -> str:
    """The comparison table as escaped HTML (measured and projected columns visibly distinct)."""
    rows = report.rows()
    best = report.best()
    keys = [k for k in rows[0] if k != "error"] if rows else []
    e = html.escape
    head = "".join(f'<th class="{"proj" if "projected" in k else "meas" if "measured" in k else ""}">{e(k)}</th>'
                   for k in keys)
    body = []
    for r in rows:
        mark = ' class="best"' if best is not None and r["variant"] == best["id"] else ""
        cells = "".join(f"<td>{e(_fmt(r.get(k), '{:.4g}' if isinstance(r.get(k), float) else '{}'))}</td>"
                        for k in keys)
        err = f'<tr class="err"><td colspan="{len(keys)}">error: {e(r["error"])}</td></tr>' if r.get("error") else ""
        body.append(f"<tr{mark}>{cells}</tr>{err}")
    host = e(report.host.get("label") or str(report.host.get("cpu", "")))
    return (f'<div class="edgelab-report"><style>.edgelab-report th.proj{{background:#eef3ff;font-style:italic}}'
            f'.edgelab-report th.meas{{background:#f1fbf1}} .edgelab-report tr.best td{{font-weight:bold}}'
            f'.edgelab-report tr.err td{{color:#b00}}</style>'
            f'<p><b>{e(str(report.model.get("name", "")))}</b> — measured on {host}; '
            f'<i>projected</i> columns are estimates per profile; bold = best within 1 point accuracy.</p>'
            f'<table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
            + "".join(f'<p class="warn">warning: {e(w)}</p>' for w in report.warnings) + "</div>")


def variant_html(v) -> str:
    """A Variant (built artifact + lineage) as a short HTML block."""
    e = html.escape
    steps = " → ".join(f"{n}({', '.join(f'{k}={x}' for k, x in o)})" for n, o in v.recipe.steps) or "no pass (reference)"
    return (f"<div><b>{e(v.id)}</b>: {e(v.runtime)}, {e(v.precision)}, {v.size_bytes / 1024:,.0f} KiB, "
            f"{'from cache' if v.cached else f'built in {v.build_s:.1f} s'}<br>recipe: {e(steps)}<br>"
            f"<small>parent sha256 {e(v.parent_sha256[:12])} · <code>{e(str(v.path))}</code></small></div>")


def model_html(m) -> str:
    e = html.escape
    ops = "".join(f"<tr><td>{e(k)}</td><td>{v}</td></tr>" for k, v in list(m.op_histogram.items())[:20])
    ios = "".join(f"<tr><td>{'in' if t in m.inputs else 'out'}</td><td>{e(t.name)}</td><td>{e(str(list(t.shape)))}"
                  f"</td><td>{e(t.dtype)}</td></tr>" for t in m.inputs + m.outputs)
    return (f"<div><b>{e(m.name)}</b>: {m.params:,} params, {m.macs / 1e6:.2f} M MACs (batch 1), "
            f"{m.size_bytes / 1024:.0f} KiB, opset {m.opset}, sha256 {m.sha256[:12]}"
            f"<table>{ios}</table><details><summary>operators</summary><table>{ops}</table></details></div>")
