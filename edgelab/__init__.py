"""edgelab: an edge-ML workbench for Jupyter.

    import edgelab as el
    model = el.load("model.onnx")
    report = el.compare(model, data=el.Dataset.demo_digits(), recipes=["fp32", "int8-static"])
    report.to_dataframe(); report.best(max_accuracy_drop=0.01)
"""
from __future__ import annotations

from .data import Dataset
from .errors import (ConfigError, DataError, EdgelabError, MissingDependencyError, ModelLoadError, PassError,
                     RuntimeBackendError, StoreError, WorkerError)
from .model import Model, load
from .report import Report
from .runners import MeasureConfig
from .store import Store
from .variant import Recipe, Variant, build, recipes
from .viewer import view
from .workbench import compare

__all__ = [
    "ConfigError", "DataError", "Dataset", "EdgelabError", "MeasureConfig", "MissingDependencyError", "Model",
    "ModelLoadError", "PassError", "Recipe", "Report", "RuntimeBackendError", "Store", "StoreError", "Variant",
    "Workbench", "WorkerError", "build", "compare", "list_passes", "load", "recipes", "view",
]


def __getattr__(name):
    if name == "Workbench":  # ipywidgets + plotly: imported on first use only
        from .widgets import Workbench

        return Workbench
    raise AttributeError(f"module 'edgelab' has no attribute {name!r}")


def list_passes() -> dict:
    """Registered passes by name (PassInfo: backend, precision, options)."""
    from .passes import all_passes

    return all_passes()


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "edgelab"}]


def _jupyter_server_extension_points():
    return [{"module": "edgelab.server"}]


def load_ipython_extension(ipython):
    from .magics import load_ipython_extension as _load

    _load(ipython)
