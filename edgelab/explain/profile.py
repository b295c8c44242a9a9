"""Per-node time profile of a variant (onnxruntime session profiling) and its runtime-graph census.

Runs in the worker process (job mode "profile"): the caller never loads a backend.

    >>> prof = profile_variants([fp32_variant, int8_variant], data, batch=1, runs=50)
    >>> prof["int8-static"]["by_op"]          # {op_type: µs per run}, from the profiler's Node events
"""
from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

# what a runtime node computes in, by op type (the rest: the dtype of its first input)
QUANT_OPS = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"}
INT8_OPS = {"QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger", "QGemm", "DynamicQuantizeMatMul",
            "MatMulIntegerToFloat", "QLinearAdd", "QLinearMul", "QLinearSigmoid", "QLinearLeakyRelu",
            "QLinearGlobalAveragePool", "QLinearAveragePool", "QLinearSoftmax", "QLinearConcat", "QAttention",
            "QLinearReduceMean", "QLinearWhere", "QEmbedLayerNormalization", "QOrderedMatMul", "DynamicQuantizeLSTM"}
# ops that do the arithmetic of a network (the rest is glue: reshapes, activations, Q/DQ, casts)
COMPUTE_FAMILY = {
    "Conv": "conv", "QLinearConv": "conv", "ConvInteger": "conv", "ConvTranspose": "conv", "FusedConv": "conv",
    "MatMul": "matmul", "Gemm": "matmul", "FusedMatMul": "matmul", "QLinearMatMul": "matmul", "QGemm": "matmul",
    "MatMulInteger": "matmul", "DynamicQuantizeMatMul": "matmul", "MatMulIntegerToFloat": "matmul",
    "Attention": "matmul", "QAttention": "matmul", "FusedGemm": "matmul",
}
_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 9: "bool", 10: "float16", 11: "float64",
           16: "bfloat16"}


def family(op_type: str) -> str:
    if op_type in COMPUTE_FAMILY:
        return COMPUTE_FAMILY[op_type]
    if op_type in QUANT_OPS:
        return "quantize"
    if op_type == "Cast":
        return "cast"
    return "other"


def profile_variants(variants, data, *, batch: int = 1, runs: int = 50, warmup: int = 10, threads: int | None = None,
                     timeout_s: float = 300.0) -> dict:
    """{variant id: profile dict} measured in one worker process (see `measure_one` for the fields)."""
    import os

    from ..runners import MeasureConfig, run_job

    with tempfile.TemporaryDirectory(prefix="edgelab-prof-") as tmp:
        data_path = data.take(max(batch, 1)).save_npz(Path(tmp) / "data.npz")
        job = {"mode": "profile", "kind": "time", "data": str(data_path), "batch": batch, "runs": runs,
               "warmup": warmup, "threads": threads or os.cpu_count() or 1,
               "cfg": MeasureConfig(threads=threads).to_dict(),
               "variants": [{"id": v.id, "path": v.path, "runtime": v.runtime} for v in variants]}
        res = run_job(job, timeout_s=timeout_s * max(1, len(variants)))
    return res["profiles"]


def worker_main(job: dict) -> dict:
    """Entry point inside the worker (edgelab.runners.worker, mode "profile")."""
    from ..data import Dataset

    inputs = Dataset.load_inputs_npz(job["data"])
    if job.get("kind", "time") == "layers":
        from .layers import worker_layers

        return worker_layers(job, inputs)
    feeds = {k: v[:job["batch"]] for k, v in inputs.items()}
    out = {"call_floor_us": _call_floor_us(feeds, job["threads"])}
    profs = {}
    with tempfile.TemporaryDirectory(prefix="edgelab-prof-") as tmp:
        for v in job["variants"]:
            if v.get("runtime", "onnxruntime") != "onnxruntime":
                profs[v["id"]] = {"error": f"profiling is implemented for onnxruntime variants only ({v['runtime']})"}
                continue
            try:
                profs[v["id"]] = measure_one(v["path"], feeds, job["threads"], job["runs"], job["warmup"],
                                             Path(tmp) / v["id"].replace("/", "_"))
            except Exception as e:  # one variant failing does not lose the others
                profs[v["id"]] = {"error": f"{type(e).__name__}: {str(e).strip()[:300]}"}
            profs[v["id"]]["call_floor_us"] = out["call_floor_us"]
    out["profiles"] = profs
    return out


def measure_one(path: str, feeds: dict, threads: int, runs: int, warmup: int, tmp: Path) -> dict:
    """Profile one model: wall time per call, kernel time by op type and node, runtime graph census."""
    import onnxruntime as ort

    tmp.mkdir(parents=True, exist_ok=True)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    so.enable_profiling = True
    so.profile_file_prefix = str(tmp / "prof")
    so.optimized_model_filepath = str(tmp / "runtime.onnx")
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    wall = _timed_runs(sess, feeds, warmup, runs)
    events = json.loads(Path(sess.end_profiling()).read_text())
    census = runtime_census(str(tmp / "runtime.onnx"))
    agg = aggregate(events, skip_runs=warmup)
    agg.update(wall_us=round(statistics.median(wall), 2), wall_p90_us=round(sorted(wall)[int(0.9 * (len(wall) - 1))], 2),
               runs=runs, batch=len(next(iter(feeds.values()))), runtime_graph=census)
    ptypes = {n["name"]: n for n in census}
    for n in agg["nodes"]:
        c = ptypes.get(n["name"])
        if c is not None:
            n.update(domain=c["domain"], precision=c["precision"])
    return agg


