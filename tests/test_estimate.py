"""Roofline projection against hand-computed cases, calibration, memory fit, precision support, partial ops,
and project_report on a Report."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from edgelab import profiles as P
from edgelab.errors import ConfigError
from edgelab.estimate import estimate, fit_summary, memory_fit, project_report, roofline_ms, graph_ops
from edgelab.model import load


def _gemm(tmp_path, dtype=np.float32, extra=None):
    """y = x[1,256] @ W[256,256]: 65,536 MACs; reads 1,024 + 262,144 B, writes 1,024 B (fp32)."""
    W = nh.from_array(np.ones((256, 256), dtype=dtype), "W")
    et = T.FLOAT if dtype == np.float32 else T.FLOAT16
    nodes = [h.make_node("MatMul", ["x", "W"], ["y"])]
    outs = "y"
    if extra:
        nodes.append(h.make_node(extra, ["y"], ["z"]))
        outs = "z"
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", et, [1, 256])],
                     [h.make_tensor_value_info(outs, et, [1, 256])], [W])
    p = tmp_path / "gemm.onnx"
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 17)]), p)
    return load(p)


def _board(bw=1.0, ram=2**30, **kw):
    return P.load_profile({"id": "hand", "name": "hand-computed board", "mem_bandwidth_gbs": bw, "ram_bytes": ram,
                           "clusters": [{"uarch": "cortex-a72", "count": 1, "ghz": 1.0}], "efficiency": 0.5, **kw},
                          register=False)


def test_roofline_memory_bound_hand_computed(tmp_path):
    m = _gemm(tmp_path)
    ms, split = roofline_ms(graph_ops(m), _board(bw=1.0), "fp32", 1)
    # bytes 264,192 / 1 GB/s = 264.192 us > compute 2*65,536 / (8 GFLOP/s * 0.5) = 32.768 us; + 4000 cycles @1 GHz
    assert ms == pytest.approx(0.264192 + 0.004)
    assert split["memory_ms"] == pytest.approx(0.264192) and split["compute_ms"] == 0


def test_roofline_compute_bound_hand_computed(tmp_path):
    m = _gemm(tmp_path)
    ms, split = roofline_ms(graph_ops(m), _board(bw=100.0), "fp32", 1)
    assert ms == pytest.approx(0.032768 + 0.004)
    assert split["compute_ms"] == pytest.approx(0.032768)


def test_calibration_scales_by_measured_over_host_roofline(tmp_path):
    m = _gemm(tmp_path)
    board = _board(bw=100.0)
    e = estimate(m, board, calibration_factor=2.0)
    assert e.latency_ms == pytest.approx(2 * 0.036768, rel=1e-3)
    assert e.source.startswith("projected from hand, calibrated on ")
    host = P.get("host")
    r_h, _ = roofline_ms(graph_ops(m), host, "fp32", 1)
    e2 = estimate(m, board, host_ms=3 * r_h, host_threads=1)
    assert e2.calibration["factor"] == pytest.approx(3.0, rel=1e-3)
    assert e2.latency_ms == pytest.approx(3 * 0.036768, rel=1e-3)
    e3 = estimate(m, board)
    assert "uncalibrated" in e3.source and e3.latency_ms == pytest.approx(0.036768, rel=1e-3)


def test_memory_fit_and_energy(tmp_path):
    m = _gemm(tmp_path)
    # weights 262,144 B + peak activations + 30 MiB runtime overhead vs RAM minus OS reserve
    need = 262_144 + m.peak_activation_bytes + 30 * 2**20
    fit = memory_fit(m, _board(ram=need + 1000), "fp32")
    assert fit["fits"] and fit["margin_bytes"] == 1000 and fit["memory_bytes"] == need
    e = estimate(m, _board(ram=need - 1, power_w=5.0), calibration_factor=1.0)
    assert e.fits is False and e.margin_bytes == -1
    assert e.energy_mj == pytest.approx(5.0 * e.latency_ms)  # W × ms = mJ


def test_microcontroller_fit_uses_flash_for_weights(tmp_path):
    m = _gemm(tmp_path)
    e = estimate(m, "stm32h7")
    assert e.fits is True and e.storage_bytes == 262_144  # 256 KiB weights in 2 MiB flash
    tiny = P.load_profile({"id": "tiny-mcu", "name": "tiny", "kind": "mcu", "clusters": [
        {"uarch": "cortex-m7", "count": 1, "ghz": 0.2}], "mem_bandwidth_gbs": 0.4, "ram_bytes": 64 * 1024,
        "storage_bytes": 128 * 1024, "runtime_overhead_bytes": 4096}, register=False)
    e2 = estimate(m, tiny)
    assert e2.fits is False and e2.margin_bytes == 128 * 1024 - 262_144


def test_precision_support_labels(tmp_path):
    m32 = _gemm(tmp_path)
    coral = estimate(m32, "coral")
    assert coral.runnable is False and coral.latency_ms is None and coral.precision_support == "unsupported"
    assert "int8" in " ".join(coral.notes)
    m16 = _gemm(tmp_path, np.float16)
    assert m16.ops[0].precision == "fp16"
    e4 = estimate(m16, "rpi4", calibration_factor=1.0)
    e5 = estimate(m16, "rpi5", calibration_factor=1.0)
    assert e4.precision_support == "emulated" and "emulated" in " ".join(e4.notes) and e4.runnable
    assert e5.precision_support == "native"


def test_uncounted_ops_give_partial_estimate(tmp_path):
    m = _gemm(tmp_path, extra="Hardmax")  # an op the model statistics cannot count
    assert "Hardmax" in m.uncounted_ops
    e = estimate(m, "rpi4", calibration_factor=1.0)
    assert e.partial and e.uncounted_ops == ("Hardmax",) and e.latency_ms > 0
    assert "Hardmax" in " ".join(e.notes)
    fs = fit_summary(m.path, ["rpi4"])
    assert fs["rpi4"]["partial"] and fs["rpi4"]["uncounted_ops"] == ["Hardmax"]


def test_unknown_profile_in_estimate(tmp_path):
    with pytest.raises(ConfigError, match="valid profiles"):
        estimate(_gemm(tmp_path), "pi-four")


def _report(m, p50=0.05):
    from edgelab.report import Report

    v = {"id": "fp32", "recipe": "fp32", "runtime": "onnxruntime", "precision": "fp32", "error": None,
         "latency_ms": {"p50": p50}, "agreement": {"top1": 1.0, "cosine": 1.0}, "accuracy": None}
    return Report(model=m.summary(), host={"cpu": "x"}, variants=(v,), settings={"threads": 1})


def test_project_report_estimates_savings_and_best(tmp_path):
    from edgelab.savings import Workload

    m = _gemm(tmp_path)
    r = project_report(_report(m), m, ["rpi4", "coral"], workload=Workload(requests_per_day=1e5))
    v = r.variants[0]
    e = v["estimates"]["rpi4"]
    assert e["latency_ms"] > 0 and e["fits"] is True and e["source"].startswith("projected from rpi4, calibrated on")
    for k in ("memory_bytes", "margin_bytes", "energy_mj", "partial"):
        assert k in e
    assert v["estimates"]["coral"]["latency_ms"] is None  # fp32 on an int8-only device
    s = v["savings"]["rpi4"]
    for k in ("cloud_usd_month", "edge_usd_month", "savings_usd_month", "breakeven_months",
              "network_latency_avoided_ms", "sensitivity"):
        assert k in s
    assert r.profiles["rpi4"]["validation"]["n"] > 0 and r.prices["date"]
    assert r.best(profile="rpi4")["id"] == "fp32"
    assert r.best(profile="coral") is None
    rows = r.rows()[0]
    assert rows["rpi4 ms (projected)"] == e["latency_ms"]
    assert "* = projected" in r.table()
    val = r.profiles["rpi4"]["validation"]  # each profile's method error is printed next to its projections
    df = r.profiles["rpi4"]["device_factor"]  # and the device factor from rpi4's published reference rows
    assert df["n"] == 4 and e["calibration"]["device_factor"] == df and f"scaled x{df['factor']:g}" in e["source"]
    assert (f"* rpi4: projected from profile rpi4, calibrated on this host and scaled x{df['factor']:g} by 4 published "
            f"MobileNetV1 1x 224px (ncnn) measurements on Raspberry Pi 4B (Cortex-A72 1.8GHz x4); method error on "
            f"{val['n']} published rpi4 measurements: median {val['median']}x") in r.table()
    page = r.to_html()  # the HTML report's profile table says it too, and which profiles are datasheet only
    assert f"x{df['factor']:g} from 4 published MobileNetV1 1x 224px (ncnn) measurements" in page
    with pytest.raises(ConfigError):
        project_report(_report(m), m, ["nope"])


def test_fused_runtime_graph_projects_like_its_parent(tmp_path):
    """ort-opt's FusedConv graph does the same work as the original: same projection (no free compute)."""
    import edgelab as el
    from edgelab.estimate import estimate
    from tests.conftest import make_cnn

    m = el.load(make_cnn(tmp_path / "cnn.onnx"))
    fused = el.load(el.build(m, "ort-opt").path)
    assert "FusedConv" in fused.op_histogram and fused.macs == m.macs
    a, b = estimate(m, "rpi4").latency_ms, estimate(fused, "rpi4").latency_ms
    assert b == pytest.approx(a, rel=0.15)


