"""Speed findings name the known cause, with numbers, on models built for it."""
import pytest

import edgelab as el
from edgelab.explain.profile import profile_variants
from edgelab.explain.speed import analyze
from edgelab.profiles.host import fingerprint

from tests.explain.explain_models import inputs_for


def _analyze(path, recipe, runs=60):
    m = el.load(path)
    ds = el.Dataset.from_arrays(inputs_for(path, n=32), model=m)
    fp, v = el.build(m, "fp32"), el.build(m, recipe, calibration=ds)
    prof = profile_variants([fp, v], ds, runs=runs)
    return analyze(prof[v.id], prof["fp32"], isa=fingerprint()["isa"], precision=v.precision,
                   steps=v.recipe.to_dict()["steps"], name=v.id), prof


def test_tiny_model_is_call_overhead(tiny):
    a, prof = _analyze(tiny, "int8-static")
    top = a["findings"][0]
    assert top["cause"] == "call_overhead"
    fp = prof["fp32"]
    assert fp["kernel_us"] / fp["wall_us"] < 0.5
    assert f"{fp['kernel_us']:.1f} of {fp['wall_us']:.1f} µs" in top["detail"]
    assert "per-call overhead" in a["headline"]


def test_ops_without_int8_kernel_are_named_with_a_recipe(no_int8):
    a, prof = _analyze(no_int8, "int8-static")
    causes = [f["cause"] for f in a["findings"]]
    assert "no_int8_kernel" in causes[:2] and "qdq_overhead" in causes
    f = next(f for f in a["findings"] if f["cause"] == "no_int8_kernel")
    assert {"Pow", "Tanh"} <= set(f["evidence"]["ops"])
    assert {"b0_pow", "b0_tanh", "b1_pow", "b1_tanh"} <= set(f["nodes"])
    assert f["recipe"]["steps"][-1]["options"]["op_types"] == "MatMul"
    # the suggested recipe is a valid Recipe, runnable as is
    r = el.Recipe.from_dict(f["recipe"])
    assert r.steps[-1][0] == "int8-static"
    q = next(x for x in a["findings"] if x["cause"] == "qdq_overhead")
    qv = prof["int8-static"]
    q_us = sum(n["us"] for n in qv["nodes"] if n["op_type"] in ("QuantizeLinear", "DequantizeLinear"))
    assert q["impact_us"] == pytest.approx(q_us, abs=0.01)


def test_fp16_is_found_running_in_fp32(no_int8):
    a, _ = _analyze(no_int8, "fp16", runs=20)
    f = next(f for f in a["findings"] if f["cause"] == "fp16_as_fp32")
    assert f["evidence"]["fp32_compute"] == 3
    isa = next(f for f in a["findings"] if f["cause"] == "isa")
    assert ("avx512_fp16" in fingerprint()["isa"]) == bool(isa["evidence"]["present"])


def test_unfused_signed_activations_suggest_uint8():
    """Pure rule check on a hand-written runtime graph: DQ → MatMul(float) → Q next to a fused QLinearMatMul."""
    g = [{"name": "dq", "op_type": "DequantizeLinear", "inputs": ["xq"], "outputs": ["x"], "precision": "quantize"},
         {"name": "mm", "op_type": "MatMul", "inputs": ["x", "w"], "outputs": ["y"], "precision": "float32"},
         {"name": "q", "op_type": "QuantizeLinear", "inputs": ["y"], "outputs": ["yq"], "precision": "quantize"},
         {"name": "qmm", "op_type": "QLinearMatMul", "inputs": ["yq"], "outputs": ["z"], "precision": "int8"}]
    var = {"wall_us": 200.0, "kernel_us": 150.0, "runtime_graph": g, "batch": 1,
           "nodes": [{"name": "dq", "us": 60.0}, {"name": "mm", "us": 50.0}, {"name": "q", "us": 20.0},
                     {"name": "qmm", "us": 20.0}], "by_op": {"DequantizeLinear": 60, "MatMul": 50,
                                                            "QuantizeLinear": 20, "QLinearMatMul": 20}}
    par = {"wall_us": 100.0, "kernel_us": 90.0, "call_floor_us": 3.0, "by_op": {"MatMul": 90.0},
           "runtime_graph": [{"op_type": "MatMul"}, {"op_type": "MatMul"}]}
    steps = [{"pass": "int8-static", "options": {"activation_type": "int8"}}]
    a = analyze(var, par, isa=["avx2"], precision="int8", steps=steps, name="s8")
    assert a["ratio"] == 2.0 and "slower" in a["headline"]
    by = {f["cause"]: f for f in a["findings"]}
    assert by["qdq_overhead"]["impact_us"] == 80.0 and by["qdq_overhead"]["share"] == 0.4
    assert by["unfused_compute"]["nodes"] == ["mm"] and by["unfused_compute"]["impact_us"] == 50.0
    assert by["unfused_compute"]["recipe"]["steps"][0]["options"]["activation_type"] == "uint8"
    assert "1 of 2 MatMul" in by["unfused_compute"]["detail"]
    assert by["isa"]["title"] == "Host CPU lacks int8 instructions"
    assert "call_overhead" not in by
    assert by["op_times"]["evidence"]["families"]["matmul"] == {"parent_us": 90.0, "variant_us": 70.0}
