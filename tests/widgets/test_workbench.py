"""The Workbench widget driven from Python (no browser): selection, Run, progress, table, charts, Cancel."""
from __future__ import annotations

import time

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("plotly")

from edgelab import MeasureConfig, Report  # noqa: E402
from edgelab.widgets import Workbench  # noqa: E402


def tick(boxes, names):
    for k, b in boxes.items():
        b.value = k in names


def xs(fw):
    return [list(t.x) for t in fw.data if t.x is not None]


@pytest.mark.slow
def test_run_fills_table_bars_and_charts_and_rerun_changes_traces(workdir, quick):
    wb = Workbench(workdir / "tiny.onnx", measure=quick)
    assert "tiny" in wb.model_facts.value and "170 params" in wb.model_facts.value
    tick(wb.recipe_boxes, {"fp32"})
    wb.run_button.click()
    assert wb.wait(timeout=120), "run did not finish"
    assert wb.error is None, wb.error
    assert wb.report.ids == ["fp32"]
    assert [len(x) for x in xs(wb.figures["pareto"])][0] == 1
    tick(wb.recipe_boxes, {"fp32", "int8-dynamic"})
    wb.run_button.click()
    assert wb.wait(timeout=120) and wb.error is None, wb.error
    assert wb.report.ids == ["fp32", "int8-dynamic"]
    # every variant's bar is full and green, its label says done
    assert {k: (b.value, b.max, b.bar_style, lab.value) for k, (b, lab) in wb._bars.items()} == {
        k: (4, 4, "success", "done") for k in ("fp32", "int8-dynamic")}
    # table: one row per variant with the measured p50 the report holds, measured columns labelled
    html = wb.table.value
    for v in wb.report.variants:
        assert f"<td>{v['id']}" in html and f"{v['latency_ms']['p50']:.4f}" in html
    assert 'class="meas"' in html and "measured" in html and "★" in html  # best measured variant marked
    # charts: the Pareto chart has both variants' measured p50, latency bars too
    pareto = sorted(x for t in xs(wb.figures["pareto"])[:1] for x in t)
    all_x = sorted(x for t in wb.figures["pareto"].data if t.name == "onnxruntime" for x in t.x)
    assert all_x == sorted(v["latency_ms"]["p50"] for v in wb.report.variants) and pareto
    assert list(wb.figures["latency"].data[0].x) == ["fp32", "int8-dynamic"]
    assert "measured on" in wb.figures["latency"].data[0].name
    assert wb.run_button.disabled is False and wb.cancel_button.disabled is True


@pytest.mark.slow
def test_cancel_stops_a_long_run(workdir):
    slow = MeasureConfig(min_runs=10**6, min_time_s=60, max_time_s=120, batch_sizes=(1,))
    wb = Workbench(workdir / "tiny.onnx", measure=slow)
    tick(wb.recipe_boxes, {"fp32", "int8-dynamic"})
    wb.run()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any("timing" in s for s in wb._pending.values()):
        time.sleep(0.05)
    assert any("timing" in s for s in wb._pending.values()), wb._pending
    t0 = time.monotonic()
    wb.cancel_button.click()
    assert wb.status.value == "cancelling…"
    assert wb.wait(timeout=30), "cancel did not stop the run"
    took = time.monotonic() - t0
    assert took < 20, took
    # finished with what was there: an interrupted report, or a one-line error saying it was cancelled
    if wb.report is not None:
        assert wb.report.status == "interrupted"
        assert "interrupted" in wb.table.value
    else:
        assert wb.error
    assert wb.run_button.disabled is False


def test_main_options_apply_to_recipes_that_have_them(workdir):
    wb = Workbench(workdir / "tiny.onnx")
    tick(wb.recipe_boxes, {"fp32", "int8-static", "int8-dynamic"})
    assert [r.name for r in wb.selected_recipes()] == ["fp32", "int8-dynamic", "int8-static"]
    wb.calibration.value = "entropy"
    wb.per_channel.value = "per-tensor"
    rs = {r.name: r for r in wb.selected_recipes()}
    assert set(rs) == {"fp32", "int8-dynamic[per_channel=False]",
                       "int8-static[calibration=entropy,per_channel=False]"}
    assert dict(rs["int8-static[calibration=entropy,per_channel=False]"].steps[0][1])["calibration"] == "entropy"
    assert rs["fp32"].steps == ()


def test_model_picker_lists_cwd_models_and_shows_errors_as_one_line(workdir):
    (workdir / "broken.onnx").write_bytes(b"not a model")
    wb = Workbench()
    labels = [lab for lab, _ in wb.model_picker.options]
    assert "./broken.onnx" in labels and "./tiny.onnx" in labels and any("demo" in x for x in labels)
    wb.model_picker.value = str(next(v for lab, v in wb.model_picker.options if lab == "./broken.onnx"))
    assert 'color:#b00' in wb.model_facts.value and "\n" not in wb.model_facts.value
    wb.run()  # a model that does not load: one line in the status, nothing raised, nothing running
    assert not wb.running and wb.report is None and wb.error and "error:" in wb.status.value
    assert repr(wb).startswith("Workbench(model='./broken.onnx'")


