"""Projected latency, memory fit and energy of a model variant on a target profile (roofline, host-calibrated).

Per operator: time = max(work / (peak × efficiency), bytes / bandwidth) + per-op overhead, summed over the
graph, at the precision the variant runs in (emulated precisions use the slower rate). The same sum on the
host profile, against the host's measured latency of the same variant, gives a calibration factor that
carries the model's real behaviour (op mix, runtime quirks) onto the target:

    projected = measured_on_host × roofline(target) / roofline(host)

    >>> from edgelab.estimate import estimate
    >>> e = estimate("model.onnx", "rpi4", host_ms=1.2)    # host_ms: measured p50 of the same graph here
    >>> e.latency_ms, e.fits, e.source
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from .errors import ConfigError
from .graph import ATTENTION_OPS, CONV_OPS, GEMM_OPS, MATMUL_OPS
from .profiles import PRECISIONS, Profile, _method, framework, get, host_label, host_profile

_MAC = {"ConvTranspose", *CONV_OPS, *GEMM_OPS, *MATMUL_OPS, *ATTENTION_OPS}
# element-wise ops a runtime fuses into the preceding conv/matmul (Conv+BN+ReLU, bias add, clip)
_FUSABLE = {"Relu", "Clip", "BatchNormalization", "LeakyRelu", "Add", "Mul", "HardSwish", "HardSigmoid",
            "Sigmoid", "Tanh", "PRelu", "Elu", "Selu"}
_FREE = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Shape", "Constant", "Size",
         "ConstantOfShape", "QuantizeLinear", "DequantizeLinear", "Cast"}
CLIP = (1 / 3, 3.0)  # calibration factors outside this range are clipped (a busy host, a broken measurement)


@dataclass(frozen=True)
class Estimate:
    """A projection of one variant onto one profile. Never a measurement: see `source`."""

    profile: str
    latency_ms: float | None
    fits: bool | None
    source: str
    precision: str
    precision_support: str  # native | emulated | unsupported
    runnable: bool
    threads: int
    memory_bytes: int
    margin_bytes: int
    storage_bytes: int | None = None
    energy_mj: float | None = None
    partial: bool = False
    uncounted_ops: tuple = ()
    roofline_ms: float | None = None
    calibration: dict = field(default_factory=dict)
    breakdown: dict = field(default_factory=dict)
    notes: tuple = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["uncounted_ops"] = list(self.uncounted_ops)
        d["notes"] = list(self.notes)
        return d


# ---- graph → list of costed operators -----------------------------------------------------------
def graph_ops(model) -> list[dict]:
    """Operators of `model` (an edgelab Model) with their role: mac | dw | eltwise | move | fused | free."""
    import onnx

    proto = onnx.load(model.path, load_external_data=False)
    nodes = list(proto.graph.node)
    inits = {t.name for t in proto.graph.initializer}
    consumers: dict[str, int] = {}
    for n in nodes:
        for i in n.input:
            consumers[i] = consumers.get(i, 0) + 1
    producer = {o: n for n in nodes for o in n.output}
    fused_out: set[str] = set()
    out = []
    for n, st in zip(nodes, model.ops):
        t = n.op_type
        role = "move"
        if t in _MAC:
            group = next((a.i for a in n.attribute if a.name == "group"), 1)
            role = "dw" if group > 1 and st.macs and t in CONV_OPS else "mac"
            fused_out.update(n.output)
        elif t in _FREE:
            role = "free"
            if t in ("DequantizeLinear", "QuantizeLinear", "Cast") and n.input and n.input[0] in fused_out:
                fused_out.update(n.output)
        elif t in _FUSABLE and n.input and n.input[0] in fused_out and consumers.get(n.input[0], 0) == 1 \
                and all(i in inits or i == n.input[0] or producer.get(i) is None or i in fused_out
                        for i in n.input[1:]):
            role = "fused"
            fused_out.update(n.output)
        elif st.flops:
            role = "eltwise"
        out.append({"op_type": t, "role": role, "macs": st.macs, "flops": st.flops, "precision": st.precision,
                    "bytes": st.bytes_read + st.bytes_written, "param_bytes": st.param_bytes, "counted": st.counted})
    return out


_BYTES_SCALE = {"fp32": 1.0, "fp16": 0.5, "int8": 0.25}


def roofline_ms(ops: list[dict], prof: Profile, precision: str | None = None, threads: int | None = None,
                weight_bytes: int = 0, fw: str | None = None) -> tuple[float, dict]:
    """Uncalibrated projected time of the ops on `prof` (ms) and the split compute/memory/overhead, for the
    inference framework `fw` (None: onnxruntime; see catalog.json "frameworks")."""
    n = min(threads or prof.threads, prof.cores) if not prof.accelerator else 1
    fwk = framework(fw)
    split_kw = {"static_split": bool(fwk.get("static_thread_split")),
                "mask_affinity": bool(fwk.get("thread_affinity_mask"))}
    eff = prof.kernel_efficiency
    bw = prof.mem_bandwidth_gbs * 1e9
    acc = prof.accelerator or {}
    if acc:
        ovh_s = acc.get("op_overhead_us", 0.0) * 1e-6
    else:
        cycles = _method("cpu_op_overhead_cycles") + (_method("thread_sync_cycles") if n > 1 else 0)
        ovh_s = cycles / (prof.clock_ghz * 1e9)
    peaks = {}
    split = {"compute_ms": 0.0, "memory_ms": 0.0, "overhead_ms": 0.0, "ops_costed": 0}
    total = 0.0
    for op in ops:
        if op["role"] in ("free", "fused"):
            continue
        prec = precision or op["precision"]
        if prec not in peaks:
            peaks[prec] = prof.peak_gops(prec, n, **split_kw) * 1e9
        peak = peaks[prec] or peaks.setdefault("fp32", prof.peak_gops("fp32", n, **split_kw) * 1e9)
        if prec == "int8" and not acc:
            peak *= _method("int8_efficiency")
        if op["role"] == "mac":
            t_c = 2 * op["macs"] / (peak * eff)
        elif op["role"] == "dw":
            t_c = 2 * op["macs"] / (peak * eff * _method("depthwise_efficiency"))
        elif op["role"] == "eltwise":
            ep = (prof.peak_gops("fp32", n, **split_kw) * 1e9) or peak
            t_c = op["flops"] / (ep * eff * _method("elementwise_fraction"))
        else:
            t_c = 0.0
        t_m = op["bytes"] * _BYTES_SCALE.get(prec, 1.0) / bw
        total += max(t_c, t_m) + ovh_s
        split["compute_ms"] += t_c * 1e3 if t_c >= t_m else 0.0
        split["memory_ms"] += t_m * 1e3 if t_m > t_c else 0.0
        split["overhead_ms"] += ovh_s * 1e3
        split["ops_costed"] += 1
    if acc:
        total += acc.get("invoke_overhead_us", 0.0) * 1e-6
        spill = max(0, weight_bytes - acc.get("onchip_bytes", weight_bytes)) if acc.get("weight_stream_gbs") else 0
        if spill:
            t_w = spill / (acc["weight_stream_gbs"] * 1e9)
            total += t_w
            split["weight_stream_ms"] = round(t_w * 1e3, 4)
    split = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in split.items()}
    return total * 1e3, split


def _variant_precision(model, precision: str | None) -> str:
    if precision in PRECISIONS:
        return precision
    macp = [o.precision for o in model.ops if o.macs]
    if not macp:
        return "fp32"
    return max(set(macp), key=macp.count)


def memory_fit(model, prof: Profile, precision: str) -> dict:
    """Weights + peak live activations + runtime overhead against RAM (and flash for microcontrollers)."""
    scale = _BYTES_SCALE.get(precision, 1.0) if precision != "fp32" else 1.0
    weights = int(model.weight_bytes)
    acts = int(model.peak_activation_bytes * scale)
    runtime = prof.runtime_overhead_bytes if prof.runtime_overhead_bytes is not None else \
        int(_method("runtime_overhead_bytes"))
    usable = prof.ram_bytes - prof.os_reserved_bytes
    if prof.kind == "mcu" and prof.storage_bytes:
        need_ram = acts + runtime  # weights stay in flash
        fits = need_ram <= usable and weights <= prof.storage_bytes
        margin = min(usable - need_ram, prof.storage_bytes - weights)
        return {"memory_bytes": need_ram + weights, "ram_bytes_needed": need_ram, "storage_bytes_needed": weights,
                "fits": fits, "margin_bytes": int(margin)}
    need = weights + acts + runtime
    return {"memory_bytes": need, "ram_bytes_needed": need, "storage_bytes_needed": weights,
            "fits": need <= usable, "margin_bytes": int(usable - need)}


def estimate(model, profile, *, host_ms: float | None = None, host_threads: int | None = None,
             precision: str | None = None, threads: int | None = None, calibration_factor: float | None = None,
             host: Profile | None = None, fw: str | None = None, device_reference: bool = True) -> Estimate:
    """Project `model` (a path, Model, or the variant's graph) onto `profile`.

    `host_ms`: this host's measured p50 (ms) of the same graph at `host_threads` → calibration factor.
    `calibration_factor`: use this factor instead (e.g. the fp32 reference's, when the host emulates the
    variant's precision). Without either, the estimate is uncalibrated (says so in `source`).
    `fw`: the framework that will run it on the target (None: onnxruntime, what the host measures).
    `device_reference`: scale a calibrated projection by the profile's device factor, from its published
    reference measurements (profiles/reference.py); False gives the datasheet-only projection.
    """
    from .model import Model, load

    model = model if isinstance(model, Model) else load(model)
    prof = get(profile)
    host = host or host_profile()
    prec = _variant_precision(model, precision)
    ops = graph_ops(model)
    support = prof.support(prec)
    n = threads or prof.threads
    notes = []
    fit = memory_fit(model, prof, prec)
    partial = bool(model.uncounted_ops)
    if partial:
        notes.append("work of " + ", ".join(model.uncounted_ops) + " not counted: latency is a lower bound")
    if support == "unsupported":
        notes.append(f"{prof.name} cannot run {prec} ({', '.join(_runnable(prof))} only): "
                     f"{'quantize to int8 first (e.g. recipe int8-static)' if 'int8' in _runnable(prof) else 'use another precision'}")
        return Estimate(prof.id, None, fit["fits"], f"not runnable on {prof.id} ({prec})", prec, support, False, n,
                        fit["memory_bytes"], fit["margin_bytes"], fit["storage_bytes_needed"], None, partial,
                        tuple(model.uncounted_ops), None, {}, {}, tuple(notes))
    if support == "emulated":
        notes.append(f"{prec} is emulated on {prof.id} (no native {prec} arithmetic): projected at the emulated rate")
    r_t, split = roofline_ms(ops, prof, prec, n, weight_bytes=int(model.weight_bytes * _BYTES_SCALE.get(prec, 1)),
                             fw=fw)
    cal = {"host": host_label(), "host_profile": host.id, "framework": framework(fw)["name"]}
    factor = calibration_factor
    if factor is None and host_ms:
        r_h, _ = roofline_ms(ops, host, prec, host_threads or host.threads)
        factor = host_ms / r_h if r_h > 0 else 1.0
        cal.update(host_ms=round(host_ms, 4), host_roofline_ms=round(r_h, 4))
    if factor is not None:
        raw = factor
        factor = min(max(factor, CLIP[0]), CLIP[1])
        cal.update(factor=round(factor, 4), raw_factor=round(raw, 4), clipped=raw != factor)
        source = f"projected from {prof.id}, calibrated on {host_label()}"
    else:
        factor = 1.0
        cal.update(factor=None)
        source = f"projected from {prof.id}, uncalibrated (no host measurement)"
    lat = r_t * factor
    if device_reference and prof.reference and cal.get("factor") is not None:
        from .profiles.reference import describe

        df = prof.device_factor()
        lat *= df["factor"]
        cal["device_factor"] = df
        source += ", " + describe(df)
    source += _method_error(prof)
    energy = prof.power_w * lat if prof.power_w is not None else None  # W × ms = mJ
    return Estimate(prof.id, round(lat, 6), fit["fits"], source, prec, support, True, n, fit["memory_bytes"],
                    fit["margin_bytes"], fit["storage_bytes_needed"], None if energy is None else round(energy, 6),
                    partial, tuple(model.uncounted_ops), round(r_t, 4), cal, split, tuple(notes))


def _method_error(prof: Profile) -> str:
    return "; " + method_error(prof.id, prof.validation())


def method_error(profile_id: str, validation: dict | None) -> str:
    """The method's error on a profile's published measurements, said next to every projection."""
    if not validation:
        return f"no published measurements of {profile_id} to check the method against"
    return (f"method error on {validation['n']} published {profile_id} measurements: median {validation['median']}x, "
            f"80th pct {validation['p80']}x")


def _runnable(prof: Profile) -> list[str]:
    return [p for p in PRECISIONS if prof.support(p) != "unsupported"]


def fit_summary(model, profiles) -> dict:
    """Per profile: does the (fp32) model fit, the margin, and an uncalibrated latency (for `edgelab inspect`)."""
    from .model import load

    model = load(model)
    out = {}
    for name in profiles:
        e = estimate(model, name)
        out[e.profile] = {"fits": e.fits, "margin_mib": round(e.margin_bytes / 2**20, 3),
                          "memory_mib": round(e.memory_bytes / 2**20, 3), "latency_ms": e.latency_ms,
                          "source": e.source, "precision": e.precision_support,
                          **({"partial": True, "uncounted_ops": list(e.uncounted_ops)} if e.partial else {})}
    return out


CLOUD_REFS = {"serverless": ("cloud-serverless", 1), "cpu_instance": ("cloud-arm", 1), "gpu_instance": ("cloud-gpu", 1)}


def project_report(report, model, profiles, workload=None, *, variants=None, prices=None):
    """A new Report whose variants carry `estimates` and (with a workload) `savings` per profile.

    Each variant is projected from its own graph (`variants`: the built edgelab Variants; without them
    only the fp32 reference's graph is known and other variants use it at their precision) and calibrated
    with its own measured host latency; a precision the host only emulates is calibrated with the fp32
    reference's factor instead.
    """
    from .model import load
    from .savings import Workload, load_prices, savings

    profs = [get(p) for p in profiles]
    if isinstance(workload, dict):
        workload = Workload(**workload)
    pr = load_prices(prices) if workload is not None else None
    host = host_profile()
    h_threads = (report.settings or {}).get("threads") or host.threads
    built = {v.id: v for v in (variants or [])}
    ref_ms = _calibration_ms(report.reference or {})
    ref_factor = calibration_factor(model, ref_ms, h_threads) if ref_ms else None
    out = []
    for v in report.variants:
        v = dict(v)
        v["estimates"], v["savings"] = {}, {}
        b = built.get(v["id"])
        if b is not None and b.runtime == "onnxruntime":
            graph, graph_note = load(b.path), None
        else:
            graph, graph_note = model, "projected from the fp32 graph at the variant's precision"
        prec = v.get("precision") if v.get("precision") in PRECISIONS else None
        host_ms = _calibration_ms(v)
        if v.get("error") or host_ms is None:
            factor, how = ref_factor, "fp32 reference (variant not measured)"
        elif host.support(_variant_precision(graph, prec)) == "emulated" and ref_factor is not None:
            factor, how = ref_factor, "fp32 reference (the host emulates this precision)"
        else:
            factor, how = calibration_factor(graph, host_ms, h_threads, prec), "this variant's host p10"
        for prof in profs:
            e = estimate(graph, prof, precision=prec, calibration_factor=factor)
            d = e.to_dict()
            d["calibration"].update(calibrated_with=how, host_threads=h_threads)
            if graph_note:
                d["notes"].append(graph_note)
            val = prof.validation()
            d["validation_error_median"] = val.get("median") if val else None
            d["validation"] = val
            v["estimates"][prof.id] = d
            if workload is not None:
                cloud = {opt: estimate(graph, pid, precision=prec, threads=t, calibration_factor=factor).latency_ms
                         for opt, (pid, t) in CLOUD_REFS.items()}
                s = savings(e.latency_ms, prof, workload, cloud, pr)
                s["source"] = (f"projected from {prof.id} and cloud references "
                               f"({', '.join(p for p, _ in CLOUD_REFS.values())}), calibrated on {host_label()}; "
                               f"prices of {pr['date']}")
                s["cloud_latency_ms"] = cloud
                v["savings"][prof.id] = s
        out.append(v)
    prof_block = {p.id: p.summary() for p in profs}
    return replace(report, variants=tuple(out), profiles=prof_block,
                   workload=workload.to_dict() if workload is not None else report.workload,
                   prices=({k: pr[k] for k in ("date", "currency", "region", "values", "sources", "overridden")}
                           if pr else report.prices))


__all__ = ["Estimate", "calibration_factor", "estimate", "fit_summary", "graph_ops", "memory_fit",
           "project_report", "roofline_ms"]


def calibration_factor(model, host_ms: float, host_threads: int | None = None, precision: str | None = None,
                       host: Profile | None = None) -> float:
    """measured / roofline on the host for `model` (the factor `estimate` multiplies target rooflines by)."""
    host = host or host_profile()
    r_h, _ = roofline_ms(graph_ops(model), host, _variant_precision(model, precision), host_threads or host.threads)
    return host_ms / r_h if r_h > 0 else 1.0


def _calibration_ms(v: dict) -> float | None:
    """The host latency projections are calibrated with: p10 (the least-contended runs: this machine's
    speed rather than its neighbours' load on a shared host), p50 for reports without it."""
    lat = v.get("latency_ms") or {}
    return lat.get("p10") or lat.get("p50")


def estimate_report(model, profiles, *, recipes=None, measure=None, workload=None, progress=None):
    """Projections alone, as a Report: measures on the host only what calibration needs (quick p50, batch 1)."""
    from .runners import MeasureConfig
    from .workbench import compare

    if not profiles:
        raise ConfigError("give at least one profile, e.g. profiles=['rpi4']")
    for p in profiles:
        get(p)  # unknown names fail before any measuring
    cfg = measure or MeasureConfig()
    cfg = replace(cfg, batch_sizes=(1,), min_runs=min(cfg.min_runs, 30), min_time_s=min(cfg.min_time_s, 0.5))
    return compare(model, recipes=recipes or ["fp32"], profiles=profiles, workload=workload, measure=cfg,
                   progress=progress, store=False)
