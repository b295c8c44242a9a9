"""Which layers cost the accuracy: per-tensor error between the fp32 model and a quantized variant.

QDQ variants go through onnxruntime.quantization.qdq_loss_debug (activations + weights); other formats
(QOperator, dynamic, fp16) through edgelab's own intermediate-output comparison. Both add, per quantized
activation, the error of quantizing the *fp32* tensor with the variant's own scale ("local"), over all
values and over the 90 % of values below the 90th percentile of |x| ("bulk") — a few huge outliers make
the overall SQNR look fine while the bulk of the values is crushed to a couple of levels.
Runs in the worker process (job mode "profile", kind "layers").
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

_SUFFIXES = ("_QuantizeLinear_Input", "_DequantizeLinear_Output", "_DequantizeLinear_Output_1", "_quantized",
             "_output_quantized")


def layer_errors(float_path: str, variant_path: str, data, *, samples: int = 16, timeout_s: float = 300.0) -> dict:
    """Per-tensor errors, computed in a worker process. See `worker_layers` for the result."""
    from ..runners import MeasureConfig, run_job

    with tempfile.TemporaryDirectory(prefix="edgelab-layers-") as tmp:
        data_path = data.take(min(samples, data.n)).save_npz(Path(tmp) / "data.npz")
        job = {"mode": "profile", "kind": "layers", "data": str(data_path), "float_path": str(float_path),
               "variant_path": str(variant_path), "threads": 1, "cfg": MeasureConfig(threads=1).to_dict()}
        return run_job(job, timeout_s=timeout_s)["layers"]


def sqnr_db(ref: np.ndarray, x: np.ndarray) -> float | None:
    ref = np.asarray(ref, np.float64).ravel()
    noise = np.linalg.norm(ref - np.asarray(x, np.float64).ravel())
    sig = np.linalg.norm(ref)
    if noise == 0:
        return None if sig == 0 else 99.0
    return round(float(20 * np.log10(max(sig, 1e-30) / noise)), 2)


def fake_quant(f: np.ndarray, scale, zp, qmin: int, qmax: int) -> np.ndarray:
    return (np.clip(np.round(f / scale) + zp, qmin, qmax) - zp) * scale


def local_metrics(f: np.ndarray, qp: dict | None, *, relu_follows: bool = False) -> dict:
    """Quantize the fp32 tensor `f` with the variant's scale/zero point: overall and bulk SQNR, outliers.

    `relu_follows`: the variant folded a following Relu into this tensor's range (zero point at the
    bottom of the range), so the clipped negatives are intended, not error.
    """
    f = np.asarray(f, np.float64).ravel()
    if relu_follows and qp is not None and qp.get("kind") == "static" and qp["zero_point"] == qp["qmin"]:
        f = np.maximum(f, 0.0)
    a = np.abs(f)
    p90 = float(np.percentile(a, 90)) if a.size else 0.0
    out = {"outlier_ratio": round(float(a.max() / p90), 1) if p90 > 0 else None, "abs_max": float(a.max()),
           "p90_abs": p90}
    if qp is None:
        return out
    if qp["kind"] == "static":
        fq = fake_quant(f, qp["scale"], qp["zero_point"], qp["qmin"], qp["qmax"])
        step = qp["scale"]
    else:  # dynamic per call: uint8 over [min(0, min), max(0, max)] of that call's tensor
        lo, hi = min(0.0, f.min()), max(0.0, f.max())
        step = (hi - lo) / 255 or 1.0
        fq = fake_quant(f, step, np.round(-lo / step), 0, 255)
    bulk = a <= p90
    out.update(local_sqnr_db=sqnr_db(f, fq), bulk_sqnr_db=sqnr_db(f[bulk], fq[bulk]) if bulk.any() else None,
               step=float(step), bulk_levels=round(2 * p90 / step, 1) if step else None)
    return out


def _quant_params(model) -> dict:
    """tensor name -> static (scale, zero point, range) from the variant's QuantizeLinear / QLinear ops."""
    from onnx import numpy_helper as nh

    inits = {t.name: nh.to_array(t) for t in model.graph.initializer}
    qp = {}

    def put(tensor, s, z):
        if s in inits and (z in inits) and inits[s].size == 1:
            zp = inits[z]
            info = np.iinfo(zp.dtype)
            qp[_base(tensor)] = {"kind": "static", "scale": float(inits[s]), "zero_point": float(zp.ravel()[0]),
                                 "qmin": int(info.min), "qmax": int(info.max), "dtype": str(zp.dtype)}

    for n in model.graph.node:
        if n.op_type == "QuantizeLinear" and len(n.input) > 2:
            put(n.input[0], n.input[1], n.input[2])
        elif n.op_type == "DynamicQuantizeLinear":
            qp[_base(n.input[0])] = {"kind": "dynamic"}
        elif n.op_type in ("QLinearConv", "QLinearMatMul") and len(n.input) > 7:
            put(n.output[0], n.input[6], n.input[7])
    return qp


def _base(name: str) -> str:
    for s in _SUFFIXES:
        if name.endswith(s):
            return name[: -len(s)]
    return name


