"""Generate the bad/hostile input corpus into a folder (nothing downloaded, nothing committed but this script).

    python tests/corpus/make_corpus.py OUT_DIR     # writes the files and prints the case list

Each case says what it feeds edgelab (a model file, a data file, a profile/recipe file, or a path) and
what the right answer is: a specific EdgelabError subclass, or "ok" (a labelled result is the right answer).
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh


@dataclass
class Case:
    name: str
    model: str | None = None  # model file (relative to the corpus dir)
    data: str | None = None  # .npz data file
    recipes: str = "fp32"  # --recipes value (names or a .json file)
    profiles: str = ""
    expect: str = "ok"  # error class name or "ok"
    cli: list = field(default_factory=list)  # extra CLI args


def _model(nodes, inputs, outputs, inits=(), opset=17, **kw):
    g = h.make_graph(nodes, kw.pop("name", "g"), inputs, outputs, list(inits))
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)] + kw.pop("extra_opsets", []), **kw)
    m.ir_version = kw.get("ir_version", 8)
    return m


def _vi(name, shape, dt=T.FLOAT):
    return h.make_tensor_value_info(name, dt, shape)


def good_model(name="good", n_in=4):
    rng = np.random.default_rng(0)
    w = nh.from_array(rng.standard_normal((n_in, 3)).astype(np.float32), "w")
    return _model([h.make_node("MatMul", ["x", "w"], ["y"], name="mm")], [_vi("x", ["N", n_in])],
                  [_vi("y", ["N", 3])], [w], name=name)


def write(d: Path, name: str, obj) -> str:
    p = d / name
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(obj, onnx.ModelProto):
        p.write_bytes(obj.SerializeToString())
    elif isinstance(obj, bytes):
        p.write_bytes(obj)
    elif isinstance(obj, dict) and all(isinstance(v, np.ndarray) for v in obj.values()):
        np.savez(p, **obj)
    else:
        p.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return name


def build(d: Path) -> list[Case]:
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    good = write(d, "good.onnx", good_model())
    raw = (d / good).read_bytes()
    x = rng.standard_normal((8, 4)).astype(np.float32)
    cases = [
        # ---- model files --------------------------------------------------------------------
        Case("empty file", write(d, "empty.onnx", b""), expect="ModelLoadError"),
        Case("random bytes", write(d, "random.onnx", os.urandom(4096)), expect="ModelLoadError"),
        Case("truncated protobuf", write(d, "truncated.onnx", raw[: len(raw) // 2]), expect="ModelLoadError"),
        Case("protobuf that is a tensor, not a model",
             write(d, "tensor.onnx", nh.from_array(np.ones(3, np.float32)).SerializeToString()), expect="ModelLoadError"),
        Case("text file named .onnx", write(d, "readme.onnx", "hello, I am not a model\n" * 20), expect="ModelLoadError"),
        Case("graph with a cycle", write(d, "cycle.onnx", _model(
            [h.make_node("Add", ["x", "b"], ["a"]), h.make_node("Relu", ["a"], ["b"])],
            [_vi("x", [1, 4])], [_vi("b", [1, 4])])), expect="ModelLoadError"),
        Case("dangling node input", write(d, "dangling.onnx", _model(
            [h.make_node("Relu", ["ghost"], ["y"])], [_vi("x", [1, 4])], [_vi("y", [1, 4])])), expect="ModelLoadError"),
        Case("missing initializer", write(d, "noinit.onnx", _model(
            [h.make_node("MatMul", ["x", "w"], ["y"])], [_vi("x", [1, 4])], [_vi("y", [1, 3])])),
             expect="ModelLoadError"),
        Case("opset from the future", write(d, "future_opset.onnx", good_model().__class__.FromString(
            _model([h.make_node("Relu", ["x"], ["y"])], [_vi("x", [1, 4])], [_vi("y", [1, 4])],
                   opset=99).SerializeToString())), expect="ModelLoadError"),
        Case("unknown custom-domain op", write(d, "custom_op.onnx", _model(
            [h.make_node("Frobnicate", ["x"], ["y"], domain="com.example")], [_vi("x", [1, 4])], [_vi("y", [1, 4])],
            extra_opsets=[h.make_opsetid("com.example", 1)])), expect="WorkerError"),
        Case("dynamic dims everywhere", write(d, "all_dynamic.onnx", _model(
            [h.make_node("Relu", ["x"], ["y"])], [_vi("x", ["a", "b", "c"])], [_vi("y", ["a", "b", "c"])])),
             expect="ok"),
        Case("2 GB declared tensor without data", write(d, "huge_decl.onnx", _huge_declared()), expect="ModelLoadError"),
        Case("NaN weights", write(d, "nan_weights.onnx", _with_weight(np.full((4, 3), np.nan, np.float32))),
             expect="ModelLoadError"),
        Case("Inf weights (allowed, outputs labelled)", write(d, "inf_weights.onnx",
                                                              _with_weight(np.full((4, 3), np.inf, np.float32))),
             expect="ok"),
        Case("external data file missing", _external(d, "ext_missing", missing=True), expect="ModelLoadError"),
        Case("external data outside the model folder", _external(d, "ext_escape", escape=True), expect="ModelLoadError"),
        Case("model with no nodes and no outputs", write(d, "hollow.onnx", _model([], [_vi("x", [1])], [])),
             expect="ModelLoadError"),
        Case("sequence-typed input", write(d, "seq_input.onnx", _seq_input()), expect="DataError"),
        Case("input shape of 1e10 elements", write(d, "giant_input.onnx", _model(
            [h.make_node("Relu", ["x"], ["y"])], [_vi("x", [1, 100000, 100000])], [_vi("y", [1, 100000, 100000])])),
             expect="DataError"),
        Case("shape mismatch inside the graph", write(d, "bad_matmul.onnx", _model(
            [h.make_node("MatMul", ["x", "w"], ["y"])], [_vi("x", [1, 4])], [_vi("y", [1, 3])],
            [nh.from_array(np.ones((5, 3), np.float32), "w")])), expect="ModelLoadError"),
        Case("duplicate tensor names (not SSA)", write(d, "not_ssa.onnx", _model(
            [h.make_node("Relu", ["x"], ["y"]), h.make_node("Relu", ["x"], ["y"])], [_vi("x", [1, 4])],
            [_vi("y", [1, 4])])), expect="ModelLoadError"),
        Case("ir_version from the future", write(d, "future_ir.onnx", _future_ir()), expect="ModelLoadError"),
        Case("a folder instead of a file", "a_folder.onnx", expect="ModelLoadError"),
        Case("path that does not exist", "nothing/here.onnx", expect="ModelLoadError"),
        # ---- names and paths ----------------------------------------------------------------
        Case("model name with HTML/JS", write(d, "<img src=x onerror=alert(1)>.onnx", good_model("<script>alert(1)</script>")),
             expect="ok"),
        Case("unicode path", write(d, "modèles/模型 ü.onnx", good_model()), expect="ok"),
        Case("path with spaces", write(d, "my models/a model.onnx", good_model()), expect="ok"),
        # ---- data -----------------------------------------------------------------------------
        Case("NaN in data", good, write(d, "nan.npz", {"x": np.full((4, 4), np.nan, np.float32)}), expect="DataError"),
        Case("labels of the wrong length", good, write(d, "badlabels.npz", {"x": x, "y": np.zeros(5, np.int64)}),
             expect="DataError"),
        Case("wrong dtype", good, write(d, "f64.npz", {"x": x.astype(np.float64)}), expect="DataError"),
        Case("0-size batch", good, write(d, "empty.npz", {"x": np.zeros((0, 4), np.float32)}), expect="DataError"),
        Case("wrong rank", good, write(d, "rank.npz", {"x": x[:, :, None]}), expect="DataError"),
        Case("wrong feature count", good, write(d, "width.npz", {"x": x[:, :3]}), expect="DataError"),
        Case("wrong input name", good, write(d, "name.npz", {"image": x}), expect="DataError"),
        Case("extra input", good, write(d, "extra.npz", {"x": x, "mask": x}), expect="DataError"),
        Case("data file is not npz", good, write(d, "notnpz.npz", "just text"), expect="DataError"),
        Case("calibration set of 1 sample", good, write(d, "one.npz", {"x": x[:1]}), recipes="fp32,int8-static",
             expect="ok"),
        # ---- recipes, profiles ----------------------------------------------------------------
        Case("unknown recipe name", good, recipes="fp32,warp-drive", expect="ConfigError"),
        Case("unknown pass option", good, recipes="int8-static:bits=4", expect="ConfigError"),
        Case("recipe JSON with wrong types", good, recipes=write(d, "recipe_types.json",
                                                                 {"name": "r", "steps": "int8-static"}),
             expect="ConfigError"),
        Case("recipe JSON with a bad option value", good, recipes=write(
            d, "recipe_value.json", [{"name": "r", "steps": [{"pass": "int8-static", "options": {"calibration": 7}}]}]),
             expect="ConfigError"),
        Case("recipe JSON that is not JSON", good, recipes=write(d, "recipe_broken.json", "{name: r"),
             expect="ConfigError"),
        Case("unknown profile", good, profiles="rpi99", expect="ConfigError"),
    ]
    (d / "a_folder.onnx").mkdir(exist_ok=True)
    return cases


def _with_weight(w):
    return _model([h.make_node("MatMul", ["x", "w"], ["y"])], [_vi("x", ["N", 4])], [_vi("y", ["N", 3])],
                  [nh.from_array(w, "w")])


def _huge_declared():
    t = onnx.TensorProto()
    t.name, t.data_type = "w", T.FLOAT
    t.dims.extend([2**19, 2**10])  # 2 GiB of float32 declared, no data stored
    return _model([h.make_node("MatMul", ["x", "w"], ["y"])], [_vi("x", [1, 2**19])], [_vi("y", [1, 2**10])], [t])


def _external(d: Path, stem: str, *, missing=False, escape=False) -> str:
    folder = d / stem
    folder.mkdir(exist_ok=True)
    w = nh.from_array(np.ones((4, 3), np.float32), "w")
    w.ClearField("float_data")
    w.ClearField("raw_data")
    w.data_location = onnx.TensorProto.EXTERNAL
    loc = "../secret.bin" if escape else "weights.bin"
    w.external_data.add(key="location", value=loc)
    if escape:
        (d / "secret.bin").write_bytes(np.ones((4, 3), np.float32).tobytes())
    elif not missing:
        (folder / "weights.bin").write_bytes(np.ones((4, 3), np.float32).tobytes())
    m = _model([h.make_node("MatMul", ["x", "w"], ["y"])], [_vi("x", [1, 4])], [_vi("y", [1, 3])], [w])
    (folder / "model.onnx").write_bytes(m.SerializeToString())
    return f"{stem}/model.onnx"


def _seq_input():
    seq = h.make_tensor_sequence_value_info("s", T.FLOAT, None)
    return _model([h.make_node("SequenceLength", ["s"], ["n"])], [seq], [_vi("n", [], T.INT64)])


def _future_ir():
    m = good_model()
    m.ir_version = 99
    return m


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "corpus-out")
    for c in build(out):
        print(f"{c.name:45s} {c.expect:15s} {c.model or ''} {c.data or ''} {c.recipes}")
