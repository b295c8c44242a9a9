"""Orchestration: model × recipes (× profiles) → build variants → measure in workers → Report.

    >>> report = el.compare("model.onnx", data=ds, recipes=["fp32", "int8-static"])
    >>> report.best(max_accuracy_drop=0.01)

Progress is reported through `progress(event)` callbacks (dicts with `stage`, `variant`, `i`, `n`,
`message`); a `cancel` threading.Event or Ctrl-C stops the run and keeps what finished.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from . import variant as _variant
from .data import Dataset
from .errors import ConfigError, EdgelabError, WorkerError
from .measure import accuracy, agreement, latency_stats, ratio_stats
from .measure.latency import block_spread
from .model import Model, load
from .profiles import host_fingerprint, host_label
from .runners import MeasureConfig, run_job
from .variant import Recipe, Variant

if TYPE_CHECKING:
    from .report import Report

Progress = Callable[[dict], None]
REFERENCE = "fp32"
SPREAD_WARN = 0.25  # block-median IQR above this: ranking variants closer than that is unreliable


def compare(model, data=None, recipes: Sequence = _variant.DEFAULT_RECIPES, *, calibration=None,
            profiles: Sequence[str] = (),
            workload=None, measure: MeasureConfig | None = None, progress: Progress | None = None,
            cancel: threading.Event | None = None, store: bool = True, devices: Sequence = (),
            reuse: bool = False) -> Report:
    """Build every recipe's variant of `model`, measure each on this machine, and compare them.

    `data` gives evaluation inputs (and labels); `calibration` the samples static quantization calibrates
    on (default: `data`; keep them apart from the test samples when you can). With `reuse`, a complete
    stored run of the same model, recipes, data, settings and profiles on this same host is returned instead
    of measuring again (its run id and date say when it was measured).
    """
    from .report import Report
    from .store import Store, new_run_id

    cfg = measure or MeasureConfig()
    emit = progress or (lambda e: None)
    if profiles:  # unknown names fail now, before anything is built or stored
        from .profiles import get as get_profile

        for p in profiles:
            get_profile(p)
    model = load(model) if not isinstance(model, Model) else model
    ds = _dataset(model, data)
    calib = _dataset(model, calibration) if calibration is not None else ds
    recipe_objs = _recipes(recipes)
    warnings: list[str] = []
    cfg = _fit_batch(model, cfg, warnings)
    host = dict(host_fingerprint(), label=host_label())
    key = _measurement_key(model, recipe_objs, ds, calib, cfg, host, profiles, workload, devices)
    if reuse:
        earlier = Store().find(key)
        if earlier is not None:
            emit({"stage": "done", "run_id": earlier.run_id, "status": "reused"})
            return dataclasses.replace(earlier, warnings=earlier.warnings + (
                f"reused the measurements of run {earlier.run_id} ({earlier.created}) on this host: same model, "
                "recipes, data and settings; re-measure with reuse=False (CLI: --fresh)",))
    run_id = new_run_id()
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    rows: dict[str, dict] = {}
    status = "complete"
    built: list[Variant] = []
    from .workspace import sweep_stale_tmp

    sweep_stale_tmp()  # leftovers of a build killed outright (SIGKILL) in an earlier run
    try:
        built = _build_all(model, recipe_objs, calib, rows, emit, cancel)
        _measure_all(built, ds, cfg, rows, emit, cancel, warnings, fixed_batch=_fixed_batch(model))
        if devices:  # issue 5: the same variants measured on fleet devices over TVM RPC
            from .runners.remote import measure_into_rows

            measure_into_rows(model, built, devices, rows, emit, warnings, cancel=cancel)
    except OSError as e:  # writing temporary data or artifacts: full disk, read-only folder
        from .workspace import disk_error

        raise disk_error(e, "measurement data") from e
    except KeyboardInterrupt:
        status = "interrupted"
        warnings.append("run interrupted: variants not finished are marked as such")
        for r in recipe_objs:
            rows.setdefault(r.name, _row(r, None))
            if rows[r.name].get("latency_ms") is None and not rows[r.name].get("error"):
                rows[r.name]["error"] = "not measured: run interrupted"
    variants = [rows[r.name] for r in recipe_objs]
    report = Report(model=model.summary(), host=host, variants=tuple(variants), run_id=run_id, created=created,
                    settings=dict(cfg.to_dict(), method=_method_text(cfg), measurement_key=key),
                    data={"name": ds.name, "samples": ds.n, "task": ds.task, "labels": ds.has_labels,
                          "synthetic": bool(ds.meta.get("synthetic"))},
                    warnings=tuple(warnings), status=status)
    if profiles:
        from .estimate import project_report  # issue 4: projections + savings per profile

        report = project_report(report, model, profiles, workload=workload, variants=built)
    if store:
        Store().save(report)
    emit({"stage": "done", "run_id": run_id, "status": status})
    return report


def _measurement_key(model, recipes, ds, calib, cfg, host, profiles, workload, devices) -> str:
    """What makes two runs' figures interchangeable: inputs, settings, and the machine and versions."""
    import hashlib
    import json

    from .profiles import CATALOG, VALIDATION
    from .profiles import get as get_profile
    from .savings import PRICES

    # the projections of a reused run must be today's: the profiles' contents (a user profile file may have
    # changed) and the catalog, validation and price tables are part of the key ("host" is in host below)
    tables = [hashlib.sha256(f.read_bytes()).hexdigest() if f.exists() else None for f in (CATALOG, VALIDATION, PRICES)]
    projection = [p if p == "host" else repr(get_profile(p)) for p in sorted(profiles)] + tables
    parts = [model.sha256, [r.key() for r in recipes], [r.name for r in recipes], ds.fingerprint(),
             calib.fingerprint(), _variant.BUILD_VERSION, cfg.to_dict(), projection, repr(workload),
             repr(devices), {k: host.get(k) for k in ("cpu", "family", "model", "cores", "isa", "onnxruntime",
                                                       "onnx", "tvm", "edgelab")}]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _fixed_batch(model: Model) -> int | None:
    fixed = {t.shape[0] for t in model.inputs if t.shape and isinstance(t.shape[0], int) and t.shape[0] > 0}
    return fixed.pop() if len(fixed) == 1 else None


