"""fp16 conversion with onnxconverter-common (inputs/outputs kept in fp32)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import PassError
from . import PassContext, opt, out_path, register


@register("fp16", backend="onnxruntime", precision="fp16",
          description="convert weights and activations to float16 (onnxconverter-common), io types kept")
@dataclass(frozen=True)
class Fp16:
    keep_io_types: bool = opt(True, "keep float32 inputs/outputs")

    def run(self, src: Path, out_dir: Path, ctx: PassContext) -> Path:
        import onnx
        from onnxconverter_common import float16

        dst = out_path(out_dir)
        import warnings

        try:
            with warnings.catch_warnings():  # "number will be truncated" per tiny weight: expected for fp16
                warnings.simplefilter("ignore", UserWarning)
                m = float16.convert_float_to_float16(onnx.load(str(src)), keep_io_types=self.keep_io_types)
            onnx.save(m, str(dst))
        except Exception as e:
            raise PassError(f"fp16 conversion failed: {e}") from e
        return dst
