"""Benchmark: a workload slider change → savings table + cost chart redrawn (goal < 100 ms per change).

Nothing is re-measured: the widget recomputes savings from the finished Report with the savings
function and redraws. Prints the per-change times; asserts only the median against the goal.
"""
from __future__ import annotations

import statistics
import time

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("plotly")

N_PROFILES = 6
N_VARIANTS = 8


def _report():
    from edgelab import Report

    profs = ["rpi3b", "rpi4", "rpi5", "n100", "jetson-orin-nano", "laptop-i5"][:N_PROFILES]
    variants = []
    for j in range(N_VARIANTS):
        variants.append({
            "id": f"v{j}", "recipe": f"v{j}", "runtime": "onnxruntime", "precision": "int8", "size_bytes": 10**6,
            "latency_ms": {"p50": 1.0 + j}, "speedup": {"median": 1.0}, "peak_memory_bytes": 60 * 2**20,
            "agreement": {"top1": 1.0, "cosine": 1.0}, "accuracy": None, "error": None,
            "estimates": {p: {"latency_ms": 5.0 + j + i, "fits": True, "source": f"projected from {p}"}
                          for i, p in enumerate(profs)},
            "savings": {p: {"cloud_usd_month": 100.0 + i, "edge_usd_month": 10.0, "savings_usd_month": 90.0 + i,
                            "breakeven_months": 4.0, "cloud_latency_ms": {"serverless": 2.0, "cpu_instance": 1.5,
                                                                          "gpu_instance": 0.5}}
                        for i, p in enumerate(profs)}})
    return Report(model={"name": "bench"}, host={"label": "host"}, variants=tuple(variants),
                  profiles={p: {"ram_bytes": 2**30} for p in profs})


@pytest.mark.benchmark
def test_slider_to_savings_update_time(tmp_path, monkeypatch):
    import os
    import platform

    from edgelab.profiles import host_label
    from edgelab.widgets import Workbench

    monkeypatch.chdir(tmp_path)
    pytest.importorskip("edgelab.savings")
    wb = Workbench()
    report = _report()
    wb._finish(report, None)
    times = []
    for k in range(40):
        t0 = time.perf_counter()
        wb.requests.value = 10 ** (3 + (k % 12) * 0.5)  # the observer runs synchronously, as in the kernel
        times.append((time.perf_counter() - t0) * 1000)
    for k in range(10):
        t0 = time.perf_counter()
        wb.electricity.value = 0.1 + k * 0.05
        times.append((time.perf_counter() - t0) * 1000)
    med, p90 = statistics.median(times), sorted(times)[int(0.9 * len(times))]
    real = "savings recomputed by edgelab.savings.savings for the best variant per profile"
    print(f"\nslider → savings redraw, {N_VARIANTS} variants × {N_PROFILES} profiles, {len(times)} changes: "
          f"median {med:.1f} ms, p90 {p90:.1f} ms, max {max(times):.1f} ms; {real}; "
          f"measured on {host_label()} ({platform.python_version()}, {os.cpu_count()} cores)")
    assert len(wb.figures["cost"].data) >= 2 * N_PROFILES
    s = wb.savings["jetson-orin-nano"]
    assert s["cloud_usd_month"] != 100.0 and "sensitivity" not in s  # recomputed, not read from the report
    line = next(t for t in wb.figures["cost"].data if t.name == "cloud (for jetson-orin-nano)")
    assert line.y[1] == pytest.approx(s["cloud_usd_month"])  # and really redrawn
    assert med < 100, f"median {med:.1f} ms per slider change, goal < 100 ms"