def _fake_report() -> Report:
    v = lambda vid, p50, est, sav: {  # noqa: E731
        "id": vid, "recipe": vid, "runtime": "onnxruntime", "precision": "fp32", "size_bytes": 4096,
        "latency_ms": {"p50": p50}, "speedup": {"median": 1.0}, "peak_memory_bytes": 50 * 2**20,
        "agreement": {"top1": 1.0, "cosine": 1.0}, "accuracy": None, "error": None,
        "estimates": {"rpi4": {"latency_ms": est, "fits": True, "source": "projected from rpi4"}},
        "savings": {"rpi4": sav}}
    sav1 = {"cloud_usd_month": 100.0, "edge_usd_month": 20.0, "savings_usd_month": 80.0, "breakeven_months": 3.0}
    return Report(model={"name": "m"}, host={"label": "hostX"}, profiles={"rpi4": {"ram_bytes": 4 * 2**30}},
                  variants=(v("fp32", 1.0, 9.0, sav1), v("int8", 0.5, 4.0, dict(sav1, cloud_usd_month=90.0))))


def test_savings_table_and_cost_chart_from_a_report(workdir):
    wb = Workbench(workdir / "tiny.onnx")
    wb.report = _fake_report()
    wb._finish(wb.report, None)
    assert wb.best_per_profile() == {"rpi4": "int8"}
    assert wb.savings["rpi4"]["variant"] == "int8"
    assert "★rpi4" in wb.table.value and "rpi4 ms*</th>" in wb.table.value and ">80.00<" in wb.table.value
    cost = wb.figures["cost"]
    cloud = next(t for t in cost.data if t.name == "cloud (for rpi4)")
    edge = next(t for t in cost.data if t.name == "edge: rpi4")
    assert cloud.y[12] == pytest.approx(wb.savings["rpi4"]["cloud_usd_month"] * 12)
    assert edge.y[12] == pytest.approx(wb.savings["rpi4"]["edge_usd_month"] * 12)
    assert any(t.name == "break-even rpi4" and list(t.x) == [3.0] for t in cost.data)
    mem = wb.figures["memory"]
    assert list(mem.data[0].y) == [50.0, 50.0]
    assert any("rpi4 RAM" in (a.text or "") for a in mem.layout.annotations)


@pytest.mark.slow
def test_sliders_recompute_savings_without_measuring(workdir, quick, monkeypatch):
    pytest.importorskip("edgelab.savings")
    from edgelab import savings as S
    from edgelab import workbench as core

    wb = Workbench(workdir / "tiny.onnx", measure=quick, profiles=["rpi4"])
    tick(wb.recipe_boxes, {"fp32"})
    wb.run(block=True)
    assert wb.error is None and wb.report.profiles and wb.savings["rpi4"]["variant"] == "fp32"
    monkeypatch.setattr(core, "compare", lambda *a, **k: pytest.fail("a slider must not re-run compare"))
    v = wb.report.variant("fp32")
    cloud_ms = v["savings"]["rpi4"]["cloud_latency_ms"]
    wb.requests.value = 1e7
    want = S.savings(v["estimates"]["rpi4"]["latency_ms"], "rpi4", S.Workload(requests_per_day=wb.requests.value),
                     cloud_ms, S.load_prices({"electricity_usd_per_kwh": 0.25}), sensitivity=False)
    got = wb.savings["rpi4"]
    assert got["cloud_usd_month"] == want["cloud_usd_month"] and got["edge_usd_month"] == want["edge_usd_month"]
    cloud_line = next(t for t in wb.figures["cost"].data if t.name == "cloud (for rpi4)")
    assert cloud_line.y[10] == pytest.approx(10 * want["cloud_usd_month"])
    wb.cloud.value = "gpu_instance"
    assert wb.savings["rpi4"]["cloud_option"] == "gpu_instance"
    before = wb.savings["rpi4"]["edge_energy_usd_month"]
    wb.electricity.value = 0.75
    assert wb.savings["rpi4"]["edge_energy_usd_month"] == pytest.approx(3 * before, rel=0.01)
    assert f"{wb.savings['rpi4']['cloud_usd_month']:,.2f}" in wb.table.value


@pytest.mark.slow
def test_rows_appear_as_variants_finish_evaluation(workdir, quick):
    """Accuracy and memory of a variant show while later variants are still running."""
    wb = Workbench(workdir / "tiny.onnx", measure=quick)
    tick(wb.recipe_boxes, {"fp32", "int8-dynamic", "fp16"})
    seen = []
    original = wb._on_progress

    def spy(e):
        original(e)
        if e.get("stage") == "evaluate" and e.get("variant") == "fp16":  # fp32 and int8-dynamic are done
            seen.append(wb.table.value)

    wb._on_progress = spy
    wb.run_button.click()
    assert wb.wait(timeout=120) and wb.error is None, wb.error
    assert seen, "no progress event for the last variant"
    mid = seen[0]
    fp32 = wb.report.variant("fp32")
    assert f"{fp32['peak_memory_bytes'] / 2**20:.1f}" in mid  # a measured figure, shown before the run ended
    assert "<td>int8-dynamic" in mid and "waiting for the interleaved timing" not in mid.split("<td>fp16")[0]
