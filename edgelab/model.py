"""A loaded ONNX model and the facts about it: I/O specs, opset, parameters, MACs and bytes per operator.

    >>> import edgelab as el
    >>> m = el.load("model.onnx")          # or bytes, an onnx.ModelProto, a torch module, a sklearn estimator
    >>> m.params, m.macs, m.op_histogram
"""
from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import ModelLoadError, missing
from .graph import DTYPE_NAMES, OpStat, nbytes_per_elem, op_stats, peak_activations

@dataclass(frozen=True)
class TensorSpec:
    """Name, shape (ints, or strings for symbolic dims) and dtype of a graph input/output."""

    name: str
    shape: tuple
    dtype: str

    @property
    def is_dynamic(self) -> bool:
        return any(not isinstance(d, int) or d < 0 for d in self.shape)


@dataclass(frozen=True)
class Model:
    """A loaded, checked ONNX model plus its facts. Immutable; `path` points at the .onnx file."""

    name: str
    path: str
    sha256: str
    size_bytes: int
    opset: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    params: int
    weight_bytes: int
    macs: int
    flops: int
    peak_activation_bytes: int
    op_histogram: dict = field(default_factory=dict)
    ops: tuple[OpStat, ...] = ()
    uncounted_ops: tuple[str, ...] = ()
    producer: str = ""

    def proto(self):
        """The onnx.ModelProto (loaded from `path` each call; models are not kept in memory)."""
        import onnx

        return onnx.load(self.path)

    def to_dict(self, *, with_ops: bool = False) -> dict:
        d = asdict(self)
        if not with_ops:
            d.pop("ops")
        return d

    def summary(self) -> dict:
        """The Report JSON's `model` block."""
        return {"name": self.name, "path": self.path, "sha256": self.sha256, "params": self.params, "macs": self.macs,
                "size_bytes": self.size_bytes, "opset": self.opset,
                "inputs": [asdict(t) for t in self.inputs], "outputs": [asdict(t) for t in self.outputs],
                "uncounted_ops": list(self.uncounted_ops)}

    def __repr__(self) -> str:
        ins = ", ".join(f"{t.name}{list(t.shape)}:{t.dtype}" for t in self.inputs)
        return (f"Model({self.name!r}, {self.params:,} params, {self.macs / 1e6:.1f} M MACs, "
                f"{self.size_bytes / 1024:.0f} KiB, opset {self.opset}, inputs {ins})")

    def _repr_html_(self) -> str:
        from .report import model_html

        return model_html(self)


def load(source: Any, *, name: str | None = None, example_input: Any = None) -> Model:
    """Load a model from an .onnx path, bytes, an onnx.ModelProto, a torch module or a sklearn estimator.

    torch modules and sklearn estimators need `example_input` (an array/tensor of one batch) and are
    converted to ONNX in the workspace cache.
    """
    if isinstance(source, Model):
        return source
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        if not path.exists():
            raise ModelLoadError(f"model file not found: {path}; check the path (cwd is {Path.cwd()})")
        if path.is_dir():
            raise ModelLoadError(f"{path} is a folder, not an .onnx file")
        proto = _parse(path.read_bytes(), str(path), base_dir=path.parent)
        if _weights_as_inputs(proto):  # old IR: weights listed as overridable inputs; runtimes treat them as required
            return _save_and_facts(proto, name or path.stem)
        return _facts(proto, path, name or path.stem)
    mod = type(source).__module__
    if isinstance(source, (bytes, bytearray, memoryview)):
        proto = _parse(bytes(source), "<bytes>")
    elif mod.startswith("onnx"):
        proto = source
    elif mod.startswith("torch") or _is_torch_module(source):
        proto = _from_torch(source, example_input)
        name = name or type(source).__name__
    elif mod.startswith("sklearn") or hasattr(source, "n_features_in_"):
        proto = _from_sklearn(source, example_input)
        name = name or type(source).__name__
    else:
        raise ModelLoadError(
            f"cannot load a {type(source).__name__}: give an .onnx path, bytes, onnx.ModelProto, "
            "a torch.nn.Module (with example_input) or a fitted scikit-learn estimator")
    return _save_and_facts(proto, name or (proto.graph.name or "model"))


