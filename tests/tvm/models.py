"""Small ONNX models for the TVM tests, built with onnx.helper (no downloads)."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _const(name, arr):
    return numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name)


def tiny_cnn(path, *, batch="N", channels=8, size=16, seed=0) -> str:
    """Conv3x3(1→C)+BN+Relu → Conv1x1(C→C)+Relu → GlobalAveragePool → Flatten → Gemm→10; dynamic batch."""
    rng = np.random.default_rng(seed)
    c = channels
    inits = [
        _const("w1", rng.normal(0, 0.3, (c, 1, 3, 3))), _const("b1", rng.normal(0, 0.1, c)),
        _const("g", rng.uniform(0.5, 1.5, c)), _const("beta", rng.normal(0, 0.1, c)),
        _const("mean", rng.normal(0, 0.1, c)), _const("var", rng.uniform(0.5, 1.5, c)),
        _const("w2", rng.normal(0, 0.3, (c, c, 1, 1))), _const("b2", rng.normal(0, 0.1, c)),
        _const("wf", rng.normal(0, 0.3, (10, c))), _const("bf", rng.normal(0, 0.1, 10)),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "g", "beta", "mean", "var"], ["bn"]),
        helper.make_node("Relu", ["bn"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"]),
        helper.make_node("Gemm", ["flat", "wf", "bf"], ["logits"], transB=1),
    ]
    g = helper.make_graph(nodes, "tiny_cnn",
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 1, size, size])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 10])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, str(path))
    return str(path)


def with_op(path, op_type, domain="") -> str:
    """A one-node model using `op_type` (for unsupported-op errors); DFT gets its [1, 8, 1] → [1, 8, 2] shapes."""
    n = helper.make_node(op_type, ["x"], ["y"], domain=domain)
    shapes = ([1, 8, 1], [1, 8, 2]) if op_type == "DFT" else ([1, 4], [1, 4])
    g = helper.make_graph([n], "odd", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shapes[0])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, shapes[1])])
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    m = helper.make_model(g, opset_imports=opsets)
    m.ir_version = 8
    onnx.save(m, str(path))
    return str(path)


def dynamic_hw(path) -> str:
    """Relu over an input with symbolic height/width (TVM needs those fixed)."""
    n = helper.make_node("Relu", ["x"], ["y"])
    g = helper.make_graph([n], "dyn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, "H", "W"])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return str(path)


def ort_outputs(path, x):
    import onnxruntime as ort

    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: x})[0]
