"""Datasets: validation against the model's inputs, npz loading, synthetic inputs."""
import numpy as np
import pytest

import edgelab as el


def test_npz_single_input_x_is_renamed(cnn, cnn_npz):
    m = el.load(cnn)
    ds = el.Dataset.from_npz(cnn_npz, m)
    assert list(ds.inputs) == ["x"] and ds.n == 48 and ds.task == "classification" and ds.has_labels


@pytest.mark.parametrize("x,y,needle", [
    (np.zeros((4, 1, 8, 8), np.float32), None, "dim 2 differs"),
    (np.zeros((4, 16, 16), np.float32), None, "3 dims|4 dims"),
    (np.zeros((4, 1, 16, 16), np.float64), None, "dtype float64"),
    (np.full((4, 1, 16, 16), np.nan, np.float32), None, "NaN"),
    (np.zeros((4, 1, 16, 16), np.float32), np.zeros(3, np.int64), "3 labels for 4 samples"),
    (np.zeros((0, 1, 16, 16), np.float32), None, "0 samples"),
])
def test_bad_data_is_refused(cnn, x, y, needle):
    with pytest.raises(el.DataError, match=needle):
        el.Dataset.from_arrays(x, y, model=el.load(cnn))


def test_wrong_input_names(cnn, tmp_path):
    p = tmp_path / "w.npz"
    np.savez(p, image=np.zeros((2, 1, 16, 16), np.float32))
    with pytest.raises(el.DataError, match="missing.*'x'"):
        el.Dataset.from_npz(p, el.load(cnn))


def test_not_an_npz(cnn, tmp_path):
    p = tmp_path / "w.npz"
    p.write_text("hello")
    with pytest.raises(el.DataError, match="not a readable .npz"):
        el.Dataset.from_npz(p, el.load(cnn))


def test_synthetic_follows_specs(cnn):
    ds = el.Dataset.synthetic(el.load(cnn), n=5)
    assert ds.inputs["x"].shape == (5, 1, 16, 16) and ds.inputs["x"].dtype == np.float32
    assert ds.labels is None and ds.task == "none"


def test_take_wraps_and_fingerprint_changes(cnn, cnn_npz):
    ds = el.Dataset.from_npz(cnn_npz, el.load(cnn))
    t = ds.take(100)
    assert t.n == 100 and np.array_equal(t.inputs["x"][48], ds.inputs["x"][0])
    assert ds.take(10).fingerprint() != ds.take(10, start=1).fingerprint()


def test_unknown_task():
    with pytest.raises(el.DataError, match="valid tasks"):
        el.Dataset({"x": np.zeros((1, 2))}, task="ranking")
