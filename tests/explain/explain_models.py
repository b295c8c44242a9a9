"""Small ONNX models whose speed/accuracy story is known (builders shared by the explain tests)."""
from __future__ import annotations

import numpy as np


def _save(nodes, inits, x_shape, out_shape, path, name):
    import onnx
    from onnx import TensorProto as T
    from onnx import helper as h

    g = h.make_graph(nodes, name, [h.make_tensor_value_info("x", T.FLOAT, x_shape)],
                     [h.make_tensor_value_info("y", T.FLOAT, out_shape)], inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)], producer_name="edgelab-tests")
    m.ir_version = 8
    onnx.save(m, str(path))
    return path


def make_tiny(path):
    """8 → 8 → 4 MLP: a few hundred MACs, so a call is nearly all fixed per-call overhead."""
    from onnx import helper as h
    from onnx import numpy_helper as nh

    rng = np.random.default_rng(0)
    inits = [nh.from_array(rng.standard_normal((8, 8)).astype(np.float32), "w1"),
             nh.from_array(rng.standard_normal((8, 4)).astype(np.float32), "w2")]
    nodes = [h.make_node("MatMul", ["x", "w1"], ["h"], name="mm1"), h.make_node("Relu", ["h"], ["r"], name="relu"),
             h.make_node("MatMul", ["r", "w2"], ["y"], name="mm2")]
    return _save(nodes, inits, ["N", 8], ["N", 4], path, "tiny")


def make_no_int8(path, seq=64, dim=256):
    """MatMuls separated by a tanh-GELU written out in Pow/Tanh/Div: ops with no int8 kernel in onnxruntime."""
    from onnx import helper as h
    from onnx import numpy_helper as nh

    rng = np.random.default_rng(1)
    inits = [nh.from_array((rng.standard_normal((dim, dim)) / np.sqrt(dim)).astype(np.float32), f"w{i}")
             for i in range(3)]
    inits += [nh.from_array(np.array(v, np.float32), k) for k, v in
              {"three": 3.0, "c": 0.044715, "k": 0.7978845608, "one": 1.0, "two": 2.0}.items()]
    nodes, cur = [], "x"
    for i in range(3):
        p = f"b{i}_"
        nodes += [h.make_node("MatMul", [cur, f"w{i}"], [p + "mm"], name=p + "matmul")]
        if i == 2:
            nodes[-1].output[0] = "y"
            break
        nodes += [h.make_node("Pow", [p + "mm", "three"], [p + "cube"], name=p + "pow"),
                  h.make_node("Mul", [p + "cube", "c"], [p + "cc"], name=p + "mul_c"),
                  h.make_node("Sum", [p + "mm", p + "cc"], [p + "s"], name=p + "sum"),
                  h.make_node("Mul", [p + "s", "k"], [p + "sk"], name=p + "mul_k"),
                  h.make_node("Tanh", [p + "sk"], [p + "t"], name=p + "tanh"),
                  h.make_node("Sum", [p + "t", "one"], [p + "t1"], name=p + "sum1"),
                  h.make_node("Mul", [p + "mm", p + "t1"], [p + "g2"], name=p + "mul_x"),
                  h.make_node("Div", [p + "g2", "two"], [p + "gelu"], name=p + "div")]
        cur = p + "gelu"
    return _save(nodes, inits, ["N", seq, dim], ["N", seq, dim], path, "no_int8")


def make_outliers(path, din=32, hidden=64, classes=10):
    """MatMul `mm_outlier` whose output has 2 channels ~1000x the rest; the classifier reads the other 62.

    Static per-tensor MinMax calibration sets that activation's scale from the outliers, so the small
    channels the logits depend on are crushed to a couple of levels.
    """
    from onnx import helper as h
    from onnx import numpy_helper as nh

    rng = np.random.default_rng(2)
    w1 = (rng.standard_normal((din, hidden)) / np.sqrt(din)).astype(np.float32)
    w1[:, :2] *= 1000.0
    w2 = (rng.standard_normal((hidden, hidden)) / np.sqrt(hidden)).astype(np.float32)
    w3 = (rng.standard_normal((hidden, classes)) / np.sqrt(hidden)).astype(np.float32)
    w3[:2, :] *= 1e-4
    w2[:2, :] *= 1e-4
    inits = [nh.from_array(w1, "w1"), nh.from_array(w2, "w2"), nh.from_array(w3, "w3")]
    nodes = [h.make_node("MatMul", ["x", "w1"], ["h1"], name="mm_outlier"),
             h.make_node("MatMul", ["h1", "w2"], ["h2"], name="mm_mid"),
             h.make_node("Relu", ["h2"], ["r2"], name="relu"),
             h.make_node("MatMul", ["r2", "w3"], ["y"], name="mm_head")]
    return _save(nodes, inits, ["N", din], ["N", classes], path, "outliers")


def inputs_for(path, n=64, seed=3):
    import onnx

    m = onnx.load(str(path))
    dims = [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim[1:]]
    return np.random.default_rng(seed).standard_normal([n, *dims]).astype(np.float32)


