"""Per-layer errors name the outlier layer; the mixed-precision variant really recovers accuracy."""
import numpy as np
import pytest

import edgelab as el
from edgelab.explain import explain, rank_layers
from edgelab.explain.layers import fake_quant, layer_errors, local_metrics, sqnr_db
from tests.explain.explain_models import inputs_for


def test_local_metrics_by_hand():
    # 98 values in [-1, 1] and two outliers at ±1000: uint8 step = 2000/255 ≈ 7.84 crushes the bulk to 0
    f = np.concatenate([np.linspace(-1, 1, 98), [1000.0, -1000.0]])
    step = 2000 / 255
    qp = {"kind": "static", "scale": step, "zero_point": 128.0, "qmin": 0, "qmax": 255}
    m = local_metrics(f, qp)
    fq = fake_quant(f, step, 128.0, 0, 255)
    assert np.all(fq[:98] == 0.0)  # every bulk value is rounded to zero
    assert m["bulk_sqnr_db"] == pytest.approx(0.0, abs=1e-9)  # noise == signal on the bulk
    assert m["local_sqnr_db"] == sqnr_db(f, fq) and m["local_sqnr_db"] > 40  # overall SQNR hides it
    assert m["outlier_ratio"] > 1000 and m["bulk_levels"] < 1
    assert sqnr_db([1.0, 0.0], [1.0, 0.1]) == 20.0


def test_outlier_layer_is_named(outliers):
    m = el.load(outliers)
    ds = el.Dataset.from_arrays(inputs_for(outliers, n=32), model=m)
    for recipe, method in [("int8-static-pt", "qdq_loss_debug"), ("int8-qop", "edgelab intermediate-output")]:
        v = el.build(m, recipe, calibration=ds)
        lay = layer_errors(m.path, v.path, ds, samples=8)
        assert method in lay["method"]
        assert lay["outputs"]["y"] < 10  # the logits are wrecked
        worst = rank_layers(lay)[0]
        assert worst["node"] == "mm_outlier" and worst["tensor"] == "h1"
        assert worst["bulk_sqnr_db"] < 5 and worst["outlier_ratio"] > 100
        assert set(worst["exclude"]) == {"mm_outlier", "mm_mid"}
        assert "1000" in worst["why"] or "x the 90th percentile" in worst["why"]


@pytest.mark.slow
def test_mixed_precision_recovers_accuracy(outliers):
    m = el.load(outliers)
    x = inputs_for(outliers, n=64)
    ds = el.Dataset.from_arrays(x, model=m)
    ex = explain(m, "int8-static-pt", data=ds, k=1)
    assert ex.worst[0]["node"] == "mm_outlier"
    mx = ex.mixed
    before, after = mx["variant"]["agreement"], mx["mixed"]["agreement"]
    assert after["cosine"] - before["cosine"] > 0.5 and after["cosine"] > 0.99
    assert after["top1"] - before["top1"] > 0.5
    assert mx["mixed"]["speedup"]["median"] > 0 and mx["variant"]["speedup"]["median"] > 0
    assert "mm_outlier" in mx["excluded_nodes"]
    # the mixed recipe is a real, cached variant: rebuilding it is instant and excludes those nodes
    rec = ex.suggestions[-1]
    v = el.build(m, rec, calibration=ds)
    assert v.cached
    import onnx
    ops = {n.name: n.op_type for n in onnx.load(v.path).graph.node}
    assert ops["mm_outlier"] == "MatMul"
    text = ex.text()
    assert "mm_outlier" in text and "mixed precision" in text
    html = ex._repr_html_()
    assert "mm_outlier" in html and "<ol>" in html
