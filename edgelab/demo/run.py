"""`edgelab demo`: the bundled model(s) through the default recipes, report written to a folder."""
from __future__ import annotations

from pathlib import Path

DIGITS_RECIPES = ("fp32", "ort-opt", "int8-dynamic", "int8-static", "int8-static-pt", "int8-qop", "fp16")
MINILM_RECIPES = ("fp32", "ort-opt", "int8-dynamic", "int8-transformer", "int8-static", "int8-static-matmul")


def run_demo(which: str = "digits", *, out: Path | str = "edgelab-demo", measure=None, profiles=(),
             progress=None, cancel=None):
    """Run the demo and write report.json + report.html into `out`; returns the Report."""
    from .. import compare, load
    from ..data import Dataset

    if which == "digits":
        from . import digits_model_path

        model = load(digits_model_path(), name="digits_cnn")
        data, recipes = Dataset.demo_digits("test"), DIGITS_RECIPES
        calibration = Dataset.demo_digits("train").take(256)
    elif which == "minilm":
        from .minilm import minilm_demo

        model, data, calibration = minilm_demo()
        recipes = MINILM_RECIPES
    else:
        from ..errors import ConfigError

        raise ConfigError(f"unknown demo {which!r}; valid demos: digits, minilm")
    report = compare(model, data=data, calibration=calibration, recipes=recipes, profiles=profiles,
                     measure=measure, progress=progress, cancel=cancel)
    out = Path(out)
    report.save_json(out / "report.json")
    report.save_html(out / "report.html")
    return report
