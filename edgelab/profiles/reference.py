"""Device calibration from published reference measurements (a profile's `reference` rows).

A datasheet cannot say how fast a board's software really runs: the same Cortex-A76 at 2.4 GHz runs ncnn's
MobileNetV1 in 20 ms on a Raspberry Pi 5 and in 41 ms on an RK3588 board. A profile may therefore carry
published measurements of one reference network (MobileNetV1, built here with random weights: latency does
not depend on them). Each is projected exactly like a user's model (host-calibrated roofline); the median of
published / projected is the profile's device factor (a median, because a published table has odd rows: the
Pi 5's 4-thread fp16 MobileNetV1 is slower than its 1-thread one), which scales every projection onto it:

    projected = measured_on_host × roofline(target) / roofline(host) × device_factor

    >>> from edgelab.profiles import get
    >>> from edgelab.profiles.reference import device_factor
    >>> device_factor(get("rpi4"))["factor"]
"""
from __future__ import annotations

import functools
import json
import math
import statistics
import time
from pathlib import Path

REFERENCE_MODELS = ("mobilenet_v1",)


def mobilenet_v1(width: float = 1.0, size: int = 224, classes: int = 1000):
    """MobileNetV1 (Howard et al. 2017, Table 1) as ONNX, batch norm folded, random He-initialised weights."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits = [], []

    def conv(x, cin, cout, k, stride, group, name):
        w = rng.normal(0, math.sqrt(2 / (cin // group * k * k)), (cout, cin // group, k, k)).astype(np.float32)
        inits.extend([numpy_helper.from_array(w, f"{name}_w"), numpy_helper.from_array(np.zeros(cout, np.float32), f"{name}_b")])
        nodes.append(helper.make_node("Conv", [x, f"{name}_w", f"{name}_b"], [f"{name}_c"], kernel_shape=[k, k],
                                      strides=[stride, stride], pads=[k // 2] * 4, group=group))
        nodes.append(helper.make_node("Relu", [f"{name}_c"], [name]))
        return name

    ch = lambda c: max(8, int(c * width))  # noqa: E731
    cfg = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    x, c = conv("input", 3, ch(32), 3, 2, 1, "conv0"), ch(32)
    for i, (o, s) in enumerate(cfg):
        x = conv(x, c, c, 3, s, c, f"dw{i}")
        x, c = conv(x, c, ch(o), 1, 1, 1, f"pw{i}"), ch(o)
    fc = rng.normal(0, math.sqrt(1 / c), (classes, c)).astype(np.float32)
    inits += [numpy_helper.from_array(fc, "fc_w"), numpy_helper.from_array(np.zeros(classes, np.float32), "fc_b")]
    nodes += [helper.make_node("GlobalAveragePool", [x], ["pool"]), helper.make_node("Flatten", ["pool"], ["flat"]),
              helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], transB=1)]
    g = helper.make_graph(nodes, "mobilenet_v1", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="edgelab")


@functools.lru_cache(maxsize=1)
def _tmpdir() -> str:
    """Where the reference networks live while this process runs (not the workspace: they are rebuilt
    from a fixed seed in well under a second)."""
    import atexit
    import shutil
    import tempfile

    d = tempfile.mkdtemp(prefix="edgelab-reference-")
    atexit.register(shutil.rmtree, d, ignore_errors=True)
    return d


@functools.lru_cache(maxsize=8)
def _reference(model: str, width: float, size: int, classes: int):
    """The reference network and its host calibration factor (fp32, 1 thread; best p10 of 3 x 0.3 s of runs)."""
    import numpy as np
    import onnxruntime as ort

    from ..estimate import calibration_factor
    from ..model import load

    proto = mobilenet_v1(width, size, classes)
    path = Path(_tmpdir()) / f"{model}-{width:g}-{size}-{classes}.onnx"
    path.write_bytes(proto.SerializeToString())
    m = load(path)
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = 1, 1
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    feed = {"input": np.random.default_rng(1).random((1, 3, size, size), dtype=np.float32)}
    for _ in range(3):
        sess.run(None, feed)
    p10s = []
    for _ in range(3):  # best of three blocks' p10: this machine's speed, not a neighbour's burst of load
        ts, end = [], time.perf_counter() + 0.3
        while len(ts) < 10 or (time.perf_counter() < end and len(ts) < 200):
            t = time.perf_counter()
            sess.run(None, feed)
            ts.append((time.perf_counter() - t) * 1e3)
        p10s.append(float(np.percentile(ts, 10)))
    host_ms = min(p10s)
    return m, calibration_factor(m, host_ms, 1, "fp32"), host_ms


_factors: dict[str, dict] = {}


def device_factor(prof) -> dict | None:
    """published / projected over the profile's reference rows (their median, taken in log space so two
    middle rows give their geometric mean), or None without any."""
    if not prof.reference:
        return None
    key = json.dumps(prof.to_dict(), sort_keys=True, default=str)
    if key not in _factors:
        _factors[key] = _device_factor(prof)
    return _factors[key]


def _device_factor(prof) -> dict:
    from ..errors import ConfigError
    from ..estimate import estimate

    logs, rows = [], []
    for i, r in enumerate(prof.reference):
        m, hf, host_ms = _reference(r["model"], r["width"], r["size"], r["classes"])
        p = prof.with_overrides(clusters=tuple(r["clusters"])) if r.get("clusters") else prof
        e = estimate(m, p, precision=r["precision"], threads=r["threads"], calibration_factor=hf,
                     fw=r.get("framework"), device_reference=False)
        if e.latency_ms is None:
            raise ConfigError(f"profile {prof.id!r}: reference[{i}] is {r['precision']}, which {prof.id} cannot run; "
                              "give a measurement in a precision it runs")
        ratio = r["latency_ms"] / e.latency_ms
        logs.append(math.log(ratio))
        rows.append({"precision": r["precision"], "threads": r["threads"], "published_ms": r["latency_ms"],
                     "projected_ms": round(e.latency_ms, 4), "ratio": round(ratio, 4), "source_url": r.get("source_url")})
    factor = math.exp(statistics.median(logs))  # robust to one odd published row
    spread = math.exp(max(abs(x - math.log(factor)) for x in logs))
    first = prof.reference[0]
    return {"factor": round(factor, 4), "n": len(rows), "spread": round(spread, 3),
            "model": f"MobileNetV1 {first['width']:g}x {first['size']}px"
                     + (f" ({', '.join(sorted({r['framework'] for r in prof.reference if r.get('framework')}))})"
                        if any(r.get("framework") for r in prof.reference) else ""),
            "device": first.get("device", prof.name), "host_ms": round(host_ms, 4), "rows": rows}


def describe(df: dict) -> str:
    """How a projection says it was scaled by a device factor."""
    return f"scaled x{df['factor']:g} by {df['n']} published {df['model']} measurements on {df['device']}"


__all__ = ["REFERENCE_MODELS", "describe", "device_factor", "mobilenet_v1"]
