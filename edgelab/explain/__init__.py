"""Explain a variant: why it is (not) faster than fp32, and which layers cost the accuracy.

    >>> ex = el.explain(model, "int8-static", data=ds)       # or report.explain("int8-static")
    >>> print(ex.text()); ex                                  # ranked findings with numbers; HTML in Jupyter
    >>> el.compare(model, ds, recipes=[ex.suggestions[0]])    # a suggested recipe, runnable in one call

Speed: profiled in a worker (edgelab.explain.profile) and compared with the parent (explain.speed).
Accuracy: per-tensor SQNR (explain.layers), the worst layers, and a mixed-precision variant keeping
them in fp32 (`nodes_to_exclude`), built and measured against the variant.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..errors import ConfigError

WORST_DB = 20.0  # a quantized tensor whose local or bulk SQNR is below this is a suspect layer


@dataclass(frozen=True)
class Explanation:
    """Why `variant` behaves as it does, from evidence measured on `host`. JSON-able via `to_dict()`."""

    variant: str
    parent: str
    host: str
    headline: str
    findings: tuple = ()
    families: dict = field(default_factory=dict)
    layers: dict | None = None
    worst: tuple = ()
    mixed: dict | None = None
    notes: tuple = ()

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Explanation:
        return cls(**{k: tuple(v) if k in ("findings", "worst", "notes") else v for k, v in d.items()})

    @property
    def suggestions(self) -> list:
        """Recipes suggested by the findings (edgelab.Recipe), best-ranked first."""
        from ..variant import Recipe

        out = [Recipe.from_dict(f["recipe"]) for f in self.findings if f.get("recipe")]
        if self.mixed and self.mixed.get("recipe"):
            out.append(Recipe.from_dict(self.mixed["recipe"]))
        return out

    def text(self) -> str:
        from ._render import text

        return text(self)

    def _repr_html_(self) -> str:
        from ._render import html_block

        return html_block(self)

    def __repr__(self) -> str:
        return self.text()


def explain(model, variant="int8-static", *, data=None, calibration=None, parent="fp32", layers: bool = True,
            k: int = 2, mixed: bool = True, batch: int = 1, runs: int = 100, samples: int = 16,
            measure=None) -> Explanation:
    """Profile `variant` (a recipe name, Recipe or Variant) against `parent` and explain the difference.

    `data` feeds the profile and the layer errors (default: synthetic inputs); `calibration` rebuilds
    static variants (default: `data`). With `mixed`, the worst `k` layers are kept in fp32 in a new
    variant that is built and measured (accuracy recovered vs speed given back).
    """
    from .. import variant as V
    from ..data import Dataset
    from ..model import Model, load
    from ..profiles.host import fingerprint, label
    from .layers import layer_errors
    from .profile import profile_variants
    from .speed import analyze

    model = model if isinstance(model, Model) else load(model)
    ds = data if isinstance(data, Dataset) else (Dataset.synthetic(model, n=64) if data is None
                                                 else Dataset.from_arrays(data, model=model))
    calib = calibration if calibration is not None else ds
    notes = []
    if ds.meta.get("synthetic"):
        notes.append("inputs are synthetic (random from the model's input specs): pass data= for real layer errors")
    var = variant if isinstance(variant, V.Variant) else V.build(model, variant, calibration=calib)
    par = parent if isinstance(parent, V.Variant) else V.build(model, parent, calibration=calib)
    if var.runtime != "onnxruntime":
        raise ConfigError(f"explain profiles onnxruntime variants; {var.id!r} runs on {var.runtime}")
    prof = profile_variants([par, var], ds, batch=batch, runs=runs)
    for vid in (par.id, var.id):
        if "error" in prof[vid]:
            raise ConfigError(f"could not profile {vid!r}: {prof[vid]['error']}")
    fp = fingerprint()
    steps = var.recipe.to_dict()["steps"]
    sp = analyze(prof[var.id], prof[par.id], isa=fp["isa"], precision=var.precision, steps=steps,
                 name=var.id, parent_name=par.id)
    lay, worst, mix = None, (), None
    if layers and var.precision != "fp32":
        lay = layer_errors(_float_reference(var, model), var.path, ds, samples=samples)
        notes += lay.get("notes", [])
        worst = tuple(rank_layers(lay)[:max(k, 0)])
        if mixed and worst and any(s["pass"].startswith("int8") for s in steps):
            mix = _mixed(model, var, worst, ds, calib, measure)
    host = f"measured on {label(fp)}"
    return Explanation(var.id, par.id, host, sp["headline"], tuple(sp["findings"]), sp["families"], lay, worst,
                       mix, tuple(notes))


def _float_reference(var, model) -> str:
    """The pre-processed fp32 model the quantizer saw (same tensor/node names) when the cache kept it."""
    from pathlib import Path

    pre = Path(var.path).parent / "pre.onnx"
    return str(pre) if pre.exists() else model.path


def rank_layers(lay: dict) -> list[dict]:
    """Suspect layers, worst first: quantized tensors by min(local, bulk) SQNR below WORST_DB
    (or, when none has quantization parameters, by end-to-end SQNR)."""
    ts = [t for t in lay.get("tensors", []) if t.get("local_sqnr_db") is not None]
    pool = ts or [t for t in lay.get("tensors", []) if t.get("sqnr_db") is not None]
    pool = sorted(pool, key=lambda t: t["score_db"] if t.get("score_db") is not None else 99.0)
    out = []
    for t in pool:
        if (t.get("score_db") if t.get("score_db") is not None else 99.0) >= WORST_DB and out:
            break
        why = (f"{t['tensor']} (output of {t['op_type']} {t['node']}): quantizing it alone gives "
               f"{t.get('local_sqnr_db')} dB overall but {t.get('bulk_sqnr_db')} dB on the 90 % smallest values")
        if t.get("outlier_ratio") and t["outlier_ratio"] >= 50:
            why += (f" — its max |x| is {t['outlier_ratio']:.0f}x the 90th percentile, so one quantization step "
                    f"({t.get('step', 0):.3g}) spans the bulk in {t.get('bulk_levels')} levels")
        out.append(dict(t, why=why, exclude=sorted({t["node"], *t.get("consumers", [])} - {""})))
    return out


def _mixed(model, var, worst, ds, calib, measure) -> dict:
    """Build the variant with the worst layers' nodes kept in fp32, measure both against fp32."""
    from ..runners import MeasureConfig
    from ..variant import Recipe
    from ..workbench import compare

    nodes = sorted({n for w in worst for n in w["exclude"]})
    steps = [(s["pass"], dict(s.get("options") or {})) for s in var.recipe.to_dict()["steps"]]
    i = max(j for j, (p, _) in enumerate(steps) if p.startswith("int8"))
    steps[i][1]["nodes_to_exclude"] = tuple(sorted(set(steps[i][1].get("nodes_to_exclude", ())) | set(nodes)))
    rec = Recipe(f"{var.id}+fp32[{len(worst)}]", steps, f"{var.id} with {', '.join(nodes)} kept in fp32")
    cfg = measure or MeasureConfig(batch_sizes=(1,), warmup_runs=3, min_runs=30, block_runs=5, min_time_s=0.3,
                                   max_time_s=4.0, timeout_s=120)
    r = compare(model, data=ds, recipes=["fp32", var.recipe, rec], calibration=calib, measure=cfg, store=False)
    pick = lambda v: {"id": v["id"], "agreement": v.get("agreement"), "accuracy": v.get("accuracy"),  # noqa: E731
                      "speedup": v.get("speedup"), "latency_ms": v.get("latency_ms"), "error": v.get("error")}
    return {"recipe": rec.to_dict(), "excluded_nodes": nodes, "variant": pick(r.variant(var.recipe.name)),
            "mixed": pick(r.variant(rec.name)), "measured_on": r.host.get("label"), "warnings": list(r.warnings)}


