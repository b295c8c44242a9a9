"""Tests for the bundled digits demo: data split, preprocessing and the committed ONNX model."""

import numpy as np
import pytest

from edgelab.demo import DIGITS_MODEL_PATH, DIGITS_SPLIT_PATH, digits_arrays, digits_model_path, upscale_matrix


def test_arrays_shapes_and_dtypes():
    for split, n in (("train", 1257), ("test", 540)):
        x, y = digits_arrays(split)
        assert x.shape == (n, 1, 64, 64) and x.dtype == np.float32
        assert y.shape == (n,) and y.dtype == np.int64
        assert x.min() >= -1.0 and x.max() <= 1.0
        assert set(np.unique(y)) == set(range(10))


def test_split_disjoint_and_stratified():
    with np.load(DIGITS_SPLIT_PATH) as f:
        train, test = f["train_idx"], f["test_idx"]
    assert len(np.intersect1d(train, test)) == 0
    assert len(np.union1d(train, test)) == len(train) + len(test) == 1797
    assert len(test) == 540
    _, y_train = digits_arrays("train")
    _, y_test = digits_arrays("test")
    frac = np.bincount(y_test, minlength=10) / (np.bincount(y_train, minlength=10) + np.bincount(y_test, minlength=10))
    assert np.all(np.abs(frac - 0.3) < 0.02)


def test_upscale_matrix_is_bilinear():
    a = upscale_matrix()
    assert a.shape == (64, 8)
    np.testing.assert_allclose(a.sum(1), 1.0)  # rows are convex weights: constants stay constant
    assert np.all(a >= 0)


def test_unknown_split_raises():
    with pytest.raises(ValueError, match="train, test"):
        digits_arrays("validation")


def test_committed_model_accuracy():
    ort = pytest.importorskip("onnxruntime")
    assert digits_model_path() == DIGITS_MODEL_PATH
    assert DIGITS_MODEL_PATH.stat().st_size <= 2 * 1024 * 1024
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(DIGITS_MODEL_PATH), so, providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["input"]
    assert [o.name for o in sess.get_outputs()] == ["logits"]
    x, y = digits_arrays("test")
    one = sess.run(None, {"input": x[:1]})[0]
    assert one.shape == (1, 10) and one.dtype == np.float32
    logits = np.concatenate([sess.run(None, {"input": x[i:i + 32]})[0] for i in range(0, len(x), 32)])
    assert logits.shape == (540, 10)
    np.testing.assert_allclose(logits[:1], one, rtol=1e-4, atol=1e-4)  # batch 1 == batch 32
    assert (logits.argmax(1) == y).mean() >= 0.97
