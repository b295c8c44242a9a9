"""Profiling in the worker: kernel times by op/node (robust to one preempted run), runtime-graph census."""
import numpy as np

import edgelab as el
from edgelab.explain.profile import aggregate, profile_variants


def _ev(name, op, ts, dur):
    return {"cat": "Node", "name": f"{name}_kernel_time", "ts": ts, "dur": dur, "args": {"op_name": op}}


def test_aggregate_skips_warmup_and_uses_per_node_medians():
    events = []
    for r in range(5):  # run 0 is warm-up; run 3 has a 10 ms preemption in node a
        t = 1000 * r
        events.append({"cat": "Session", "name": "model_run", "ts": t, "dur": 50 if r else 900})
        events.append(_ev("a", "MatMul", t + 1, 10_000 if r == 3 else 20 if r else 500))
        events.append(_ev("b", "Relu", t + 2, 5))
        events.append(_ev("c", "Relu", t + 3, 7))
    agg = aggregate(events, skip_runs=1)
    assert agg["model_run_us"] == 50
    assert agg["by_op"] == {"MatMul": 20, "Relu": 12}
    assert agg["kernel_us"] == 32
    assert [n["name"] for n in agg["nodes"]] == ["a", "c", "b"]


def test_profile_tiny_in_worker(tiny):
    m = el.load(tiny)
    ds = el.Dataset.from_arrays(np.random.default_rng(0).standard_normal((16, 8)).astype(np.float32), model=m)
    vs = [el.build(m, "fp32"), el.build(m, "int8-static", calibration=ds)]
    prof = profile_variants(vs, ds, runs=30, warmup=5)
    fp, q = prof["fp32"], prof["int8-static"]
    assert fp["batch"] == 1 and fp["runs"] == 30
    assert set(fp["by_op"]) == {"MatMul", "Relu"}
    assert [n["op_type"] for n in q["runtime_graph"]] == ["QuantizeLinear", "QLinearMatMul", "QLinearMatMul",
                                                          "DequantizeLinear"]
    assert [n["precision"] for n in q["runtime_graph"]][1:3] == ["int8", "int8"]
    assert 0 < fp["kernel_us"] < fp["wall_us"] and 0 < fp["call_floor_us"] < fp["wall_us"]
    assert {n["name"] for n in q["nodes"]} == {n["name"] for n in q["runtime_graph"]}


def test_signed_activations_are_detected(tiny):
    m = el.load(tiny)
    ds = el.Dataset.from_arrays(np.random.default_rng(0).standard_normal((16, 8)).astype(np.float32), model=m)
    v = el.build(m, "int8-qop:activation_type=int8", calibration=ds)
    prof = profile_variants([v], ds, runs=5, warmup=1)[v.id]
    precs = {n["op_type"]: n["precision"] for n in prof["runtime_graph"]}
    assert precs["QLinearMatMul"] == "int8 (s8 activations)"
