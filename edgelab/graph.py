"""Graph statistics for an ONNX model: tensor shapes, MACs/flops and bytes moved per operator, peak activations.

Shapes come from onnx shape inference; where it knows nothing (operators of runtime-specific domains such as
com.microsoft's FusedConv or QGemm in an optimized/quantized variant) they are propagated here for the
common operator families, so a variant's work is counted like its parent's.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

# bytes per element of ONNX TensorProto data types
_DTYPE_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}
DTYPE_NAMES = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
                9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 16: "bfloat16"}
# ops whose work is one operation per output element (counted as flops, not MACs)
_ELEMENTWISE = {
    "Add", "Sub", "Mul", "Div", "Relu", "Clip", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Pow", "Erf",
    "LeakyRelu", "HardSigmoid", "HardSwish", "Gelu", "BiasGelu", "FastGelu", "Neg", "Abs", "Max", "Min",
    "Where", "Equal", "Less", "Greater", "Not", "And", "Or", "Cast", "QuantizeLinear", "DequantizeLinear",
    "DynamicQuantizeLinear", "BatchNormalization", "Softmax", "LayerNormalization", "SkipLayerNormalization",
    "ReduceMean", "ReduceSum", "ReduceMax", "GlobalAveragePool", "AveragePool", "MaxPool", "GlobalMaxPool",
    "QLinearAdd", "QLinearMul", "QLinearSigmoid", "QLinearGlobalAveragePool", "QLinearSoftmax", "PRelu",
    "Softplus", "Selu", "Elu", "InstanceNormalization", "GroupNormalization", "Dropout", "Identity", "Sum",
    # com.microsoft fused forms (onnxruntime.transformers optimizer): one op per output element, as above
    "EmbedLayerNormalization", "SkipSimplifiedLayerNormalization", "SimplifiedLayerNormalization", "BiasAdd",
    "QuickGelu", "RotaryEmbedding",
}
# ops that only move or reshape data: bytes but no arithmetic
_MOVEMENT = {
    "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Concat", "Split", "Slice", "Gather",
    "Shape", "Expand", "Tile", "Pad", "Resize", "Upsample", "Constant", "ConstantOfShape", "Range",
    "GatherElements", "ScatterND", "DepthToSpace", "SpaceToDepth", "Size", "NonZero", "TopK", "ArgMax",
}
# operator families that multiply-accumulate (runtime-domain fused/quantized forms included)
CONV_OPS = ("Conv", "ConvInteger", "QLinearConv", "FusedConv", "NhwcConv")
GEMM_OPS = ("Gemm", "QGemm", "FusedGemm")
MATMUL_OPS = ("MatMul", "MatMulInteger", "QLinearMatMul", "DynamicQuantizeMatMul", "MatMulIntegerToFloat",
              "FusedMatMul", "MatMulNBits")
# fused multi-head attention (com.microsoft): QKV projection (Attention, QAttention) + QK^T + softmax·V
ATTENTION_OPS = ("Attention", "QAttention", "MultiHeadAttention")
_QUANTIZED = {"QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger", "QGemm",
              "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "QAttention"}




def nbytes_per_elem(data_type: int) -> int:
    return _DTYPE_BYTES.get(data_type, 4)


@dataclass(frozen=True)
class OpStat:
    """Work of one node at batch 1: MACs (multiply-accumulates), other flops, bytes read/written."""

    node: str
    op_type: str
    macs: int
    flops: int
    bytes_read: int
    bytes_written: int
    param_bytes: int
    precision: str  # fp32 | fp16 | int8
    counted: bool


def _shapes(proto) -> dict[str, tuple[tuple, int]]:
    """tensor name -> (shape, elem_type) for every tensor whose shape is fully known."""
    out = {}
    g = proto.graph
    for v in list(g.input) + list(g.value_info) + list(g.output):
        tt = v.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        if tt.HasField("shape") and None not in dims:
            out[v.name] = (tuple(dims), tt.elem_type)
    for t in g.initializer:
        out[t.name] = (tuple(t.dims), t.data_type)
    for n in g.node:  # Constant nodes (weights stored as nodes, e.g. paddle/old exports)
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            out[n.output[0]] = (tuple(n.attribute[0].t.dims), n.attribute[0].t.data_type)
    _propagate(g, out)
    return out


_SAME_SHAPE = {"Relu", "Clip", "Sigmoid", "Tanh", "LeakyRelu", "HardSigmoid", "HardSwish", "Cast", "Identity",
               "QuantizeLinear", "DequantizeLinear", "BatchNormalization", "Softmax", "LayerNormalization",
               "Gelu", "BiasGelu", "FastGelu", "Erf", "Dropout", "QLinearSigmoid", "QLinearLeakyRelu",
               "SkipLayerNormalization", "SkipSimplifiedLayerNormalization", "SimplifiedLayerNormalization",
               "BiasAdd", "QuickGelu", "RotaryEmbedding"}
_BINARY = {"Add": (0, 1), "Sub": (0, 1), "Mul": (0, 1), "Div": (0, 1), "QLinearAdd": (0, 3), "QLinearMul": (0, 3)}


def _propagate(g, shapes: dict):
    """Fill in output shapes onnx shape inference left unknown, for the operator families that carry work."""
    for n in g.node:
        if not n.output or n.output[0] in shapes:
            continue
        ins = [shapes.get(i) for i in n.input]
        first = ins[0] if ins else None
        t = n.op_type
        try:
            if t in _SAME_SHAPE and first:
                shape, et = first[0], first[1]
                if t == "QuantizeLinear":
                    et = ins[2][1] if len(ins) > 2 and ins[2] else 2
                elif t == "DequantizeLinear":
                    et = 1
                elif t == "Cast":
                    et = next((a.i for a in n.attribute if a.name == "to"), et)
                shapes[n.output[0]] = (shape, et)
            elif t == "DynamicQuantizeLinear" and first:  # y uint8 (same shape), y_scale float, y_zero_point uint8
                for o, entry in zip(n.output, ((first[0], 2), ((), 1), ((), 2))):
                    if o:
                        shapes[o] = entry
            elif t in _BINARY and all(ins[i] for i in _BINARY[t]):
                a, b = (ins[i][0] for i in _BINARY[t])
                shapes[n.output[0]] = (tuple(_broadcast(a, b)), first[1])
            elif t in CONV_OPS:
                w = ins[3 if t == "QLinearConv" else 1]
                if first and w:
                    et = 1 if t in ("Conv", "FusedConv", "NhwcConv") else (6 if t == "ConvInteger" else first[1])
                    shapes[n.output[0]] = (_conv_out(n, first[0], w[0]), et)
            elif t in ("GlobalAveragePool", "GlobalMaxPool", "QLinearGlobalAveragePool") and first:
                shapes[n.output[0]] = (tuple(first[0][:2]) + (1,) * (len(first[0]) - 2), first[1])
            elif t == "Flatten" and first:
                axis = next((a.i for a in n.attribute if a.name == "axis"), 1)
                shapes[n.output[0]] = ((math.prod(first[0][:axis]), math.prod(first[0][axis:])), first[1])
            elif t in ("Gemm", "FusedGemm", "QGemm"):
                a, b = ins[0], ins[3 if t == "QGemm" else 1]
                if a and b:
                    attrs = {x.name: x.i for x in n.attribute}
                    m = a[0][1] if attrs.get("transA") else a[0][0]
                    k = b[0][0] if attrs.get("transB") else b[0][1]
                    shapes[n.output[0]] = ((m, k), 1 if t != "QGemm" or len(n.input) < 8 else first[1])
            elif t in ATTENTION_OPS or t in ("EmbedLayerNormalization", "MatMulNBits"):
                _propagate_fused(n, ins, shapes)
            elif t in MATMUL_OPS:  # MatMulNBits took the branch above
                a, b = ins[0], ins[3 if t == "QLinearMatMul" else 1]
                if a and b:
                    batch = _broadcast(a[0][:-2], b[0][:-2])
                    et = 6 if t == "MatMulInteger" else 1 if t in ("DynamicQuantizeMatMul",
                                                                    "MatMulIntegerToFloat") else first[1]
                    shapes[n.output[0]] = (tuple(batch) + (a[0][-2], b[0][-1]), et)
        except (IndexError, TypeError, ValueError, ZeroDivisionError):
            continue  # leave it unknown: the op is then listed as not counted


def _attrs(n) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in n.attribute}


def _propagate_fused(n, ins, shapes: dict):
    """Output shapes of com.microsoft transformer fusions (onnxruntime ContribOperators.md signatures)."""
    t, first, at = n.op_type, ins[0], _attrs(n)
    if t in ("Attention", "QAttention") and first and len(ins) > 1 and ins[1]:
        b, s_, _ = first[0]  # input [B, S, hidden]; weights [hidden, q+k+v hidden]
        qkv = list(at.get("qkv_hidden_sizes") or [])
        hv = qkv[2] if len(qkv) == 3 else ins[1][0][1] // 3
        shapes[n.output[0]] = ((b, s_, hv), 1 if t == "QAttention" else first[1])
    elif t == "MultiHeadAttention" and first and len(first[0]) == 3:
        v = ins[2] if len(ins) > 2 else None
        dv = v[0][-1] if v and len(v[0]) == 3 else first[0][2]
        shapes[n.output[0]] = ((first[0][0], first[0][1], dv), first[1])
    elif t == "EmbedLayerNormalization" and first and len(ins) > 2 and ins[2]:
        b, s_ = first[0]  # input_ids [B, S]; word_embedding [vocab, hidden]
        shapes[n.output[0]] = ((b, s_, ins[2][0][1]), ins[2][1])
        if len(n.output) > 1 and n.output[1]:
            shapes[n.output[1]] = ((b,), 6)  # mask_index int32 [B]
        if len(n.output) > 2 and n.output[2]:
            shapes[n.output[2]] = ((b, s_, ins[2][0][1]), ins[2][1])
    elif t == "MatMulNBits" and first:
        shapes[n.output[0]] = (tuple(first[0][:-1]) + (int(at["N"]),), first[1])


def _attention_macs(n, shapes) -> int | None:
    """QKV projection (Attention/QAttention) + Q·K^T + softmax·V, from the input shapes."""
    shp = lambda i: shapes.get(n.input[i], (None,))[0] if len(n.input) > i and n.input[i] else None  # noqa: E731
    x = shp(0)
    if not x or len(x) != 3:
        return None
    b, s_, hidden = x
    if n.op_type == "MultiHeadAttention":
        k, v = shp(1), shp(2)
        if k is not None and len(k) != 3:
            return None  # packed/4-D key layouts: left uncounted rather than guessed
        length = k[1] if k else s_
        dv = v[2] if v and len(v) == 3 else hidden
        return b * s_ * length * (hidden + dv)
    w = shp(1)
    if not w:
        return None
    qkv = list(_attrs(n).get("qkv_hidden_sizes") or [])
    hq, hk, hv = qkv if len(qkv) == 3 else [w[1] // 3] * 3
    past = shp(8 if n.op_type == "QAttention" else 4)  # past [2, B, heads, past_len, head_size]
    total = s_ + (past[3] if past and len(past) == 5 else 0)
    return b * s_ * hidden * w[1] + b * s_ * total * hq + b * s_ * total * hv


def _broadcast(a, b) -> list:
    a, b = list(a), list(b)
    n = max(len(a), len(b))
    a, b = [1] * (n - len(a)) + a, [1] * (n - len(b)) + b
    return [max(x, y) for x, y in zip(a, b)]


def _conv_out(n, x, w) -> tuple:
    attrs = {a.name: a for a in n.attribute}
    k = len(x) - 2
    ints = lambda name, d: list(attrs[name].ints) if name in attrs and attrs[name].ints else [d] * k  # noqa: E731
    strides, dil = ints("strides", 1), ints("dilations", 1)
    pads = ints("pads", 0) if "pads" in attrs else [0] * (2 * k)
    auto = attrs["auto_pad"].s.decode() if "auto_pad" in attrs else "NOTSET"
    out = []
    for i in range(k):
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            out.append(-(-x[2 + i] // strides[i]))
        else:
            span = dil[i] * (w[2 + i] - 1) + 1
            out.append((x[2 + i] + pads[i] + pads[i + k] - span) // strides[i] + 1)
    return (x[0], w[0], *out)


def _nbytes(entry) -> int:
    shape, et = entry
    return math.prod(shape) * _DTYPE_BYTES.get(et, 4)


def op_stats(proto) -> tuple[list[OpStat], set[str]]:
    g = proto.graph
    shapes = _shapes(proto)
    inits = {t.name for t in g.initializer}
    producers = {o: n for n in g.node for o in n.output}
    stats, uncounted = [], set()
    for n in g.node:
        ins = [shapes.get(i) for i in n.input if i]
        outs = [shapes.get(o) for o in n.output if o]
        known = all(s is not None for s in ins + outs)
        macs, counted = _macs(n, shapes), True
        flops = 0
        if macs is None:
            macs = 0
            if n.op_type in _ELEMENTWISE and outs and outs[0] is not None:
                flops = math.prod(outs[0][0])
            elif n.op_type not in _MOVEMENT and n.op_type not in _ELEMENTWISE:
                counted = False
                uncounted.add(n.op_type)
        read = sum(_nbytes(s) for s in ins if s is not None)
        written = sum(_nbytes(s) for s in outs if s is not None)
        pbytes = sum(_nbytes(shapes[i]) for i in n.input if i in inits and i in shapes)
        stats.append(OpStat(n.name or f"{n.op_type}_{len(stats)}", n.op_type, int(macs), int(flops),
                            int(read), int(written), int(pbytes), _precision(n, shapes, producers),
                            counted and known))
    return stats, uncounted


def _macs(n, shapes) -> int | None:
    def shp(i):
        return shapes.get(n.input[i], (None,))[0] if len(n.input) > i else None

    out = shapes.get(n.output[0], (None,))[0] if n.output else None
    t = n.op_type
    if t in CONV_OPS:
        w = shp(3 if t == "QLinearConv" else 1)
        return math.prod(out) * math.prod(w[1:]) if out and w else None
    if t == "ConvTranspose":
        x, w = shp(0), shp(1)  # weight [C, M/group, k...]: every input element feeds M/group × k outputs
        return math.prod(x) * math.prod(w[1:]) if x and w else None
    if t in ATTENTION_OPS:
        return _attention_macs(n, shapes)
    if t in GEMM_OPS:
        a = shp(0)
        trans_a = next((a_.i for a_ in n.attribute if a_.name == "transA"), 0)
        if a is None or out is None:
            return None
        k = a[0] if trans_a else a[-1]
        return math.prod(out) * k
    if t in MATMUL_OPS:
        a = shp(0)
        return math.prod(out) * a[-1] if out and a else None
    return None


def _precision(n, shapes, producers) -> str:
    if n.op_type in _QUANTIZED:
        return "int8"
    if n.op_type == "MatMulNBits":  # 4-bit weights; accuracy_level 4 computes in int8, else in the input's float
        return "int8" if _attrs(n).get("accuracy_level") == 4 else \
            ("fp16" if shapes.get(n.input[0], (None, 1))[1] == 10 else "fp32")
    for i in n.input:
        p = producers.get(i)
        if p is not None and p.op_type == "DequantizeLinear" and n.op_type not in ("QuantizeLinear",):
            return "int8"
    out = shapes.get(n.output[0]) if n.output else None
    if out is not None and out[1] == 10:
        return "fp16"
    return "fp32"


def peak_activations(proto) -> int:
    """Peak bytes of live intermediate tensors when the nodes run in graph order (batch 1)."""
    g = proto.graph
    shapes = _shapes(proto)
    inits = {t.name for t in g.initializer}
    last_use = {}
    for idx, n in enumerate(g.node):
        for i in n.input:
            last_use[i] = idx
    for o in g.output:
        last_use[o.name] = len(g.node)
    live: dict[str, int] = {v.name: _nbytes(shapes[v.name]) for v in g.input
                            if v.name not in inits and v.name in shapes}
    peak = sum(live.values())
    for idx, n in enumerate(g.node):
        for o in n.output:
            if o in shapes:
                live[o] = _nbytes(shapes[o])
        peak = max(peak, sum(live.values()))
        for name in [k for k in live if last_use.get(k, -1) <= idx]:
            del live[name]
    return int(peak)