def aggregate(events: list, skip_runs: int = 0) -> dict:
    """Sum `Node` `*_kernel_time` events by op type and by node, per run (warm-up runs skipped)."""
    run_ev = sorted((e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"),
                    key=lambda e: e["ts"])
    kept = run_ev[skip_runs:] or run_ev
    t_from = kept[0]["ts"] if kept else 0
    n_runs = max(1, len(kept))
    durs, node_op = defaultdict(list), {}
    for e in events:
        if e.get("cat") != "Node" or not str(e.get("name", "")).endswith("_kernel_time") or e["ts"] < t_from:
            continue
        name = e["name"][: -len("_kernel_time")]
        durs[name].append(e["dur"])
        node_op[name] = (e.get("args") or {}).get("op_name", "?")
    # per node: median duration × calls per run (a VM preemption in one run must not dominate)
    by_node = {k: statistics.median(v) * len(v) / n_runs for k, v in durs.items()}
    by_op = defaultdict(float)
    for k, v in by_node.items():
        by_op[node_op[k]] += v
    runs_us = [e["dur"] for e in kept]
    return {"model_run_us": round(statistics.median(runs_us), 2) if runs_us else None,
            "kernel_us": round(sum(by_node.values()), 2),
            "by_op": {k: round(v, 2) for k, v in sorted(by_op.items(), key=lambda kv: -kv[1])},
            "nodes": [{"name": k, "op_type": node_op[k], "us": round(v, 2)}
                      for k, v in sorted(by_node.items(), key=lambda kv: -kv[1])]}


def runtime_census(path: str) -> list[dict]:
    """The graph onnxruntime actually executes: per node name, op type, domain and compute precision."""
    import onnx

    m = onnx.load(path, load_external_data=False)
    g = m.graph
    dtype = {t.name: t.data_type for t in g.initializer}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        if vi.type.tensor_type.elem_type:
            dtype[vi.name] = vi.type.tensor_type.elem_type
    out = []
    for n in g.node:
        prec = _precision(n, dtype)
        out.append({"name": n.name, "op_type": n.op_type, "domain": n.domain or "ai.onnx",
                    "inputs": list(n.input), "outputs": list(n.output), "precision": prec})
    return out


def _precision(n, dtype: dict) -> str:
    """Forward dtype propagation good enough to tell int8 / fp32 / fp16 work apart."""
    first = next((dtype.get(i) for i in n.input if i and dtype.get(i) is not None), None)
    if n.op_type == "QuantizeLinear":
        zp = dtype.get(n.input[2]) if len(n.input) > 2 and n.input[2] else 2
        out_t, prec = zp, "quantize"
    elif n.op_type == "DynamicQuantizeLinear":
        out_t, prec = 2, "quantize"
    elif n.op_type == "DequantizeLinear":
        out_t, prec = dtype.get(n.input[1], 1) if len(n.input) > 1 else 1, "quantize"
    elif n.op_type == "Cast":
        to = next((a.i for a in n.attribute if a.name == "to"), 1)
        out_t, prec = to, "cast"
    elif n.op_type in INT8_OPS:
        out_t = 1 if n.op_type in ("DynamicQuantizeMatMul", "MatMulIntegerToFloat", "QAttention") else \
            6 if n.op_type in ("ConvInteger", "MatMulInteger") else (first or 2)
        zp_in = n.input[2] if len(n.input) > 2 else ""
        # x86 int8 kernels are U8S8 (VNNI); signed int8 activations take a slower path
        prec = "int8 (s8 activations)" if (dtype.get(zp_in) == 3 or (not zp_in and first == 3)) else "int8"
        if n.op_type in ("QLinearConv", "QLinearMatMul") and len(n.input) > 7 and n.input[7]:
            out_t = dtype.get(n.input[7], out_t)
    else:
        out_t = first if first is not None else 1
        prec = _DTYPES.get(first or 1, str(first))
        if n.op_type in ("Shape", "Size"):
            out_t = 7
    for o in n.output:
        if o and o not in dtype:
            dtype[o] = out_t
    return prec


def _call_floor_us(feeds: dict, threads: int, runs: int = 200) -> float | None:
    """Median cost of one `sess.run` of an Identity-only model on the same inputs: the fixed per-call cost."""
    import numpy as np
    import onnxruntime as ort
    from onnx import helper as h

    elem = {np.dtype(np.float32): 1, np.dtype(np.float16): 10, np.dtype(np.int64): 7, np.dtype(np.int32): 6,
            np.dtype(np.uint8): 2, np.dtype(np.int8): 3, np.dtype(np.bool_): 9, np.dtype(np.float64): 11}
    try:
        ins, outs, nodes = [], [], []
        for i, (k, v) in enumerate(feeds.items()):
            ins.append(h.make_tensor_value_info(k, elem[v.dtype], list(v.shape)))
            outs.append(h.make_tensor_value_info(f"o{i}", elem[v.dtype], list(v.shape)))
            nodes.append(h.make_node("Identity", [k], [f"o{i}"]))
        m = h.make_model(h.make_graph(nodes, "floor", ins, outs), opset_imports=[h.make_opsetid("", 17)])
        m.ir_version = 8
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.log_severity_level = 3
        sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
        return round(statistics.median(_timed_runs(sess, feeds, 20, runs)), 2)
    except Exception:
        return None


def _timed_runs(sess, feeds: dict, warmup: int, runs: int) -> list[float]:
    """Wall time of each of `runs` calls (µs), after `warmup` untimed ones."""
    for _ in range(warmup):
        sess.run(None, feeds)
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        out.append((time.perf_counter() - t0) * 1e6)
    return out
