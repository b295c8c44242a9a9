"""Datasets: model inputs with optional labels and a task; used for accuracy and calibration.

    >>> ds = el.Dataset.from_npz("my.npz", model)      # one array per input (or `x`), optional `y`
    >>> ds = el.Dataset.demo_digits("test")             # bundled: scikit-learn's digits, no download
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import DataError

if TYPE_CHECKING:
    from .model import Model

TASKS = ("classification", "regression", "embedding", "none")
SYNTHETIC_MAX_BYTES = 2**30
_NP_DTYPES = {"float32": np.float32, "float16": np.float16, "float64": np.float64, "int64": np.int64,
              "int32": np.int32, "uint8": np.uint8, "int8": np.int8, "bool": np.bool_}


@dataclass(frozen=True, eq=False)
class Dataset:
    """Inputs (input name -> array, first axis = samples), optional labels, and the task."""

    inputs: dict
    labels: np.ndarray | None = None
    task: str = "classification"
    name: str = "data"
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.task not in TASKS:
            raise DataError(f"unknown task {self.task!r}; valid tasks: {', '.join(TASKS)}")
        if not self.inputs:
            raise DataError("a dataset needs at least one input array")
        counts = {k: len(v) for k, v in self.inputs.items()}
        if len(set(counts.values())) != 1:
            raise DataError(f"inputs have different sample counts: {counts}")
        if self.n == 0:
            raise DataError("the dataset has 0 samples; give at least one")
        if self.labels is not None and len(self.labels) != self.n:
            raise DataError(f"{len(self.labels)} labels for {self.n} samples; give one label per sample")

    @property
    def n(self) -> int:
        return len(next(iter(self.inputs.values())))

    @property
    def has_labels(self) -> bool:
        return self.labels is not None and self.task in ("classification", "regression")

    def take(self, n: int, *, start: int = 0) -> Dataset:
        """The first `n` samples from `start` (wrapping around so small sets still give n)."""
        idx = (np.arange(n) + start) % self.n
        return Dataset({k: v[idx] for k, v in self.inputs.items()},
                       None if self.labels is None else self.labels[idx], self.task, self.name, self.meta)

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for k in sorted(self.inputs):
            h.update(k.encode())
            h.update(np.ascontiguousarray(self.inputs[k]).tobytes())
        return h.hexdigest()

    def save_npz(self, path: Path) -> Path:
        arrays = {f"in__{k}": v for k, v in self.inputs.items()}
        if self.labels is not None:
            arrays["labels"] = self.labels
        np.savez(path, **arrays)
        return path

    @staticmethod
    def load_inputs_npz(path) -> dict:
        with np.load(path) as z:
            return {k[4:]: z[k] for k in z.files if k.startswith("in__")}

    def validate(self, model: Model) -> Dataset:
        """Check names, shapes and dtypes against the model's inputs; returns self or raises DataError."""
        names = [t.name for t in model.inputs]
        missing = [n for n in names if n not in self.inputs]
        extra = [n for n in self.inputs if n not in names]
        if missing or extra:
            raise DataError(f"data inputs {sorted(self.inputs)} do not match the model's inputs {names}"
                            + (f" (missing {missing})" if missing else "") + (f" (unexpected {extra})" if extra else ""))
        for spec in model.inputs:
            arr = self.inputs[spec.name]
            want = _NP_DTYPES.get(spec.dtype)
            if want is not None and arr.dtype != want:
                raise DataError(f"input {spec.name!r} has dtype {arr.dtype}, the model expects {spec.dtype}; "
                                f"convert with arr.astype(np.{spec.dtype})")
            if arr.ndim != len(spec.shape):
                raise DataError(f"input {spec.name!r} has shape {list(arr.shape)}, the model expects "
                                f"{list(spec.shape)} ({len(spec.shape)} dims, first = samples)")
            for i, (got, exp) in enumerate(zip(arr.shape[1:], spec.shape[1:]), start=1):
                if isinstance(exp, int) and exp > 0 and got != exp:
                    raise DataError(f"input {spec.name!r} has shape {list(arr.shape)}, the model expects "
                                    f"{list(spec.shape)} (dim {i} differs)")
            if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
                raise DataError(f"input {spec.name!r} contains NaN or Inf; clean the data first")
        return self

    # ---- constructors -------------------------------------------------------------------------
    @classmethod
    def from_arrays(cls, x, y=None, *, model: Model | None = None, task: str | None = None,
                    name: str = "data") -> Dataset:
        """From one array (single-input models) or a dict of arrays, plus optional labels."""
        if isinstance(x, dict):
            inputs = {k: np.asarray(v) for k, v in x.items()}
        else:
            if model is not None and len(model.inputs) != 1:
                raise DataError(f"the model has {len(model.inputs)} inputs; pass a dict name -> array")
            key = model.inputs[0].name if model is not None else "x"
            inputs = {key: np.asarray(x)}
        labels = None if y is None else np.asarray(y)
        if task is None:
            task = "none" if labels is None else ("classification" if np.issubdtype(labels.dtype, np.integer)
                                                  else "regression")
        ds = cls(inputs, labels, task, name)
        return ds.validate(model) if model is not None else ds

    @classmethod
    def from_npz(cls, path, model: Model, *, task: str | None = None) -> Dataset:
        """Load `--data FILE.npz`: one array per model input (or `x` for a single input), optional `y`."""
        p = Path(path)
        if not p.exists():
            raise DataError(f"data file not found: {p}")
        try:
            with np.load(p, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except Exception as e:
            raise DataError(f"{p} is not a readable .npz file ({e}); save it with numpy.savez") from e
        y = arrays.pop("y", None)
        if len(model.inputs) == 1 and "x" in arrays and model.inputs[0].name not in arrays:
            arrays[model.inputs[0].name] = arrays.pop("x")
        return cls.from_arrays(arrays, y, model=model, task=task, name=p.stem)

    @classmethod
    def synthetic(cls, model: Model, n: int = 32, *, seed: int = 0) -> Dataset:
        """Random inputs from the model's input specs (no labels: only agreement with fp32 is reported)."""
        rng = np.random.default_rng(seed)
        inputs = {}
        for spec in model.inputs:
            shape = [n] + [d if isinstance(d, int) and d > 0 else 1 for d in spec.shape[1:]]
            dt = _NP_DTYPES.get(spec.dtype)
            if dt is None:
                raise DataError(f"input {spec.name!r} has type {spec.dtype}, for which edgelab cannot make "
                                "sample inputs; pass data= (--data FILE.npz) with real inputs")
            size = int(np.prod(shape, dtype=np.float64)) * np.dtype(dt).itemsize
            if size > SYNTHETIC_MAX_BYTES:
                raise DataError(f"input {spec.name!r} with shape {shape} would need {size / 2**30:.1f} GiB of "
                                "sample data; check the model's input shape or pass smaller data=")
            if np.issubdtype(dt, np.floating):
                inputs[spec.name] = rng.standard_normal(shape).astype(dt)
            elif dt == np.bool_:
                inputs[spec.name] = rng.integers(0, 2, shape).astype(bool)
            else:
                inputs[spec.name] = rng.integers(0, 2, shape).astype(dt)
        return cls(inputs, None, "none", "synthetic", {"synthetic": True})

    @classmethod
    def demo_digits(cls, split: str = "test") -> Dataset:
        """scikit-learn's bundled digits, upscaled to 64×64, fixed split (see edgelab/demo/)."""
        from .demo import digits_arrays

        x, y = digits_arrays(split)
        return cls({"input": x}, y, "classification", f"digits-{split}")
