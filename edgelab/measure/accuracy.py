"""Accuracy against labels and agreement with the fp32 reference outputs."""
from __future__ import annotations

import numpy as np

METRICS = {"top1": True, "mae": False, "cosine": True}  # metric -> higher is better


def accuracy(output: np.ndarray, labels, task: str, reference: np.ndarray | None = None) -> dict | None:
    """{metric, value, higher_is_better}: top-1 (classification), MAE (regression), mean cosine to fp32
    (embedding, where the reference embeddings are the labels)."""
    out = np.asarray(output)
    if task == "classification" and labels is not None:
        pred = out.argmax(axis=-1) if out.ndim > 1 else out
        return {"metric": "top1", "value": round(float((pred.reshape(-1) == np.asarray(labels).reshape(-1)).mean()), 6),
                "higher_is_better": True}
    if task == "regression" and labels is not None:
        return {"metric": "mae", "value": float(np.abs(out.reshape(len(labels), -1).squeeze()
                                                        - np.asarray(labels, dtype=np.float64)).mean()),
                "higher_is_better": False}
    if task == "embedding" and reference is not None:
        return {"metric": "cosine", "value": round(float(_cosines(out, reference).mean()), 6),
                "higher_is_better": True}
    return None


def agreement(output: np.ndarray, reference: np.ndarray, *, classes: bool = True) -> dict:
    """How close a variant's outputs are to the fp32 reference on the same inputs.

    `classes=False` (embeddings, regression) skips the top-1 match, which only means something for scores.
    """
    a = np.asarray(output, dtype=np.float64).reshape(len(output), -1)
    b = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    empty = {"top1": None, "max_abs_diff": None, "cosine": None, "cosine_min": None, "sqnr_db": None}
    if a.shape != b.shape:
        return dict(empty, note=f"output shape {a.shape} differs from the reference {b.shape}")
    bad = int((~np.isfinite(a)).any(axis=1).sum() + (~np.isfinite(b)).any(axis=1).sum())
    if bad:
        return dict(empty, note=f"{bad} output rows contain NaN/Inf (in this variant or the fp32 reference); "
                                "check the model's weights and inputs")
    cos = _cosines(a, b)
    noise = ((a - b) ** 2).sum()
    sqnr = 10 * np.log10((b ** 2).sum() / noise) if noise > 0 else float("inf")
    top1 = float((a.argmax(1) == b.argmax(1)).mean()) if classes and a.shape[1] > 1 else None
    return {"top1": None if top1 is None else round(top1, 6), "max_abs_diff": float(np.abs(a - b).max()),
            "cosine": round(float(cos.mean()), 6), "cosine_min": round(float(cos.min()), 6),
            "sqnr_db": round(float(sqnr), 2) if np.isfinite(sqnr) else None}


def _cosines(a, b) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    b = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # non-finite rows give NaN, not warnings
        na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
        denom = np.where(na * nb == 0, 1.0, na * nb)
        return np.where((na == 0) & (nb == 0), 1.0, (a * b).sum(1) / denom)
