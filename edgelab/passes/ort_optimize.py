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
    num_heads: int = 0  # 0 = detect from the graph's attention reshapes
    hidden_size: int = 0  # 0 = detect from the LayerNormalization width

    def run(self, src: Path, out_dir: Path, ctx: PassContext) -> Path:
        from onnxruntime.transformers.optimizer import optimize_model

        dst = out_path(out_dir)
        heads, hidden = self.num_heads, self.hidden_size
        if not (heads and hidden):
            heads, hidden = attention_dims(src)
        try:
            opt = optimize_model(str(src), model_type=self.model_type, num_heads=heads, hidden_size=hidden,
                                 opt_level=1)
            opt.save_model_to_file(str(dst))
        except Exception as e:
            raise PassError(f"transformer fusion failed: {e}; use the plain 'ort-optimize' pass instead") from e
        return dst


def attention_dims(path: Path) -> tuple[int, int]:
    """(num_heads, hidden_size) of a BERT-like graph, or (0, 0) when they cannot be told.

    hidden = the width of the LayerNormalization scales; heads = the 3rd entry of the 4-d reshape
    targets [batch, seq, heads, head_dim] whose last two entries multiply to hidden (or hidden / head_dim
    when the exporter wrote -1 for the heads).
    """
    import collections

    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(path), load_external_data=False)
    consts = {t.name: t for t in m.graph.initializer}
    for n in m.graph.node:
        if n.op_type == "Constant" and n.attribute and n.attribute[0].t.dims:
            consts[n.output[0]] = n.attribute[0].t
    widths = collections.Counter(tuple(consts[n.input[1]].dims)[0] for n in m.graph.node
                                 if n.op_type == "LayerNormalization" and len(n.input) > 1 and n.input[1] in consts)
    if not widths:
        return 0, 0
    hidden = widths.most_common(1)[0][0]
    producers = {o: n for n in m.graph.node for o in n.output}

    def tail2(name):  # the last two entries of a reshape target: a constant, or a Concat ending in constants
        if name in consts:
            v = numpy_helper.to_array(consts[name]).reshape(-1).tolist()
            return v[-2:] if len(v) == 4 else None
        p = producers.get(name)
        if p is not None and p.op_type == "Concat" and len(p.input) == 4 and all(i in consts for i in p.input[2:]):
            return [int(numpy_helper.to_array(consts[i]).reshape(-1)[0]) for i in p.input[2:]]
        return None

    heads = collections.Counter()
    for n in m.graph.node:
        t = tail2(n.input[1]) if n.op_type == "Reshape" else None
        if t and t[0] == -1 and t[1] > 0 and hidden % t[1] == 0:  # [N, L, -1, head_dim]
            t = [hidden // t[1], t[1]]
        if t and t[0] > 0 and t[1] > 0 and t[0] * t[1] == hidden:
            heads[t[0]] += 1
    return (heads.most_common(1)[0][0] if heads else 0), hidden
