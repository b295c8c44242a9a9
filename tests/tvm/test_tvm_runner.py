"""A compiled (TVM) variant's time per kernel is measured in the worker and kept in the report."""
from __future__ import annotations

import pytest

import edgelab as el

pytestmark = pytest.mark.tvm


def test_report_keeps_the_tvm_per_kernel_profile(cnn, quick):
    r = el.compare(cnn, recipes=["fp32", "tvm"], measure=quick, store=False)
    v = r.variant("tvm")
    assert v["error"] is None, v["error"]
    prof = v["op_profile"]
    assert prof["batch"] == 1 and prof["measured_on"] == v["measured_on"]
    kernels = prof["kernels"]
    assert kernels and all(k["calls"] >= 1 and k["total_ms"] >= 0 for k in kernels)
    assert sum(k["pct"] for k in kernels) == pytest.approx(100, abs=2)  # top 25 of a small model: all of it
    assert any("conv" in k["name"] for k in kernels)
    assert "fp32" not in {x["id"] for x in r.variants if x.get("op_profile")}
    page = r.to_html()
    assert "Per-operator profile" in page and kernels[0]["name"] in page
