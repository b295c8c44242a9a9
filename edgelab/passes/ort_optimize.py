"""onnxruntime graph optimization, saved offline (constant folding, fusions, layout)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import PassError
from . import PassContext, choice, out_path, register

_LEVELS = {"basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}


@register("ort-optimize", backend="onnxruntime", precision="same",
          description="onnxruntime graph optimizations saved into the model (level 'all' adds "
                      "host-specific NCHWc kernels, so the file only suits this CPU family)")
@dataclass(frozen=True)
class OrtOptimize:
    level: str = choice("extended", "basic", "all", help="onnxruntime GraphOptimizationLevel")

    def run(self, src: Path, out_dir: Path, ctx: PassContext) -> Path:
        import onnxruntime as ort

        dst = out_path(out_dir)
        so = ort.SessionOptions()
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _LEVELS[self.level])
        so.optimized_model_filepath = str(dst)
        so.log_severity_level = 3
        try:
            ort.InferenceSession(str(src), so, providers=["CPUExecutionProvider"])
        except Exception as e:
            raise PassError(f"onnxruntime could not optimize the model: {e}") from e
        return dst


@register("ort-transformer-optimize", backend="onnxruntime", precision="same",
          description="onnxruntime.transformers fusions (Attention, SkipLayerNorm, BiasGelu) for BERT-like models")
@dataclass(frozen=True)
class OrtTransformerOptimize:
    model_type: str = choice("bert", "gpt2", "bart", help="architecture family for the fusion patterns")
    num_heads: int = 0
    hidden_size: int = 0

    def run(self, src: Path, out_dir: Path, ctx: PassContext) -> Path:
        from onnxruntime.transformers.optimizer import optimize_model

        dst = out_path(out_dir)
        try:
            opt = optimize_model(str(src), model_type=self.model_type, num_heads=self.num_heads,
                                 hidden_size=self.hidden_size, opt_level=1)
            opt.save_model_to_file(str(dst))
        except Exception as e:
            raise PassError(f"transformer fusion failed: {e}; use the plain 'ort-optimize' pass instead") from e
        return dst