# ---- fused transformer operators (onnxruntime.transformers / quantize_dynamic output) --------------
S, H, HEADS, FF, VOCAB = 16, 64, 4, 128, 100


def _bert_layer(tmp_path, fused: bool):
    """Embedding + one BERT encoder layer, as plain ONNX ops or as the com.microsoft fusions the
    onnxruntime transformer optimizer emits (EmbedLayerNormalization, Attention, SkipLayerNormalization,
    BiasGelu). MACs of both: QKV S·H·3H + Q·K^T S·S·H + P·V S·S·H + out S·H·H + FFN 2·S·H·FF."""
    rng = np.random.default_rng(0)
    w = lambda name, *shape: nh.from_array((rng.standard_normal(shape) * 0.05).astype(np.float32), name)  # noqa
    inits = [w("word", VOCAB, H), w("pos", S, H), w("g0", H), w("b0", H), w("wqkv", H, 3 * H), w("bqkv", 3 * H),
             w("wo", H, H), w("bo", H), w("g1", H), w("b1", H), w("w1", H, FF), w("bf1", FF), w("w2", FF, H),
             w("bf2", H), w("g2", H), w("b2", H)]
    if fused:
        nodes = [h.make_node("EmbedLayerNormalization", ["ids", "", "word", "pos", "", "g0", "b0"], ["x", "mask"],
                             domain="com.microsoft", epsilon=1e-5),
                 h.make_node("Attention", ["x", "wqkv", "bqkv"], ["ctx"], domain="com.microsoft", num_heads=HEADS),
                 h.make_node("MatMul", ["ctx", "wo"], ["ao"]),
                 h.make_node("SkipLayerNormalization", ["ao", "x", "g1", "b1", "bo"], ["x1"], domain="com.microsoft",
                             epsilon=1e-5),
                 h.make_node("MatMul", ["x1", "w1"], ["f1"]),
                 h.make_node("BiasGelu", ["f1", "bf1"], ["f1g"], domain="com.microsoft"),
                 h.make_node("MatMul", ["f1g", "w2"], ["f2"]),
                 h.make_node("SkipLayerNormalization", ["f2", "x1", "g2", "b2", "bf2"], ["y"], domain="com.microsoft",
                             epsilon=1e-5)]
    else:
        shape = lambda name, *d: nh.from_array(np.array(d, np.int64), name)  # noqa: E731
        inits += [shape("heads", 1, S, HEADS, H // HEADS), shape("flat", 1, S, H),
                  *(nh.from_array(np.array(v, np.float32), k) for k, v in
                    (("scale", 1 / np.sqrt(H // HEADS)), ("rsqrt2", 1 / np.sqrt(2)), ("one", 1.0), ("half", 0.5)))]
        nodes = [h.make_node("Gather", ["word", "ids"], ["we"]), h.make_node("Add", ["we", "pos"], ["e"]),
                 h.make_node("LayerNormalization", ["e", "g0", "b0"], ["x"], axis=-1),
                 h.make_node("MatMul", ["x", "wqkv"], ["qkv0"]), h.make_node("Add", ["qkv0", "bqkv"], ["qkv"]),
                 h.make_node("Split", ["qkv"], ["q0", "k0", "v0"], axis=-1, num_outputs=3)]
        for t in "qkv":
            nodes += [h.make_node("Reshape", [f"{t}0", "heads"], [f"{t}1"]),
                      h.make_node("Transpose", [f"{t}1"], [f"{t}2"], perm=[0, 2, 3, 1] if t == "k" else [0, 2, 1, 3])]
        nodes += [h.make_node("MatMul", ["q2", "k2"], ["s0"]), h.make_node("Mul", ["s0", "scale"], ["s1"]),
                  h.make_node("Softmax", ["s1"], ["p"], axis=-1), h.make_node("MatMul", ["p", "v2"], ["c0"]),
                  h.make_node("Transpose", ["c0"], ["c1"], perm=[0, 2, 1, 3]),
                  h.make_node("Reshape", ["c1", "flat"], ["ctx"]),
                  h.make_node("MatMul", ["ctx", "wo"], ["ao0"]), h.make_node("Add", ["ao0", "bo"], ["ao"]),
                  h.make_node("Add", ["ao", "x"], ["r1"]),
                  h.make_node("LayerNormalization", ["r1", "g1", "b1"], ["x1"], axis=-1),
                  h.make_node("MatMul", ["x1", "w1"], ["f0"]), h.make_node("Add", ["f0", "bf1"], ["f1"]),
                  h.make_node("Mul", ["f1", "rsqrt2"], ["u0"]), h.make_node("Erf", ["u0"], ["u1"]),
                  h.make_node("Add", ["u1", "one"], ["u2"]), h.make_node("Mul", ["f1", "u2"], ["u3"]),
                  h.make_node("Mul", ["u3", "half"], ["f1g"]),  # GELU = x/2 (1 + erf(x/sqrt 2))
                  h.make_node("MatMul", ["f1g", "w2"], ["f2"]), h.make_node("Add", ["f2", "bf2"], ["f3"]),
                  h.make_node("Add", ["f3", "x1"], ["r2"]),
                  h.make_node("LayerNormalization", ["r2", "g2", "b2"], ["y"], axis=-1)]
    ids_type = T.INT32 if fused else T.INT64
    g = h.make_graph(nodes, "bert", [h.make_tensor_value_info("ids", ids_type, [1, S])],
                     [h.make_tensor_value_info("y", T.FLOAT, [1, S, H])], inits)
    opsets = [h.make_opsetid("", 18)] + ([h.make_opsetid("com.microsoft", 1)] if fused else [])
    p = tmp_path / f"bert_{'fused' if fused else 'plain'}.onnx"
    onnx.save(h.make_model(g, opset_imports=opsets), p)
    return p


BERT_MACS = S * H * 3 * H + 2 * S * S * H + S * H * H + 2 * S * H * FF


def _runs(path):
    import onnxruntime as ort

    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    dt = np.int32 if s.get_inputs()[0].type == "tensor(int32)" else np.int64
    return s.run(None, {"ids": np.arange(S, dtype=dt).reshape(1, S) % VOCAB})[0]


def test_fused_transformer_ops_are_counted_like_the_unfused_graph(tmp_path):
    plain = load(_bert_layer(tmp_path, fused=False))
    fused = load(_bert_layer(tmp_path, fused=True))
    np.testing.assert_allclose(_runs(fused.path), _runs(plain.path), atol=1e-3)  # the same network
    assert {"EmbedLayerNormalization", "Attention", "SkipLayerNormalization", "BiasGelu"} <= set(fused.op_histogram)
    assert not plain.uncounted_ops and not fused.uncounted_ops
    assert plain.macs == BERT_MACS and fused.macs == BERT_MACS
    att = next(o for o in fused.ops if o.op_type == "Attention")
    assert att.macs == S * H * 3 * H + 2 * S * S * H and att.counted
    for prof in ("rpi4", "rpi5", "jetson-orin-nano"):
        ef, ep = estimate(fused, prof, calibration_factor=1.0), estimate(plain, prof, calibration_factor=1.0)
        assert not ef.partial and not ef.uncounted_ops
        # fusion removes per-op overhead and memory passes, never arithmetic: same compute time, less in total
        assert ef.breakdown["compute_ms"] == pytest.approx(ep.breakdown["compute_ms"], rel=0.15)
        assert ef.latency_ms < ep.latency_ms


def test_quantized_attention_and_4bit_matmul_are_counted(tmp_path):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fused = _bert_layer(tmp_path, fused=True)
    q = tmp_path / "bert_int8.onnx"
    quantize_dynamic(str(fused), str(q), op_types_to_quantize=["Attention", "MatMul"], weight_type=QuantType.QInt8,
                     extra_options={"DefaultTensorType": T.FLOAT})
    mq = load(q)
    assert "QAttention" in mq.op_histogram
    _runs(q)
    assert not mq.uncounted_ops and mq.macs == BERT_MACS
    assert next(o for o in mq.ops if o.op_type == "QAttention").precision == "int8"
    e = estimate(mq, "rpi5", calibration_factor=1.0)
    assert not e.partial and e.precision == "int8"

    # MatMulNBits (4-bit weight-only quantization): [1, S, K] x [K, N] = S*K*N MACs
    K, N, blk = 64, 32, 32
    nodes = [h.make_node("MatMulNBits", ["a", "wq", "sc"], ["y"], domain="com.microsoft", K=K, N=N, bits=4,
                         block_size=blk)]
    g = h.make_graph(nodes, "nbits", [h.make_tensor_value_info("a", T.FLOAT, [1, S, K])],
                     [h.make_tensor_value_info("y", T.FLOAT, [1, S, N])],
                     [nh.from_array(np.full((N, K // blk, blk // 2), 0x88, np.uint8), "wq"),
                      nh.from_array(np.full(N * K // blk, 0.01, np.float32), "sc")])
    p = tmp_path / "nbits.onnx"
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 18), h.make_opsetid("com.microsoft", 1)]), p)
    import onnxruntime as ort
    ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, {"a": np.ones((1, S, K), np.float32)})
    mn = load(p)
    assert not mn.uncounted_ops and mn.macs == S * K * N
    assert not estimate(mn, "rpi4", calibration_factor=1.0).partial


def test_projection_says_the_methods_published_error(tmp_path):
    m = _gemm(tmp_path)
    v = P.get("rpi4").validation()
    e = estimate(m, "rpi4", calibration_factor=1.0)
    assert v and f"method error on {v['n']} published rpi4 measurements: median {v['median']}x" in e.source
    assert "no published measurements of n100" in estimate(m, "n100", calibration_factor=1.0).source
