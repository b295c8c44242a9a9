"""Optimization passes: a registry of small, typed steps that turn a model into a variant.

A pass is a frozen config dataclass registered with :func:`register`; its ``run(src, out_dir, ctx)``
writes the transformed model into ``out_dir`` and returns its path. Listing passes imports no backend.
"""
from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError

_BUILTIN_MODULES = ("ort_optimize", "ort_quantize", "fp16", "tvm")


@dataclass(frozen=True)
class PassInfo:
    """What the registry knows about a pass: its config class and metadata."""

    name: str
    config: type
    backend: str  # onnxruntime | tvm
    precision: str  # fp32 | int8 | fp16 | same
    needs_calibration: bool
    produces: str  # onnx | tvm
    description: str

    def options(self) -> list[dict]:
        """The pass's options: name, type, default and allowed choices."""
        out = []
        for f in dataclasses.fields(self.config):
            out.append({"name": f.name, "type": getattr(f.type, "__name__", str(f.type)),
                        "default": f.default if f.default is not dataclasses.MISSING else None,
                        "choices": list(f.metadata.get("choices", ())) or None,
                        "help": f.metadata.get("help", "")})
        return out

    def make(self, **options) -> Any:
        """A config instance, validating option names and choices."""
        valid = {f.name: f for f in dataclasses.fields(self.config)}
        for k, v in options.items():
            if k not in valid:
                raise ConfigError(f"pass {self.name!r} has no option {k!r}; options: {', '.join(valid) or 'none'}")
            choices = valid[k].metadata.get("choices")
            if choices and v not in choices:
                raise ConfigError(f"pass {self.name!r} option {k}={v!r} is not one of {list(choices)}")
        try:
            return self.config(**options)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"pass {self.name!r}: {e}") from e


@dataclass
class PassContext:
    """What a pass may need besides the model: calibration data, a target profile, a progress callback."""

    calibration: Any = None  # edgelab.Dataset or None
    target: Any = None  # edgelab profile or None (host)
    progress: Callable[[str], None] | None = None
    cancel: Any = None  # threading.Event or None


_REGISTRY: dict[str, PassInfo] = {}


def register(name: str, *, backend: str, precision: str, description: str,
             needs_calibration: bool = False, produces: str = "onnx"):
    """Class decorator registering a pass config under `name` (duplicates are refused)."""

    def deco(cls):
        if name in _REGISTRY:
            raise ConfigError(f"pass {name!r} is already registered (by {_REGISTRY[name].config.__module__})")
        if not callable(getattr(cls, "run", None)):
            raise ConfigError(f"pass {name!r} needs a run(src, out_dir, ctx) method")
        cls.pass_name = name
        _REGISTRY[name] = PassInfo(name, cls, backend, precision, needs_calibration, produces, description)
        return cls

    return deco


_loaded = False


def all_passes() -> dict[str, PassInfo]:
    """name -> PassInfo for every registered pass (built-in modules are imported on first use)."""
    global _loaded
    if not _loaded:
        for m in _BUILTIN_MODULES:
            importlib.import_module(f"{__name__}.{m}")
        _loaded = True
    return dict(_REGISTRY)


def get(name: str) -> PassInfo:
    passes = all_passes()
    if name not in passes:
        raise ConfigError(f"unknown pass {name!r}; valid passes: {', '.join(sorted(passes))}")
    return passes[name]


def choice(*values, help: str = "", default=dataclasses.MISSING):
    """A dataclass field restricted to `values` (shown by `edgelab passes`)."""
    return dataclasses.field(default=values[0] if default is dataclasses.MISSING else default,
                             metadata={"choices": values, "help": help})


def opt(default, help: str = ""):
    return dataclasses.field(default=default, metadata={"help": help})


def out_path(out_dir: Path) -> Path:
    return Path(out_dir) / "model.onnx"
