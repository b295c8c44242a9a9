"""TVM runner: load a compiled variant (`model.so` + `model.json`) into the Relax VM, run it, profile it per op.

Also answers "which ops can TVM's ONNX frontend not convert?" without importing TVM (for `edgelab inspect`).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

# ops of tvm.relax.frontend.onnx.onnx_frontend._get_convert_map() in apache-tvm 0.27.0 (checked against the
# installed TVM when its version differs); lets `inspect` answer without the ~1 s `import tvm`
_CONVERT_027 = frozenset("""
Abs Acos Acosh Add AffineGrid AllClassNMS And ArgMax ArgMin Asin Asinh Atan Atanh Attention AveragePool
BatchNormalization BiasGelu BitShift BitwiseAnd BitwiseNot BitwiseOr BitwiseXor Cast CastLike Ceil Clip
Compress Concat ConcatFromSequence Constant ConstantOfShape Conv ConvTranspose Cos Cosh CumSum DepthToSpace
DequantizeLinear Div Dropout DynamicQuantizeLinear Einsum Elu EmbedLayerNormalization Equal Erf Exp Expand
EyeLike FastGelu Flatten Floor Gather GatherElements GatherND Gelu Gemm GlobalAveragePool GlobalLpPool
GlobalMaxPool Greater GreaterOrEqual GridSample GroupNormalization HardSigmoid HardSwish Hardmax Identity
InstanceNormalization IsInf IsNaN LRN LayerNormalization LeakyRelu Less LessOrEqual Log LogSoftmax LpPool
MatMul MatMulInteger MatMulInteger16 Max MaxPool MaxRoiPool MaxUnpool Mean MeanVarianceNormalization Min Mish
Mod Mul Neg NonMaxSuppression NonZero Not OneHot Optional OptionalGetElement OptionalHasElement Or PRelu Pad
Pow QuantizeLinear RMSNormalization Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax
ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu Reshape Resize RoiAlign Round Scatter
ScatterElements ScatterND Selu SequenceAt SequenceConstruct SequenceEmpty SequenceErase SequenceInsert
SequenceLength Shape Shrink Sigmoid Sign Sin Sinh Size SkipLayerNormalization Slice Softmax Softplus Softsign
SpaceToDepth Split SplitToSequence Sqrt Squeeze Sub Sum Tan Tanh ThresholdedRelu Tile TopK Transpose Trilu
Unique Unsqueeze Upsample Where Xor""".split())
_STD_DOMAINS = ("", "ai.onnx", "com.microsoft")


def _convert_map() -> frozenset:
    from importlib import metadata

    try:
        if metadata.version("apache-tvm").startswith("0.27."):
            return _CONVERT_027
    except metadata.PackageNotFoundError:
        from ..errors import MissingDependencyError

        raise MissingDependencyError("Apache TVM is not installed: pip install 'apache-tvm[meta-schedule,"
                                     "popen-pool,rpc]==0.27.0.post1' 'apache-tvm-ffi==0.1.14.post1'") from None
    from tvm.relax.frontend.onnx import onnx_frontend

    return frozenset(onnx_frontend._get_convert_map())


def unsupported_in_proto(proto) -> list[str]:
    """Op types (with their domain when custom) in an onnx.ModelProto that the Relax importer lacks."""
    known = _convert_map()
    bad = set()

    def walk(graph):
        for n in graph.node:
            if n.op_type not in known or n.domain not in _STD_DOMAINS:
                bad.add(n.op_type if n.domain in _STD_DOMAINS else f"{n.domain}.{n.op_type}")
            for a in n.attribute:
                for g in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                    walk(g)

    walk(proto.graph)
    return sorted(bad)


def unsupported_ops(model) -> list[str]:
    """Op types of `model` (edgelab Model, path or ModelProto) TVM's ONNX frontend cannot convert ([] = all fine)."""
    import onnx

    if hasattr(model, "graph"):
        proto = model
    else:
        proto = onnx.load(str(getattr(model, "path", model)), load_external_data=False)
    return unsupported_in_proto(proto)


def _meta(path: str) -> dict:
    p = Path(path).with_suffix(".json")
    return json.loads(p.read_text()) if p.exists() else {}


