"""Recipes (ordered pass configs with a short name) and Variants (a model built by a recipe, cached).

    >>> el.recipes()                                   # named recipes
    >>> r = el.Recipe.parse("int8-static")             # or "int8-static:calibration=entropy,per_channel=false"
    >>> r = el.Recipe("mine", [("int8-static", {"format": "qdq", "samples": 64})])
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from . import passes, workspace
from .errors import ConfigError, EdgelabError, PassError
from .model import Model

# version of the build logic; bump when passes change their output so old cache entries are not reused
BUILD_VERSION = "3"


@dataclass(frozen=True)
class Recipe:
    """An ordered list of (pass name, options) with a short name. An empty list is the fp32 reference."""

    name: str
    steps: tuple = ()
    description: str = ""

    def __init__(self, name: str, steps=(), description: str = ""):
        norm = []
        for s in steps:
            if isinstance(s, str):
                s = (s, {})
            if not (isinstance(s, (tuple, list)) and len(s) == 2 and isinstance(s[0], str) and isinstance(s[1], dict)):
                raise ConfigError(f"recipe {name!r}: each step must be a pass name or (name, options dict); got {s!r}")
            passes.get(s[0]).make(**s[1])  # validates name and options now, not at build time
            norm.append((s[0], tuple(sorted(s[1].items()))))
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "steps", tuple(norm))
        object.__setattr__(self, "description", description)

    @property
    def configs(self) -> list:
        return [passes.get(n).make(**dict(o)) for n, o in self.steps]

    @property
    def needs_calibration(self) -> bool:
        return any(passes.get(n).needs_calibration for n, _ in self.steps)

    @property
    def runtime(self) -> str:
        return "tvm" if any(passes.get(n).produces == "tvm" for n, _ in self.steps) else "onnxruntime"

    @property
    def precision(self) -> str:
        p = "fp32"
        for n, _ in self.steps:
            q = passes.get(n).precision
            p = p if q == "same" else q
        return p

    def to_dict(self) -> dict:
        return {"name": self.name, "steps": [{"pass": n, "options": dict(o)} for n, o in self.steps],
                "description": self.description}

    def key(self) -> str:
        """Canonical text of what the recipe does (not its name): the cache key part."""
        return json.dumps([[n, [[k, _jsonable(v)] for k, v in o]] for n, o in self.steps])

    @classmethod
    def from_dict(cls, d: dict) -> Recipe:
        if not isinstance(d, dict) or not isinstance(d.get("name"), str) or not isinstance(d.get("steps", []), list):
            raise ConfigError('a recipe must look like {"name": str, "steps": [{"pass": str, "options": {...}}]}')
        steps = []
        for s in d.get("steps", []):
            if not isinstance(s, dict) or not isinstance(s.get("pass"), str) or not isinstance(s.get("options", {}), dict):
                raise ConfigError(f"recipe {d['name']!r}: bad step {s!r}; expected {{'pass': name, 'options': {{...}}}}")
            steps.append((s["pass"], s.get("options", {})))
        return cls(d["name"], steps, d.get("description", ""))

    @classmethod
    def parse(cls, text: str) -> Recipe:
        """A named recipe, optionally with option overrides for its last step: 'name:key=value,key=value'."""
        if isinstance(text, Recipe):
            return text
        name, _, opts = str(text).strip().partition(":")
        named = recipes()
        if name not in named:
            raise ConfigError(f"unknown recipe {name!r}; valid recipes: {', '.join(named)}")
        base = named[name]
        if not opts:
            return base
        if not base.steps:
            raise ConfigError(f"recipe {name!r} has no pass to configure")
        over = {}
        for kv in opts.split(","):
            k, eq, v = kv.partition("=")
            if not eq:
                raise ConfigError(f"bad option {kv!r} in {text!r}; use key=value")
            over[k.strip()] = _coerce(v.strip())
        steps = [(n, dict(o)) for n, o in base.steps]
        steps[-1][1].update(over)
        return cls(str(text), steps, base.description)


def _coerce(v: str):
    low = v.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(v)
    except ValueError:
        return v


def _jsonable(v):
    return list(v) if isinstance(v, tuple) else v


_NAMED = [
    ("fp32", [], "the original model in onnxruntime with default session options (the reference)"),
    ("ort-opt", [("ort-optimize", {"level": "extended"})], "graph optimizations saved offline (portable level)"),
    ("int8-dynamic", [("int8-dynamic", {})], "dynamic int8, per-channel int8 weights"),
    ("int8-dynamic-u8", [("int8-dynamic", {"weight_type": "uint8", "per_channel": False})],
     "dynamic int8 with uint8 weights (faster ConvInteger on x86)"),
    ("int8-static", [("int8-static", {})], "static int8 QDQ, per-channel, U8S8, MinMax calibration"),
    ("int8-static-pt", [("int8-static", {"per_channel": False})], "static int8 QDQ, per-tensor"),
    ("int8-static-entropy", [("int8-static", {"calibration": "entropy"})], "static int8 QDQ, entropy calibration"),
    ("int8-static-percentile", [("int8-static", {"calibration": "percentile"})],
     "static int8 QDQ, percentile calibration"),
    ("int8-qop", [("int8-static", {"format": "qoperator"})], "static int8 QOperator (QLinearConv...), U8S8"),
    ("int8-static-matmul", [("int8-static", {"op_types": "MatMul"})],
     "static int8 of MatMuls only (transformers: keeps masks/softmax in fp32)"),
    ("int8-dynamic-opt", [("ort-optimize", {"level": "extended"}), ("int8-dynamic", {})],
     "graph optimizations (LayerNorm/Gelu/MatMul fusions) saved first, then dynamic per-channel int8"),
    ("int8-transformer", [("ort-transformer-optimize", {}), ("int8-dynamic", {})],
     "transformer fusions (Attention, SkipLayerNorm) then dynamic per-channel int8"),
    ("fp16", [("fp16", {})], "float16 weights and activations, fp32 inputs/outputs"),
]
DEFAULT_RECIPES = ("fp32", "ort-opt", "int8-dynamic", "int8-static", "int8-static-pt", "int8-qop", "fp16")


def recipes() -> dict[str, Recipe]:
    """The named recipes, by name (TVM recipes appear when the TVM pass module registers them)."""
    from .passes import tvm as _tvm

    out = {n: Recipe(n, s, d) for n, s, d in _NAMED}
    out.update({n: Recipe(n, s, d) for n, s, d in getattr(_tvm, "RECIPES", [])})
    return out


@dataclass(frozen=True)
class Variant:
    """A model built by a recipe: the artifact on disk plus its lineage."""

    id: str
    recipe: Recipe
    parent_sha256: str
    key: str
    path: str
    size_bytes: int
    runtime: str
    precision: str
    build_s: float
    cached: bool = False

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["recipe"] = self.recipe.to_dict()
        return d

    def __repr__(self) -> str:
        return (f"Variant({self.id!r}, {self.runtime}, {self.precision}, {self.size_bytes / 1024:.0f} KiB, "
                f"{'cached' if self.cached else f'built in {self.build_s:.1f} s'})")

    def _repr_html_(self) -> str:
        from .report import variant_html

        return variant_html(self)


def variant_key(model: Model, recipe: Recipe, calibration=None, target=None) -> str:
    h = hashlib.sha256()
    for part in (BUILD_VERSION, model.sha256, recipe.key(),
                 calibration.fingerprint() if (calibration is not None and recipe.needs_calibration) else "",
                 _target_key(recipe, target)):
        h.update(str(part).encode())
        h.update(b"\0")
    return h.hexdigest()


def _target_key(recipe: Recipe, target) -> str:
    """Compiled artifacts depend on the target: a profile's TVM target, or this host's CPU when none is given."""
    if recipe.runtime != "tvm":
        return ""
    if target is not None:
        return json.dumps(getattr(target, "tvm_target", None), sort_keys=True)
    from .profiles.host import fingerprint

    fp = fingerprint()
    return json.dumps([fp["cpu"], fp["family"], fp["model"], fp["isa"], fp["tvm"]])


def build(model: Model, recipe: Recipe | str, *, calibration=None, target=None, progress=None,
          cancel=None) -> Variant:
    """Build (or fetch from the workspace cache) the variant of `model` made by `recipe`."""
    recipe = Recipe.parse(recipe) if isinstance(recipe, str) else recipe
    if not recipe.steps:
        return Variant(recipe.name, recipe, model.sha256, "", model.path, model.size_bytes, "onnxruntime",
                       "fp32", 0.0, True)
    key = variant_key(model, recipe, calibration, target)
    final = workspace.cache_dir(key[:24])
    meta = final / "variant.json"
    if meta.exists():
        try:
            d = json.loads(meta.read_text())
            return Variant(recipe.name, recipe, model.sha256, key, str(final / d["artifact"]), d["size_bytes"],
                           d["runtime"], recipe.precision, d["build_s"], True)
        except (OSError, ValueError, KeyError):
            pass  # unreadable entry: rebuild it below
    ctx = passes.PassContext(calibration=calibration, target=target, progress=progress, cancel=cancel)
    t0 = time.perf_counter()
    with workspace.atomic_dir(final) as tmp:
        src = Path(model.path)
        for i, cfg in enumerate(recipe.configs):
            step_dir = workspace.ensure(tmp / f"step{i}")
            try:
                src = Path(cfg.run(src, step_dir, ctx))
            except EdgelabError:
                raise
            except OSError as e:
                raise workspace.disk_error(e, f"variant {recipe.name!r} in {final.parent}") from e
            except Exception as e:  # a backend bug must not escape as a bare traceback
                raise PassError(f"pass {cfg.pass_name!r} failed: {type(e).__name__}: {e}") from e
        artifact = src.relative_to(tmp)
        size = src.stat().st_size
        build_s = time.perf_counter() - t0
        (tmp / "variant.json").write_text(json.dumps({
            "artifact": str(artifact), "size_bytes": size, "runtime": recipe.runtime, "build_s": build_s,
            "recipe": recipe.to_dict(), "parent_sha256": model.sha256, "created": time.time()}))
    return Variant(recipe.name, recipe, model.sha256, key, str(final / artifact), size, recipe.runtime,
                   recipe.precision, build_s, False)
