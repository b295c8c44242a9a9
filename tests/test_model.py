"""Model loading, facts (params, MACs per operator) and clear errors for bad files."""
import numpy as np
import onnx
import pytest

import edgelab as el
from tests.conftest import make_cnn


def test_facts_match_hand_computed(cnn):
    m = el.load(cnn)
    # conv1: 16x16 out, 8 ch, 1x3x3 kernel; conv2: 8x8 out, 16 ch, 8x3x3 kernel; fc: 16 -> 4
    conv1 = 8 * 16 * 16 * 9
    conv2 = 16 * 8 * 8 * 8 * 9
    fc = 4 * 16
    assert {o.node: o.macs for o in m.ops}["conv1"] == conv1
    assert {o.node: o.macs for o in m.ops}["conv2"] == conv2
    assert m.macs == conv1 + conv2 + fc
    assert m.params == 8 * 9 + 8 + 16 * 8 * 9 + 4 * 16 + 4
    assert m.weight_bytes == 4 * m.params
    assert m.op_histogram == {"Conv": 2, "Relu": 2, "GlobalAveragePool": 1, "Flatten": 1, "Gemm": 1}
    assert m.inputs[0].name == "x" and m.inputs[0].shape == ("N", 1, 16, 16) and m.inputs[0].is_dynamic
    assert m.outputs[0].dtype == "float32"
    assert m.opset == 17 and m.size_bytes == cnn.stat().st_size and len(m.sha256) == 64
    assert m.uncounted_ops == ()
    # peak activations: the widest moment is conv1's output (8x16x16 floats) alive with its ReLU output
    assert m.peak_activation_bytes >= 2 * 8 * 16 * 16 * 4


def test_bytes_and_proto_load_to_same_sha(cnn):
    a = el.load(cnn)
    b = el.load(cnn.read_bytes())
    c = el.load(onnx.load(str(cnn)))
    assert a.sha256 == b.sha256 == c.sha256
    assert b.path != str(cnn)  # bytes are stored in the workspace cache
    assert el.load(b.path).macs == a.macs


def test_matmul_and_convtranspose_macs(tmp_path):
    from onnx import TensorProto as T
    from onnx import helper as h
    from onnx import numpy_helper as nh

    w = nh.from_array(np.ones((4, 2, 3, 3), np.float32), "w")  # ConvTranspose weight [C_in, C_out, k, k]
    q = h.make_tensor_value_info("q", T.FLOAT, [1, 12, 7, 5])
    k = h.make_tensor_value_info("k", T.FLOAT, [1, 12, 5, 7])
    x = h.make_tensor_value_info("x", T.FLOAT, [1, 4, 6, 6])
    nodes = [h.make_node("MatMul", ["q", "k"], ["s"], name="scores"),
             h.make_node("ConvTranspose", ["x", "w"], ["y"], name="up", strides=[2, 2])]
    g = h.make_graph(nodes, "g", [q, k, x], [h.make_tensor_value_info("s", T.FLOAT, [1, 12, 7, 7]),
                                             h.make_tensor_value_info("y", T.FLOAT, [1, 2, 13, 13])], [w])
    p = tmp_path / "mm.onnx"
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 17)]), p)
    m = el.load(p)
    macs = {o.node: o.macs for o in m.ops}
    assert macs["scores"] == 12 * 7 * 7 * 5  # attention-shaped batched MatMul
    assert macs["up"] == 4 * 6 * 6 * 2 * 9


def test_uncounted_ops_are_listed(tmp_path):
    from onnx import TensorProto as T
    from onnx import helper as h

    g = h.make_graph([h.make_node("Einsum", ["a", "b"], ["c"], equation="ij,jk->ik")], "g",
                     [h.make_tensor_value_info("a", T.FLOAT, [2, 3]), h.make_tensor_value_info("b", T.FLOAT, [3, 4])],
                     [h.make_tensor_value_info("c", T.FLOAT, [2, 4])])
    p = tmp_path / "e.onnx"
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 17)]), p)
    assert el.load(p).uncounted_ops == ("Einsum",)


@pytest.mark.parametrize("content,needle", [
    (b"", "empty"),
    (b"\x00\xff\x13garbage" * 50, "not a readable ONNX"),
])
def test_corrupt_files(tmp_path, content, needle):
    p = tmp_path / "bad.onnx"
    p.write_bytes(content)
    with pytest.raises(el.ModelLoadError, match=needle):
        el.load(p)


def test_truncated_protobuf(tmp_path, cnn):
    p = tmp_path / "trunc.onnx"
    p.write_bytes(cnn.read_bytes()[: cnn.stat().st_size // 2])
    with pytest.raises(el.ModelLoadError):
        el.load(p)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(el.ModelLoadError, match="not found"):
        el.load(tmp_path / "nope.onnx")
    with pytest.raises(el.ModelLoadError, match="folder"):
        el.load(tmp_path)


def test_checker_failure_is_specific(tmp_path):
    from onnx import TensorProto as T
    from onnx import helper as h

    # node consumes a tensor nobody produces
    g = h.make_graph([h.make_node("Relu", ["ghost"], ["y"])], "g", [h.make_tensor_value_info("x", T.FLOAT, [1])],
                     [h.make_tensor_value_info("y", T.FLOAT, [1])])
    p = tmp_path / "dangling.onnx"
    p.write_bytes(h.make_model(g, opset_imports=[h.make_opsetid("", 17)]).SerializeToString())
    with pytest.raises(el.ModelLoadError, match="onnx.checker"):
        el.load(p)


def test_unknown_source_type():
    with pytest.raises(el.ModelLoadError, match="cannot load a dict"):
        el.load({"a": 1})


def test_sklearn_estimator_is_converted():
    pytest.importorskip("skl2onnx")
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    est = LogisticRegression(max_iter=500).fit(x, y)
    m = el.load(est)
    assert m.name == "LogisticRegression" and m.inputs[0].shape[-1] == 4
    assert m.path.endswith(".onnx")


def test_torch_module_is_exported():
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 3))
    m = el.load(net, example_input=torch.zeros(1, 1, 8, 8))
    assert m.op_histogram.get("Conv") == 1 and m.macs == 4 * 6 * 6 * 9 + 3 * 144
    with pytest.raises(el.ModelLoadError, match="example_input"):
        el.load(net)


def test_model_is_frozen(cnn):
    m = el.load(cnn)
    with pytest.raises(Exception):
        m.name = "x"
    assert "Model('small_cnn'" in repr(m) and "<table>" in m._repr_html_()


def test_fixed_batch_model_loads(tmp_path):
    m = el.load(make_cnn(tmp_path / "b1.onnx", batch=1))
    assert m.inputs[0].shape == (1, 1, 16, 16) and not m.inputs[0].is_dynamic
