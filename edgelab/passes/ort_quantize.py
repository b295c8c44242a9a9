"""onnxruntime int8 quantization: dynamic, and static (QDQ / QOperator) with calibration."""
from __future__ import annotations

import contextlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, PassError
from . import PassContext, choice, opt, out_path, register

_QTYPE = {"int8": "QInt8", "uint8": "QUInt8"}
_CALIB = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}


def _ops(value: str) -> list[str] | None:
    return [s for s in value.split("+") if s] or None


def _preprocess(src: Path, out_dir: Path) -> Path:
    """quant_pre_process (shape inference + folding) when it works; the original model otherwise."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = Path(out_dir) / "pre.onnx"
    src = _min_opset(src, out_dir)
    try:
        with _quiet():
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        return pre
    except Exception:
        return src


def _min_opset(src: Path, out_dir: Path, opset: int = 13) -> Path:
    """Per-channel Q/DQ needs opset ≥ 13: older models are converted first (onnx.version_converter)."""
    import onnx

    m = onnx.load(str(src))
    if next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), opset) >= opset:
        return src
    try:
        up = onnx.version_converter.convert_version(m, opset)
    except Exception as e:
        raise PassError(f"quantization needs opset ≥ {opset} and converting this opset-"
                        f"{m.opset_import[0].version} model failed ({e}); re-export it with a newer opset") from e
    dst = Path(out_dir) / f"opset{opset}.onnx"
    onnx.save(up, str(dst))
    return dst


@contextlib.contextmanager
def _quiet():
    """onnxruntime.quantization logs advice at WARNING level for every call; keep the CLI readable."""
    root = logging.getLogger()
    old = root.level
    root.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        root.setLevel(old)


@register("int8-dynamic", backend="onnxruntime", precision="int8",
          description="dynamic int8: weights quantized offline, activations at run time (best for MatMul-heavy "
                      "models; turns Conv into slow ConvInteger)")
@dataclass(frozen=True)
class Int8Dynamic:
    weight_type: str = choice("int8", "uint8", help="weight integer type")
    per_channel: bool = opt(True, "one scale per output channel")
    op_types: str = opt("", "ops to quantize, '+'-separated (e.g. 'MatMul'); empty = all supported")
    nodes_to_exclude: tuple = opt((), "node names kept in fp32")

    def run(self, src: Path, out_dir: Path, ctx: PassContext) -> Path:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        dst = out_path(out_dir)
        pre = _preprocess(src, out_dir)
        try:
            with _quiet():
                quantize_dynamic(str(pre), str(dst), weight_type=getattr(QuantType, _QTYPE[self.weight_type]),
                                 per_channel=self.per_channel, op_types_to_quantize=_ops(self.op_types),
                                 nodes_to_exclude=list(self.nodes_to_exclude),
                                 # fused com.microsoft ops (after transformer fusion) have no inferred types
                                 extra_options={"DefaultTensorType": 1, "MatMulConstBOnly": True})
        except Exception as e:
            raise PassError(f"dynamic quantization failed: {e}") from e
        return dst


@register("int8-static", backend="onnxruntime", precision="int8", needs_calibration=True,
          description="static int8 with calibration data (QDQ or QOperator; per-tensor or per-channel)")
@dataclass(frozen=True)
class Int8Static:
    format: str = choice("qdq", "qoperator", help="QDQ (portable, fused by the runtime) or QOperator")
    per_channel: bool = opt(True, "one weight scale per output channel")
    activation_type: str = choice("uint8", "int8", help="uint8 takes the fast U8S8 (VNNI) kernels on x86")
    weight_type: str = choice("int8", "uint8", help="weight integer type")
    calibration: str = choice("minmax", "entropy", "percentile", help="how activation ranges are chosen")
    samples: int = opt(128, "calibration samples taken from the dataset")
    op_types: str = opt("", "ops to quantize, '+'-separated (e.g. 'MatMul'); empty = all supported")
    nodes_to_exclude: tuple = opt((), "node names kept in fp32 (mixed precision)")

    def run(self, src: Path, out_dir: Path, ctx: PassContext) -> Path:
        from onnxruntime.quantization import (CalibrationMethod, QuantFormat, QuantType, quantize_static)

        if ctx.calibration is None:
            raise ConfigError("static int8 needs calibration data: pass data= (or --data FILE.npz) with "
                              "inputs, or use the 'int8-dynamic' recipe which needs none")
        if self.samples < 1:
            raise ConfigError(f"int8-static samples must be ≥ 1 (got {self.samples})")
        dst = out_path(out_dir)
        pre = _preprocess(src, out_dir)
        calib = ctx.calibration.take(min(self.samples, max(ctx.calibration.n, 1)))
        try:
            with _quiet():
                quantize_static(
                    str(pre), str(dst), _Reader(calib.inputs),
                    quant_format=QuantFormat.QDQ if self.format == "qdq" else QuantFormat.QOperator,
                    per_channel=self.per_channel, calibrate_method=getattr(CalibrationMethod, _CALIB[self.calibration]),
                    activation_type=getattr(QuantType, _QTYPE[self.activation_type]),
                    weight_type=getattr(QuantType, _QTYPE[self.weight_type]),
                    op_types_to_quantize=_ops(self.op_types), nodes_to_exclude=list(self.nodes_to_exclude))
        except ConfigError:
            raise
        except Exception as e:
            hint = ("; the model probably has huge constants (e.g. an attention mask of -3.4e38): use "
                    "calibration='minmax' or op_types='MatMul'") if "bins" in str(e) else ""
            raise PassError(f"static quantization failed: {e}{hint}") from e
        return dst


class _Reader:
    """CalibrationDataReader over a dict of arrays, one sample per feed (works with fixed batch 1)."""

    def __init__(self, inputs: dict):
        n = len(next(iter(inputs.values())))
        self._it = iter([{k: v[i:i + 1] for k, v in inputs.items()} for i in range(n)])

    def get_next(self):
        return next(self._it, None)

    def __iter__(self):
        return iter(lambda: self.get_next(), None)