def _fit_batch(model: Model, cfg: MeasureConfig, warnings: list[str]) -> MeasureConfig:
    """A model whose batch dimension is fixed can only run at that batch size."""
    import dataclasses

    b = _fixed_batch(model)
    if b is None:
        return cfg
    if tuple(cfg.batch_sizes) != (b,):
        warnings.append(f"the model's batch dimension is fixed at {b}: timed at batch {b} only (re-export it with a "
                        "dynamic batch axis to compare batch sizes)")
    return dataclasses.replace(cfg, batch_sizes=(b,), eval_batch=b)


def _dataset(model: Model, data) -> Dataset:
    if data is None:
        return Dataset.synthetic(model, n=64)
    if isinstance(data, Dataset):
        return data.validate(model)
    if isinstance(data, (str, Path)):
        return Dataset.from_npz(data, model)
    if isinstance(data, tuple) and len(data) == 2:
        return Dataset.from_arrays(data[0], data[1], model=model)
    return Dataset.from_arrays(data, model=model)


def _recipes(recipes) -> list[Recipe]:
    if isinstance(recipes, str):
        recipes = [r for r in recipes.split(",") if r.strip()]
    objs = [r if isinstance(r, Recipe) else Recipe.parse(r) for r in recipes]
    if not objs:
        raise ConfigError("give at least one recipe; valid recipes: " + ", ".join(_variant.recipes()))
    names = [r.name for r in objs]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ConfigError(f"recipe names must be unique; repeated: {', '.join(sorted(dup))}")
    if REFERENCE not in names:
        objs.insert(0, Recipe.parse(REFERENCE))
    return objs