def _vm(path: str, threads: int | None):
    if threads:
        os.environ.setdefault("TVM_NUM_THREADS", str(threads))  # read when the runtime's pool starts
    import sys

    if "tvm" not in sys.modules and "torch" not in sys.modules:
        sys.modules["torch"] = None  # tvm_ffi imports torch when it can (seconds); the runtime never needs it
        try:
            import tvm
        finally:
            if sys.modules.get("torch", 0) is None:
                del sys.modules["torch"]
    import tvm
    from tvm import relax

    lib = tvm.runtime.load_module(str(path))
    return tvm, relax.VirtualMachine(lib, tvm.cpu())


def _caller(tvm, fn, meta: dict):
    import numpy as np

    names = [i["name"] for i in meta.get("inputs", [])]
    static = meta.get("static_batch")

    def call(arrays):
        out = fn(*[tvm.runtime.tensor(a) for a in arrays])
        outs = list(out) if isinstance(out, (tuple, list)) or type(out).__name__ == "Array" else [out]
        return [o.numpy() for o in outs]

    def run(feeds):
        arrays = [np.ascontiguousarray(feeds[n]) for n in names] if names else [
            np.ascontiguousarray(v) for v in feeds.values()]
        n = arrays[0].shape[0] if arrays and arrays[0].ndim else 0
        if not static or n == static:
            return call(arrays)
        parts = []  # a model tuned for a static batch: run the batch in chunks of that size, pad the last
        for s in range(0, n, static):
            chunk = [a[s:s + static] for a in arrays]
            k = chunk[0].shape[0]
            if k < static:
                chunk = [np.concatenate([c, np.repeat(c[-1:], static - k, axis=0)]) for c in chunk]
            parts.append([o[:k] for o in call(chunk)])
        return [np.concatenate([p[i] for p in parts]) for i in range(len(parts[0]))]

    return run


def load(path: str, threads: int):
    """Return (run(feeds) -> list of numpy outputs, info dict) for a compiled TVM variant."""
    meta = _meta(path)
    tvm, vm = _vm(path, threads)
    info = {"runtime": "tvm", "version": tvm.__version__, "target": meta.get("target"),
            "static_batch": meta.get("static_batch"), "tuned": meta.get("tuned"),
            "threads": int(os.environ.get("TVM_NUM_THREADS", threads or 0))}
    return _caller(tvm, vm["main"], meta), info


def profile(path: str, feeds: dict, *, runs: int = 10, threads: int | None = None) -> list[dict]:
    """Time per kernel (TIR PrimFunc or VM builtin) over `runs` calls, via the VM instrument hook.

    Rows sorted by total time: {name, calls, mean_us, total_ms, pct}; per-call means, measured on this host.
    """
    meta = _meta(path)
    tvm, vm = _vm(path, threads)
    run = _caller(tvm, vm["main"], meta)
    run(feeds)  # warm-up outside the statistics
    stats: dict[str, list] = {}
    start: dict[str, float] = {}

    def instrument(func, name, before_run, ret_val, *args):
        if before_run:
            start[name] = time.perf_counter()
        else:
            s = stats.setdefault(name, [0, 0.0])
            s[0] += 1
            s[1] += time.perf_counter() - start.pop(name, time.perf_counter())
        return 0  # NO_OP: run the call normally

    vm.set_instrument(instrument)
    for _ in range(runs):
        run(feeds)
    total = sum(s[1] for s in stats.values()) or 1.0
    rows = [{"name": k, "calls": c // runs or 1, "mean_us": round(t / max(c, 1) * 1e6, 2),
             "total_ms": round(t / runs * 1e3, 4), "pct": round(100 * t / total, 2)} for k, (c, t) in stats.items()]
    return sorted(rows, key=lambda r: -r["total_ms"])


def format_profile(rows: list[dict], top: int = 15) -> str:
    lines = [f"{'kernel':44s} {'calls':>5s} {'mean_us':>10s} {'ms/run':>9s} {'%':>6s}"]
    for r in rows[:top]:
        lines.append(f"{r['name'][:44]:44s} {r['calls']:5d} {r['mean_us']:10.1f} {r['total_ms']:9.3f} {r['pct']:6.1f}")
    return "\n".join(lines)