def _is_torch_module(obj) -> bool:
    return any(c.__module__.startswith("torch") and c.__name__ == "Module" for c in type(obj).__mro__)


def _parse(raw: bytes, label: str, base_dir: Path | None = None):
    import onnx
    from google.protobuf.message import DecodeError

    if not raw:
        raise ModelLoadError(f"{label} is empty (0 bytes); re-export or re-download the model")
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(raw)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise ModelLoadError(
            f"{label} is not a readable ONNX file (protobuf parse failed: {e}); "
            "it may be truncated or another format — re-export it with torch.onnx.export or skl2onnx") from e
    if not proto.graph.node and not proto.graph.output:
        raise ModelLoadError(f"{label} parsed as protobuf but holds no ONNX graph; is it really an .onnx model?")
    if base_dir is not None and any(_uses_external(t) for t in proto.graph.initializer):
        from onnx.external_data_helper import load_external_data_for_model

        try:
            load_external_data_for_model(proto, str(base_dir))
        except Exception as e:  # missing file, path outside the model folder, ...
            raise ModelLoadError(
                f"{label}: its external weight data cannot be loaded ({e}); keep the data files next to "
                "the model, inside its folder") from e
    return proto


def _weights_as_inputs(proto) -> bool:
    """Drop initializers from the graph inputs (IR < 4 style); True if the model changed."""
    inits = {t.name for t in proto.graph.initializer}
    keep = [v for v in proto.graph.input if v.name not in inits]
    if len(keep) == len(proto.graph.input):
        return False
    del proto.graph.input[:]
    proto.graph.input.extend(keep)
    proto.ir_version = max(proto.ir_version, 4)
    return True


def _uses_external(t) -> bool:
    return t.data_location == 1


def _check(proto, label: str):
    import onnx

    newest = onnx.defs.onnx_opset_version()
    for o in proto.opset_import:
        if o.domain in ("", "ai.onnx") and o.version > newest:
            raise ModelLoadError(f"{label} uses opset {o.version}, newer than this onnx {onnx.__version__} knows "
                                 f"(≤ {newest}); re-export with opset_version ≤ {newest} or upgrade onnx/onnxruntime")

    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as e:
        first = str(e).strip().splitlines()[0][:300]
        raise ModelLoadError(f"{label} fails onnx.checker: {first}; fix or re-export the model") from e
    except Exception as e:  # onnx raises plain errors for e.g. unknown opset versions
        raise ModelLoadError(f"{label} cannot be checked by onnx ({type(e).__name__}: {e})") from e
    only_standard_ops = all(n.domain in ("", "ai.onnx") for n in proto.graph.node)
    try:  # strict where every op has a schema, so inconsistent shapes are caught before anything runs
        return onnx.shape_inference.infer_shapes(_batch_one(proto), data_prop=True, strict_mode=only_standard_ops)
    except Exception as e:
        first = str(e).strip().splitlines()[-1][:300]
        raise ModelLoadError(f"{label}: shape inference failed, the graph is inconsistent ({first}); "
                             "fix the shapes and re-export") from e


def _batch_one(proto):
    """Copy of the model whose symbolic/unknown input dims are 1, for per-operator statistics."""
    import onnx

    p = onnx.ModelProto()
    p.CopyFrom(proto)
    for inp in p.graph.input:
        for d in inp.type.tensor_type.shape.dim:
            if not d.HasField("dim_value") or d.dim_value <= 0:
                d.Clear()
                d.dim_value = 1
    del p.graph.value_info[:]
    return p


def _save_and_facts(proto, name: str) -> Model:
    from . import workspace

    raw = proto.SerializeToString()
    sha = hashlib.sha256(raw).hexdigest()
    path = workspace.cache_dir("models", f"{sha[:16]}.onnx")
    if not path.exists():
        workspace.atomic_write(path, raw)
    return _facts(proto, path, name, raw=raw)