def _all_outputs(model_path: str, inputs: dict) -> dict:
    """Every node output of the model, run without graph optimizations, one sample at a time."""
    import onnx
    import onnxruntime as ort

    m = onnx.load(model_path)
    have = {o.name for o in m.graph.output}
    for n in m.graph.node:
        for o in n.output:
            if o and o not in have:
                m.graph.output.append(onnx.ValueInfoProto(name=o))
                have.add(o)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    acc = {k: [] for k in names}
    n = len(next(iter(inputs.values())))
    for i in range(n):
        for k, v in zip(names, sess.run(None, {k: a[i:i + 1] for k, a in inputs.items()})):
            acc[k].append(np.asarray(v))
    return {k: v for k, v in acc.items() if v and isinstance(v[0], np.ndarray)}


def worker_layers(job: dict, inputs: dict) -> dict:
    import onnx

    fpath, vpath = job["float_path"], job["variant_path"]
    fmodel, vmodel = onnx.load(fpath), onnx.load(vpath)
    ops = {n.op_type for n in vmodel.graph.node}
    qdq = bool(ops & {"QuantizeLinear", "DequantizeLinear"}) and not any(
        o.startswith("QLinear") or o.endswith("Integer") or o.startswith("Dynamic") for o in ops)
    qp = _quant_params(vmodel)
    notes, weights = [], {}
    fl = _all_outputs(fpath, inputs)
    acts = None
    if qdq:
        try:
            acts, weights = _qdq_debug(fpath, vpath, inputs)
            method = "onnxruntime.quantization.qdq_loss_debug (+ edgelab local/bulk error)"
        except Exception as e:
            notes.append(f"qdq_loss_debug failed ({type(e).__name__}: {str(e)[:200]}); used edgelab's comparison")
    if acts is None:
        method = "edgelab intermediate-output comparison" + (
            "" if qdq else " (qdq_loss_debug only handles QDQ models; this variant is not QDQ)")
        vo = _all_outputs(vpath, inputs)
        acts = {}
        for name in fl:
            post = vo.get(name + "_DequantizeLinear_Output") or vo.get(name)
            if post is None and name + "_quantized" in vo and name in qp and qp[name]["kind"] == "static":
                p = qp[name]
                post = [(q.astype(np.float64) - p["zero_point"]) * p["scale"] for q in vo[name + "_quantized"]]
            if post is not None and np.issubdtype(np.asarray(post[0]).dtype, np.floating):
                acts[name] = sqnr_db(np.concatenate([x.ravel() for x in fl[name]]),
                                     np.concatenate([np.asarray(x, np.float64).ravel() for x in post]))
    producer = {o: (i, n) for i, n in enumerate(fmodel.graph.node) for o in n.output}
    consumers = {}
    for n in fmodel.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n.name)
    relu_nodes = {n.name for n in fmodel.graph.node if n.op_type == "Relu"}
    tensors = []
    for name, err in acts.items():
        if name not in producer or name not in fl:
            continue
        f = np.concatenate([x.ravel() for x in fl[name]]).astype(np.float64)
        post_err = err if not isinstance(err, dict) else err.get("xmodel_err")
        rel = None if post_err is None else round(float(10 ** (-post_err / 20)), 5)
        i, node = producer[name]
        rec = {"tensor": name, "node": node.name, "op_type": node.op_type, "order": i, "sqnr_db": post_err,
               "rel_err": rel, "quantized": name in qp, "consumers": consumers.get(name, [])}
        relu = bool(consumers.get(name)) and all(c in relu_nodes for c in consumers[name])
        rec.update(local_metrics(f, qp.get(name), relu_follows=relu))
        tensors.append(rec)
    tensors.sort(key=lambda r: r["order"])
    for r in tensors:
        cands = [x for x in (r.get("local_sqnr_db"), r.get("bulk_sqnr_db")) if x is not None]
        r["score_db"] = min(cands) if cands else r["sqnr_db"]
    outs = [o.name for o in fmodel.graph.output]
    out_err = {o: next((r["sqnr_db"] for r in tensors if r["tensor"] == o), None) for o in outs}
    return {"layers": {"method": method, "tensors": tensors, "weights": weights, "outputs": out_err,
                       "samples": len(next(iter(inputs.values()))), "notes": notes}}


def _qdq_debug(fpath: str, vpath: str, inputs: dict):
    from onnxruntime.quantization import CalibrationDataReader
    from onnxruntime.quantization.qdq_loss_debug import (collect_activations, compute_activation_error,
                                                         compute_weight_error, create_activation_matching,
                                                         create_weight_matching,
                                                         modify_model_output_intermediate_tensors)

    class Reader(CalibrationDataReader):  # collect_activations iterates the reader: it must subclass this
        def __init__(self):
            n = len(next(iter(inputs.values())))
            self.it = iter([{k: v[i:i + 1] for k, v in inputs.items()} for i in range(n)])

        def get_next(self):
            return next(self.it, None)

    with tempfile.TemporaryDirectory(prefix="edgelab-qdqdbg-") as tmp:
        af, aq = str(Path(tmp) / "aug_f.onnx"), str(Path(tmp) / "aug_q.onnx")
        modify_model_output_intermediate_tensors(fpath, af)
        modify_model_output_intermediate_tensors(vpath, aq)
        fa = collect_activations(af, Reader())
        qa = collect_activations(aq, Reader())
    errs = compute_activation_error(create_activation_matching(qa, fa))
    try:
        weights = {k: round(float(v), 2) for k, v in compute_weight_error(create_weight_matching(fpath, vpath)).items()}
    except Exception:  # e.g. scalar initializers trip create_weight_matching; activations are still valid
        weights = {}
    return {k: {kk: round(float(vv), 2) for kk, vv in v.items()} for k, v in errs.items()}, weights
