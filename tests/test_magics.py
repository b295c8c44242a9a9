"""%edgelab line magics in a real IPython shell: objects returned, usage and errors as one line."""
from __future__ import annotations

import pytest

IPython = pytest.importorskip("IPython")


@pytest.fixture(scope="module")
def ip():
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython()
    shell.run_line_magic("load_ext", "edgelab")
    return shell


@pytest.mark.slow
def test_compare_returns_the_report_and_writes_json(ip, workdir, capsys):
    from edgelab import Report

    r = ip.run_line_magic("edgelab", "compare tiny.onnx --recipes fp32,int8-dynamic --quick --batch 1 --json r.json")
    assert isinstance(r, Report) and r.ids == ["fp32", "int8-dynamic"]
    assert Report.from_json(workdir / "r.json").ids == r.ids
    out = capsys.readouterr().out
    assert "IntProgress" in out  # a progress bar is displayed (shown as its repr without a browser)
    assert "<table>" in r._repr_html_()


def test_progress_bar_follows_compare_events(workdir):
    import edgelab as el
    from edgelab.widgets.progress import ProgressBar

    bar = ProgressBar()
    seen = []

    def spy(e):
        bar(e)
        seen.append((e.get("stage"), bar.bar.value, bar.bar.max))

    el.compare(workdir / "tiny.onnx", recipes=["fp32", "fp16"], progress=spy,
               measure=el.MeasureConfig(batch_sizes=(1,), min_runs=5, min_time_s=0.05, max_time_s=1))
    values = [v for _, v, _ in seen]
    assert values == sorted(values) and seen[-1][0] == "done"
    assert bar.bar.value == bar.bar.max == 6 and bar.bar.bar_style == "success"
    assert "done (complete)" in bar.label.value


def test_usage_error_prints_usage_not_traceback(ip, workdir, capsys):
    assert ip.run_line_magic("edgelab", "compare") is None
    err = capsys.readouterr().err
    assert err.startswith("usage: %edgelab compare") and "required: model" in err and "Traceback" not in err
    assert ip.run_line_magic("edgelab", "frobnicate") is None
    err = capsys.readouterr().err
    assert "invalid choice: 'frobnicate'" in err and "workbench" in err and "Traceback" not in err
    assert ip.run_line_magic("edgelab", 'compare "unclosed') is None
    assert "%edgelab: No closing quotation" in capsys.readouterr().err


def test_edgelab_error_is_one_line(ip, workdir, capsys):
    assert ip.run_line_magic("edgelab", "compare missing.onnx") is None
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0
    assert err.startswith("edgelab: error: model file not found: missing.onnx")


def test_inspect_returns_facts_shown_as_cli_text(ip, workdir):
    from IPython.lib.pretty import pretty

    info = ip.run_line_magic("edgelab", "inspect tiny.onnx")
    assert isinstance(info, dict) and info
    from edgelab.inspect import format_inspect, inspect_model

    assert pretty(info) == format_inspect(inspect_model("tiny.onnx"))
    assert not hasattr(ip.run_line_magic("edgelab", "inspect tiny.onnx --json"), "text")


def test_view_outside_jupyter_says_what_is_missing(ip, workdir, monkeypatch):
    monkeypatch.delenv("JPY_PARENT_PID", raising=False)
    v = ip.run_line_magic("edgelab", "view tiny.onnx")
    assert "not a kernel started by a Jupyter server" in repr(v) and "netron" in repr(v)
    assert "<iframe" not in v._repr_html_()


def test_workbench_and_listing_subcommands(ip, workdir):
    from edgelab.widgets import Workbench

    wb = ip.run_line_magic("edgelab", "workbench tiny.onnx --recipes fp32,int8-static --quick")
    assert isinstance(wb, Workbench)
    assert wb.model_picker.label == "passed in: tiny.onnx"
    assert [k for k, b in wb.recipe_boxes.items() if b.value] == ["fp32", "int8-static"]
    assert wb.measure.min_runs == 30
    assert "int8-static" in ip.run_line_magic("edgelab", "recipes")
    assert "int8-static" in ip.run_line_magic("edgelab", "passes")
    assert ip.run_line_magic("edgelab", "history") == []
