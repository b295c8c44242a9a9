"""Bundled demo models and data for edgelab: a digits CNN (ONNX) and its fixed data split.

Everything here is offline: the images come from scikit-learn's bundled
``load_digits()`` and the split indices ship next to this file
(``digits_split.npz``). Preprocessing is plain numpy, so it is exact and
reproducible without torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DIGITS_MODEL_PATH = HERE / "digits_cnn.onnx"
DIGITS_SPLIT_PATH = HERE / "digits_split.npz"
DIGITS_SIZE = 64  # model input is [N, 1, 64, 64]
SPLITS = ("train", "test")

__all__ = [
    "DIGITS_MODEL_PATH",
    "DIGITS_SPLIT_PATH",
    "DIGITS_SIZE",
    "digits_arrays",
    "digits_model_path",
    "make_digits_split",
    "upscale_matrix",
]


def digits_model_path() -> Path:
    """Path of the committed digits CNN (ONNX, input ``input`` [N,1,64,64], output ``logits`` [N,10])."""
    return DIGITS_MODEL_PATH


def upscale_matrix(n_in: int = 8, n_out: int = DIGITS_SIZE) -> np.ndarray:
    """Bilinear interpolation matrix A [n_out, n_in] (half-pixel centres, edge clamp).

    ``A @ X @ A.T`` upscales an n_in x n_in image to n_out x n_out, the same as
    torch's ``interpolate(mode="bilinear", align_corners=False)``.
    """
    scale = n_in / n_out
    src = np.clip((np.arange(n_out) + 0.5) * scale - 0.5, 0.0, n_in - 1)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    a = np.zeros((n_out, n_in), dtype=np.float64)
    rows = np.arange(n_out)
    np.add.at(a, (rows, lo), 1.0 - frac)
    np.add.at(a, (rows, hi), frac)
    return a


def make_digits_split(path: Path | str = DIGITS_SPLIT_PATH) -> Path:
    """(Re)create the shipped split: stratified 70/30 of ``load_digits()``, random_state=0."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    y = load_digits().target
    train_idx, test_idx = train_test_split(
        np.arange(len(y)), test_size=0.3, stratify=y, random_state=0
    )
    path = Path(path)
    np.savez(path, train_idx=np.sort(train_idx).astype(np.int64),
             test_idx=np.sort(test_idx).astype(np.int64))
    return path


def digits_arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Preprocessed digits for ``split`` ("train" or "test").

    Returns x float32 [N, 1, 64, 64] in [-1, 1] and y int64 [N].
    """
    if split not in SPLITS:
        raise ValueError(f"unknown digits split {split!r}; valid splits: {', '.join(SPLITS)}")
    from sklearn.datasets import load_digits

    digits = load_digits()
    with np.load(DIGITS_SPLIT_PATH) as f:
        idx = f[f"{split}_idx"]
    images = digits.images[idx] / 16.0  # [N, 8, 8] in [0, 1]
    a = upscale_matrix()
    up = a @ images @ a.T  # [N, 64, 64], still in [0, 1]
    x = (up * 2.0 - 1.0).astype(np.float32)[:, None, :, :]
    y = digits.target[idx].astype(np.int64)
    return x, y