def explain_report(report, variant_id: str, *, data=None, calibration=None, attach: bool = True,
                   **kw) -> Explanation:
    """Explain one variant of a Report: the model file comes from report.model['path'], the variant from
    the workspace cache (rebuilt from its recipe_steps when it is not there)."""
    from pathlib import Path

    from ..model import load
    from ..variant import Recipe

    v = report.variant(variant_id)
    path = report.model.get("path")
    if not path or not Path(path).exists():
        raise ConfigError(f"the report's model file is not available ({path or 'no path recorded'}); "
                          "call edgelab.explain(model, recipe, data=...) with the model instead")
    model = load(path)
    if model.sha256 != report.model.get("sha256"):
        raise ConfigError(f"{path} changed since the report was made (sha256 differs); explain the new model "
                          "with edgelab.explain(model, recipe)")
    recipe = Recipe.from_dict({"name": variant_id, "steps": v.get("recipe_steps") or []})
    if calibration is None and data is None and recipe.needs_calibration and not report.data.get("synthetic"):
        raise ConfigError(f"{variant_id!r} was calibrated on {report.data.get('name')!r}; pass calibration= "
                          "(and data=) so the same variant is rebuilt or fetched from the cache")
    ex = explain(model, recipe, data=data, calibration=calibration, **kw)
    if attach:
        v["explanation"] = ex.to_dict()
    return ex