def _facts(proto, path: Path, name: str, raw: bytes | None = None) -> Model:
    raw = raw if raw is not None else Path(path).read_bytes()
    label = str(path)
    inferred = _check(proto, label)
    _check_weights(proto, label)
    g = proto.graph
    inits = {t.name: t for t in g.initializer}
    params = sum(math.prod(t.dims) for t in inits.values())
    weight_bytes = sum(math.prod(t.dims) * nbytes_per_elem(t.data_type) for t in inits.values())
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
    ops, uncounted = op_stats(inferred)
    return Model(
        name=name, path=str(Path(path).absolute()), sha256=hashlib.sha256(raw).hexdigest(),
        size_bytes=len(raw), opset=opset,
        inputs=tuple(_spec(v) for v in g.input if v.name not in inits),
        outputs=tuple(_spec(v) for v in g.output),
        params=int(params), weight_bytes=int(weight_bytes),
        macs=sum(o.macs for o in ops), flops=sum(o.flops for o in ops),
        peak_activation_bytes=peak_activations(inferred),
        op_histogram=dict(Counter(n.op_type for n in g.node).most_common()),
        ops=tuple(ops), uncounted_ops=tuple(sorted(uncounted)), producer=proto.producer_name,
    )


def _check_weights(proto, label: str):
    """NaN weights are always an export bug (Inf can be a legitimate mask constant)."""
    import numpy as np
    from onnx import numpy_helper

    for t in proto.graph.initializer:
        if t.data_type in (1, 10, 11, 16) and t.data_location != 1:
            try:
                arr = numpy_helper.to_array(t)
            except Exception as e:
                raise ModelLoadError(f"{label}: weight {t.name!r} cannot be read ({e}); the file is damaged") from e
            if np.isnan(arr).any():
                raise ModelLoadError(f"{label}: weight {t.name!r} contains NaN; the model was exported from a "
                                     "diverged or broken training run — fix the weights and re-export")


def _spec(v) -> TensorSpec:
    if not v.type.HasField("tensor_type"):
        return TensorSpec(v.name, (), v.type.WhichOneof("value") or "unknown")  # sequence/map/optional
    tt = v.type.tensor_type
    shape = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tt.shape.dim)
    return TensorSpec(v.name, shape, DTYPE_NAMES.get(tt.elem_type, str(tt.elem_type)))


def _from_torch(module, example_input):
    try:
        import torch
    except ImportError as e:
        raise missing("torch", "torch") from e
    if example_input is None:
        raise ModelLoadError("a torch module needs example_input= (one batch of input) to be exported to ONNX")
    import io
    import warnings

    import onnx

    x = example_input if isinstance(example_input, (tuple, list)) else (example_input,)
    x = tuple(torch.as_tensor(t) for t in x)
    names = [f"input{i}" if len(x) > 1 else "input" for i in range(len(x))]
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module.eval(), x, buf, opset_version=17, dynamo=False, input_names=names,
                              output_names=["output"],
                              dynamic_axes={k: {0: "N"} for k in names} | {"output": {0: "N"}})
    except Exception as e:
        raise ModelLoadError(f"torch.onnx.export failed: {e}") from e
    return onnx.load_from_string(buf.getvalue())


def _from_sklearn(est, example_input):
    try:
        from skl2onnx import to_onnx
    except ImportError as e:
        raise missing("skl2onnx", "sklearn") from e
    import numpy as np

    if example_input is None:
        n = getattr(est, "n_features_in_", None)
        if n is None:
            raise ModelLoadError("fit the estimator first, or pass example_input=")
        example_input = np.zeros((1, n), dtype=np.float32)
    try:
        return to_onnx(est, np.asarray(example_input, dtype=np.float32)[:1], target_opset=17,
                       options={id(est): {"zipmap": False}} if hasattr(est, "predict_proba") else None)
    except Exception as e:
        raise ModelLoadError(f"skl2onnx could not convert {type(est).__name__}: {e}") from e
