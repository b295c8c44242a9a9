"""The public API: a curated, sorted, complete __all__, and `import edgelab` stays light."""
import subprocess
import sys
from pathlib import Path

import edgelab as el

ROOT = Path(__file__).resolve().parents[1]


def test_all_is_sorted_and_resolves():
    assert el.__all__ == sorted(el.__all__)
    for name in el.__all__:
        assert getattr(el, name) is not None, name


def test_public_classes_and_functions_are_listed():
    import inspect

    public = {n for n, v in vars(el).items() if not n.startswith("_") and (inspect.isclass(v) or inspect.isfunction(v))
              and getattr(v, "__module__", "").startswith("edgelab")} - {"load_ipython_extension"}  # IPython hook
    assert public <= set(el.__all__), public - set(el.__all__)


def test_import_pulls_no_heavy_backend():
    code = ("import sys, edgelab; heavy = [m for m in ('onnx', 'onnxruntime', 'tvm', 'torch', 'plotly', 'ipywidgets', "
            "'pandas', 'jupyter_server', 'tornado') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}).stdout.strip()
    assert out == "", f"import edgelab imported {out}"


def test_errors_share_one_root():
    for cls in (el.ModelLoadError, el.DataError, el.ConfigError, el.PassError, el.WorkerError, el.StoreError,
                el.RuntimeBackendError, el.MissingDependencyError):
        assert issubclass(cls, el.EdgelabError)
    assert issubclass(el.ConfigError, ValueError) and issubclass(el.DataError, ValueError)