def _row(r: Recipe, v: Variant | None) -> dict:
    return {"id": r.name, "recipe": r.name, "recipe_steps": r.to_dict()["steps"], "runtime": r.runtime,
            "precision": r.precision, "size_bytes": v.size_bytes if v else None,
            "build_s": round(v.build_s, 3) if v else None, "cached": v.cached if v else None,
            "accuracy": None, "agreement": None, "latency_ms": None, "latency_ms_by_batch": {},
            "speedup": None, "speedup_by_batch": {}, "peak_memory_bytes": None, "load_ms": None,
            "measured_on": None, "estimates": {}, "savings": {}, "error": None}


def _build_all(model, recipes, ds, rows, emit, cancel) -> list[Variant]:
    built = []
    for i, r in enumerate(recipes):
        _check_cancel(cancel)
        emit({"stage": "build", "variant": r.name, "i": i, "n": len(recipes)})
        try:
            v = _variant.build(model, r, calibration=ds if r.needs_calibration else None, cancel=cancel,
                               progress=lambda m, n=r.name: emit({"stage": "tune", "variant": n, "message": m}))
            built.append(v)
            rows[r.name] = _row(r, v)
        except EdgelabError as e:
            rows[r.name] = dict(_row(r, None), error=f"build failed: {e}")
            if r.name == REFERENCE:
                raise
            emit({"stage": "error", "variant": r.name, "message": str(e)})
    return built


def _measure_all(built: list[Variant], ds: Dataset, cfg: MeasureConfig, rows, emit, cancel, warnings, *,
                 fixed_batch: int | None = None):
    label = host_label()
    n_eval = min(ds.n, cfg.eval_samples or ds.n)
    if fixed_batch:  # every call must be exactly that batch: a whole number of batches
        n_eval = max(fixed_batch, n_eval - n_eval % fixed_batch)
    evaluated = ds.take(n_eval)
    built = sorted(built, key=lambda v: v.id != REFERENCE)  # the reference first: others compare with it
    ref: dict = {}
    with tempfile.TemporaryDirectory(prefix="edgelab-data-") as tmp:
        data_path = evaluated.save_npz(Path(tmp) / "data.npz")
        ok: list[Variant] = []
        for i, v in enumerate(built):  # outputs + peak memory: one short process per variant
            _check_cancel(cancel)
            emit({"stage": "evaluate", "variant": v.id, "i": i, "n": len(built)})
            try:
                res = run_job(_job("evaluate", [v], data_path, cfg), timeout_s=cfg.timeout_s, cancel=cancel)
            except WorkerError as e:
                rows[v.id]["error"] = f"evaluate: {e}"
                emit({"stage": "error", "variant": v.id, "message": str(e)})
                if v.id == REFERENCE:
                    raise WorkerError(f"the fp32 reference could not run: {rows[REFERENCE]['error']}") from e
                continue
            rows[v.id].update(peak_memory_bytes=res["peak_memory_bytes"], load_ms=res["create_ms"],
                              measured_on=label)
            if res.get("op_profile"):
                rows[v.id]["op_profile"] = {"batch": 1, "measured_on": label, "kernels": res["op_profile"]}
            _add_quality(rows[v.id], res["outputs_array"], ref, evaluated)
            emit({"stage": "evaluated", "variant": v.id, "row": dict(rows[v.id])})
            ok.append(v)
        _check_cancel(cancel)
        _latency(ok, data_path, cfg, rows, emit, cancel, warnings)


