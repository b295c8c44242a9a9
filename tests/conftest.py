"""Shared fixtures: an isolated workspace per test, small ONNX models built here, quick measurement settings."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def workspace(tmp_path, monkeypatch):
    """Every test gets its own EDGELAB_HOME, so stores and caches never leak between tests."""
    home = tmp_path / "edgelab-home"
    monkeypatch.setenv("EDGELAB_HOME", str(home))
    return home


@pytest.fixture
def quick():
    import edgelab as el

    return el.MeasureConfig(batch_sizes=(1, 4), warmup_runs=2, min_runs=10, block_runs=5, min_time_s=0.05,
                            max_time_s=2.0, timeout_s=60)


def make_cnn(path, *, seed=0, classes=4, channels=8, size=16, batch="N"):
    """A small Conv/Relu/GAP/Gemm classifier built with onnx.helper (opset 17)."""
    import onnx
    from onnx import TensorProto as T
    from onnx import helper as h
    from onnx import numpy_helper as nh

    rng = np.random.default_rng(seed)
    w1 = nh.from_array((rng.standard_normal((channels, 1, 3, 3)) * 0.5).astype(np.float32), "w1")
    b1 = nh.from_array(np.zeros(channels, np.float32), "b1")
    w2 = nh.from_array((rng.standard_normal((channels * 2, channels, 3, 3)) * 0.2).astype(np.float32), "w2")
    wf = nh.from_array((rng.standard_normal((classes, channels * 2)) * 0.5).astype(np.float32), "wf")
    bf = nh.from_array(np.zeros(classes, np.float32), "bf")
    nodes = [
        h.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        h.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        h.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2", pads=[1, 1, 1, 1], strides=[2, 2]),
        h.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        h.make_node("GlobalAveragePool", ["r2"], ["g"], name="gap"),
        h.make_node("Flatten", ["g"], ["f"], name="flat"),
        h.make_node("Gemm", ["f", "wf", "bf"], ["logits"], name="fc", transB=1),
    ]
    graph = h.make_graph(nodes, "small_cnn", [h.make_tensor_value_info("x", T.FLOAT, [batch, 1, size, size])],
                         [h.make_tensor_value_info("logits", T.FLOAT, [batch, classes])], [w1, b1, w2, wf, bf])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)], producer_name="edgelab-tests")
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def cnn_data(model_path, n=48, seed=1):
    """Inputs plus labels = the fp32 model's own argmax (so fp32 accuracy is exactly 1.0)."""
    import onnxruntime as ort

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, 16, 16)).astype(np.float32)
    sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    y = sess.run(None, {"x": x})[0].argmax(1).astype(np.int64)
    return x, y


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A temp cwd with tiny.onnx and its own edgelab workspace."""
    monkeypatch.setenv("EDGELAB_HOME", str(tmp_path / ".edgelab"))
    monkeypatch.chdir(tmp_path)
    from tests.widgets.conftest import tiny_model

    tiny_model(tmp_path / "tiny.onnx")
    return tmp_path


@pytest.fixture
def cnn(tmp_path):
    return make_cnn(tmp_path / "small_cnn.onnx")


@pytest.fixture
def cnn_npz(tmp_path, cnn):
    x, y = cnn_data(cnn)
    p = tmp_path / "small.npz"
    np.savez(p, x=x, y=y)
    return p


def leftover_workers(home: str) -> list[int]:
    """Worker processes still alive that belong to this test's workspace."""
    import psutil

    pids = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if "edgelab.runners.worker" in " ".join(p.info["cmdline"] or []) and p.environ().get("EDGELAB_HOME") == home:
                pids.append(p.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return pids
