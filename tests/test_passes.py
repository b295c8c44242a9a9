"""Pass registry and recipes: listing, validation, refusing duplicates, building each onnxruntime pass."""
from dataclasses import dataclass

import onnx
import pytest

import edgelab as el
import edgelab.passes as passes
from edgelab.variant import Recipe


def test_registry_lists_onnxruntime_passes():
    names = set(el.list_passes())
    assert {"ort-optimize", "int8-dynamic", "int8-static", "fp16"} <= names
    static = passes.get("int8-static")
    assert static.needs_calibration and static.precision == "int8"
    opts = {o["name"]: o for o in static.options()}
    assert opts["calibration"]["choices"] == ["minmax", "entropy", "percentile"]


def test_duplicate_registration_is_refused():
    with pytest.raises(el.ConfigError, match="already registered"):
        @passes.register("fp16", backend="onnxruntime", precision="fp16", description="dup")
        @dataclass(frozen=True)
        class Dup:
            def run(self, src, out_dir, ctx):
                return src


def test_unknown_pass_and_option():
    with pytest.raises(el.ConfigError, match="valid passes: .*int8-static"):
        passes.get("int4-magic")
    with pytest.raises(el.ConfigError, match="no option 'bits'"):
        Recipe("x", [("int8-static", {"bits": 4})])
    with pytest.raises(el.ConfigError, match="not one of"):
        Recipe("x", [("int8-static", {"calibration": "vibes"})])


def test_recipe_parse_and_overrides():
    r = Recipe.parse("int8-static:calibration=entropy,per_channel=false,samples=16")
    cfg = r.configs[0]
    assert (cfg.calibration, cfg.per_channel, cfg.samples) == ("entropy", False, 16)
    with pytest.raises(el.ConfigError, match="valid recipes: fp32"):
        Recipe.parse("turbo")


def test_recipe_from_dict_rejects_wrong_types():
    with pytest.raises(el.ConfigError):
        Recipe.from_dict({"name": "x", "steps": "int8-static"})
    with pytest.raises(el.ConfigError):
        Recipe.from_dict({"name": 3, "steps": []})
    r = Recipe.from_dict({"name": "mine", "steps": [{"pass": "int8-dynamic", "options": {"per_channel": False}}]})
    assert r.steps == (("int8-dynamic", (("per_channel", False),)),)


@pytest.mark.parametrize("recipe,expect_op", [
    ("ort-opt", None),
    ("int8-dynamic", "ConvInteger"),
    ("int8-static", "QuantizeLinear"),
    ("int8-qop", "QLinearConv"),
    ("fp16", "Cast"),
])
def test_each_pass_builds_a_valid_model(cnn, cnn_npz, recipe, expect_op):
    m = el.load(cnn)
    ds = el.Dataset.from_npz(cnn_npz, m)
    v = el.build(m, recipe, calibration=ds)
    built = onnx.load(v.path)
    onnx.checker.check_model(built)
    ops = {n.op_type for n in built.graph.node}
    if expect_op:
        assert expect_op in ops
    assert v.size_bytes == len(open(v.path, "rb").read())
    # the variant's graph (fused / quantized ops of runtime domains included) counts the same work
    facts = el.load(v.path)
    assert facts.macs == m.macs and facts.uncounted_ops == ()


def test_static_without_calibration_is_clear(cnn):
    with pytest.raises(el.ConfigError, match="calibration data"):
        el.build(el.load(cnn), "int8-static")
