"""Fixtures for the notebook-surface tests: a tiny ONNX model in a temp workspace, quick measure config."""
from __future__ import annotations

import numpy as np
import pytest


def tiny_model(path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((16, 10)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.standard_normal((10,)).astype(np.float32), "B")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Add", ["h", "B"], ["y"])],
                          "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], [w, b])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return path


@pytest.fixture
def quick():
    from edgelab import MeasureConfig

    return MeasureConfig(min_runs=5, min_time_s=0.1, max_time_s=1, batch_sizes=(1,))