def _latency(ok, data_path, cfg, rows, emit, cancel, warnings):
    """All variants timed in one worker, interleaved; if it dies, one worker per variant names the culprit."""
    emit({"stage": "latency", "variant": None, "i": 0, "n": len(ok), "message": "interleaved timing"})
    try:
        res = run_job(_job("latency", ok, data_path, cfg), timeout_s=cfg.timeout_s * max(1, len(ok)),
                      progress=emit, cancel=cancel)
        results = {None: res}
    except WorkerError as e:
        emit({"stage": "error", "variant": None, "message": f"shared latency worker failed ({e}); isolating"})
        results = {}
        for v in ok:
            if v.id == REFERENCE:
                continue
            pair = [x for x in ok if x.id == REFERENCE] + [v]
            try:
                results[v.id] = run_job(_job("latency", pair, data_path, cfg), timeout_s=cfg.timeout_s,
                                        progress=emit, cancel=cancel)
            except WorkerError as e2:
                rows[v.id]["error"] = f"latency: {e2}"
    for res in results.values():
        for batch, b in res["latency"].items():
            ref_blocks = b["blocks"].get(REFERENCE, [])
            for vid, times in b["times"].items():
                st = latency_stats(times)
                st["block_spread"] = block_spread(b["blocks"][vid])
                rows[vid]["latency_ms_by_batch"][batch] = st
                rows[vid]["speedup_by_batch"][batch] = ratio_stats(b["blocks"][vid], ref_blocks)
        load1 = res.get("loadavg", [0])[0]
        if load1 > (os.cpu_count() or 1) * 1.0:
            warnings.append(f"the machine was busy while timing (load average {load1:.1f} on "
                            f"{os.cpu_count()} cores): absolute times are inflated, ratios less so")
    first = str(cfg.batch_sizes[0])
    for vid, row in rows.items():
        if first in row["latency_ms_by_batch"]:
            row["latency_ms"] = row["latency_ms_by_batch"][first]
            row["speedup"] = row["speedup_by_batch"][first]
            sp = row["speedup"]
            if vid != REFERENCE and sp.get("q25") and sp["q75"] - sp["q25"] > SPREAD_WARN * sp["median"]:
                warnings.append(f"{vid}: speed-up varies from {sp['q25']}x to {sp['q75']}x between rounds; "
                                "the ranking against variants within that range is not reliable")


def _add_quality(row: dict, out, ref: dict, ds: Dataset):
    """Accuracy against labels and agreement with the reference; the reference's outputs are kept in `ref`."""
    labels = ds.labels[:len(out)] if ds.labels is not None else None
    classes = ds.task in ("classification", "none")
    if not ref:  # this is the reference
        acc = accuracy(out, labels, ds.task, out)
        ref.update(out=out, acc=acc)
        row["accuracy"] = None if acc is None else dict(acc, delta=0.0)
        row["agreement"] = agreement(out, out, classes=classes)
        return
    row["agreement"] = agreement(out, ref["out"], classes=classes)
    if row["agreement"].get("note"):
        row["warning"] = row["agreement"]["note"]
    acc = accuracy(out, labels, ds.task, ref["out"])
    if acc is not None:
        acc["delta"] = round(acc["value"] - ref["acc"]["value"], 6) if ref["acc"] else None
    row["accuracy"] = acc


def _job(mode: str, variants: list[Variant], data_path: Path, cfg: MeasureConfig) -> dict:
    return {"mode": mode, "variants": [{"id": v.id, "path": v.path, "runtime": v.runtime} for v in variants],
            "data": str(data_path), "threads": cfg.n_threads, "batch_sizes": list(cfg.batch_sizes),
            "eval_batch": cfg.eval_batch, "cfg": cfg.to_dict()}


def _check_cancel(cancel):
    if cancel is not None and cancel.is_set():
        raise KeyboardInterrupt


def _method_text(cfg: MeasureConfig) -> str:
    return (f"Latency: all variants loaded in one worker process ({cfg.n_threads} intra-op threads, thread "
            f"spinning off), up to {cfg.warmup_runs} warm-up runs each, then interleaved rounds in random order of "
            f"≤{cfg.block_runs} timed calls (~{cfg.block_time_s * 1e3:g} ms) per variant until ≥{cfg.min_runs} runs "
            f"(batch 1) and ≥{cfg.min_time_s:g} s, or {cfg.max_time_s:g} s; speed-up = "
            "fp32 block median / variant block median within each round. Peak memory: peak RSS (ru_maxrss) of a "
            "separate process per variant during session load + evaluation (Linux VmHWM, reset after imports "
            "and data load), minus the RSS at that reset. Accuracy/agreement: outputs of that same process on the evaluation samples.")

