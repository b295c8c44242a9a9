"""Report.explain, `edgelab explain REPORT.json VARIANT`, the HTML section and the layer chart."""
import json

import numpy as np
import pytest

import edgelab as el
from edgelab.cli import main
from edgelab.explain import Explanation
from tests.explain.explain_models import inputs_for


@pytest.fixture
def run(outliers, tmp_path, quick):
    m = el.load(outliers)
    x = inputs_for(outliers, n=32)
    np.savez(tmp_path / "d.npz", x=x)
    r = el.compare(m, data=el.Dataset.from_arrays(x, model=m), recipes=["fp32", "int8-static-pt"], measure=quick)
    r.save_json(tmp_path / "report.json")
    return r, tmp_path


@pytest.mark.slow
def test_report_explain_attaches_and_renders(run):
    r, tmp = run
    assert r.model["path"].endswith("outliers.onnx")
    ds = el.Dataset.from_npz(tmp / "d.npz", el.load(r.model["path"]))
    ex = r.explain("int8-static-pt", data=ds, calibration=ds, mixed=False)
    assert ex.worst[0]["node"] == "mm_outlier" and ex.mixed is None
    assert r.variant("int8-static-pt")["explanation"]["worst"][0]["node"] == "mm_outlier"
    again = Explanation.from_dict(json.loads(json.dumps(r.to_json(), default=str))["variants"][1]["explanation"])
    assert again.headline == ex.headline
    page = r.to_html()
    assert "<h2>Explanations</h2>" in page and "per-layer SQNR" in page and "mm_outlier" in page
    fig = el.plots.layer_sqnr(ex) if hasattr(el, "plots") else __import__("edgelab.plots").plots.layer_sqnr(ex)
    bars = fig.data[1]
    assert list(bars.x)[0].endswith("mm_outlier") and bars.marker.color[0] == "#d62728"


@pytest.mark.slow
def test_cli_explain(run, capsys):
    r, tmp = run
    rc = main(["explain", str(tmp / "report.json"), "int8-static-pt", "--data", str(tmp / "d.npz"), "--no-mixed",
               "--json", str(tmp / "ex.json"), "--html", str(tmp / "r.html")])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "int8-static-pt is" in out.out and "mm_outlier" in out.out and "measured on" in out.out
    d = json.loads((tmp / "ex.json").read_text())
    assert d["worst"][0]["node"] == "mm_outlier"
    assert "Explanations" in (tmp / "r.html").read_text()
    rc = main(["explain", str(tmp / "report.json"), "nope"])
    assert rc == 1 and "no variant 'nope'" in capsys.readouterr().err


def test_explain_needs_the_calibration_of_a_static_variant(run):
    r, _ = run
    with pytest.raises(el.errors.ConfigError, match="calibration="):
        r.explain("int8-static-pt")
