"""compare(): variants built, measured in workers, accuracy/agreement right, faults isolated, runs stored."""
import json
import threading

import numpy as np
import onnxruntime as ort
import pytest

import edgelab as el

CONTRACT_VARIANT_KEYS = {"id", "recipe", "runtime", "size_bytes", "accuracy", "agreement", "latency_ms",
                         "peak_memory_bytes", "estimates", "savings", "error"}


def test_compare_report_follows_the_contract(cnn, cnn_npz, quick):
    m = el.load(cnn)
    ds = el.Dataset.from_npz(cnn_npz, m)
    r = el.compare(m, data=ds, recipes=["fp32", "ort-opt", "int8-static", "int8-dynamic"], measure=quick)
    d = r.to_json()
    assert set(d["model"]) >= {"name", "sha256", "params", "macs", "size_bytes"}
    assert set(d["host"]) >= {"cpu", "cores", "onnxruntime", "tvm"} and d["host"]["cores"] >= 1
    assert [v["id"] for v in d["variants"]] == ["fp32", "ort-opt", "int8-static", "int8-dynamic"]
    for v in d["variants"]:
        assert CONTRACT_VARIANT_KEYS <= set(v), v["id"]
        assert v["error"] is None, v["error"]
        assert set(v["latency_ms"]) >= {"p50", "p90", "p99", "mean", "stdev", "runs"}
        assert v["latency_ms"]["runs"] >= quick.min_runs and v["latency_ms"]["p50"] > 0
        assert set(v["latency_ms_by_batch"]) == {"1", "4"}
        assert set(v["agreement"]) >= {"top1", "max_abs_diff", "cosine"}
        assert v["peak_memory_bytes"] > 0 and v["measured_on"]
    fp32 = r.variant("fp32")
    # labels are the fp32 model's argmax, so fp32 accuracy is exactly 1 and agreement perfect
    assert fp32["accuracy"] == {"metric": "top1", "value": 1.0, "higher_is_better": True, "delta": 0.0}
    assert fp32["agreement"]["max_abs_diff"] == 0.0 and fp32["speedup"]["median"] == 1.0
    # the variant's accuracy equals what onnxruntime gives in this process on the same data
    path = el.build(m, "int8-dynamic").path
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    direct = (sess.run(None, {"x": ds.inputs["x"]})[0].argmax(1) == ds.labels).mean()
    assert r.variant("int8-dynamic")["accuracy"]["value"] == pytest.approx(direct)
    assert r.variant("int8-dynamic")["accuracy"]["delta"] == pytest.approx(direct - 1.0)
    # stored and re-read identically
    again = el.Store().get_report(r.run_id)
    assert again.to_json()["variants"] == json.loads(json.dumps(d["variants"]))
    assert r.best(max_accuracy_drop=1.0)["id"] in r.ids
    df = r.to_dataframe()
    assert list(df.index) == r.ids and "p50_ms (measured)" in df.columns


def test_fp32_is_always_the_reference(cnn, quick):
    r = el.compare(cnn, recipes=["int8-dynamic"], measure=quick)
    assert r.ids == ["fp32", "int8-dynamic"]
    assert r.data["synthetic"] and r.variant("int8-dynamic")["accuracy"] is None  # no labels: agreement only
    assert r.variant("int8-dynamic")["agreement"]["cosine"] > 0.9


def test_static_without_data_fails_only_that_variant(cnn, quick):
    r = el.compare(cnn, recipes=["fp32", "fp16"], measure=quick)
    assert r.variant("fp16")["error"] is None
    r2 = el.compare(el.load(cnn), data=None, recipes=["fp32", "int8-static"], measure=quick)
    # synthetic inputs are used for calibration when no data is given: it builds and runs
    assert r2.variant("int8-static")["error"] is None


@pytest.mark.parametrize("fault,needle", [
    ("segfault", "segmentation fault"),
    ("oom", "killed|memory|MemoryError"),
    ("raise", "injected failure"),
])
def test_a_crashing_variant_does_not_take_the_run_down(cnn, quick, monkeypatch, fault, needle):
    import dataclasses

    monkeypatch.setenv("EDGELAB_FAULT", f"{fault}:fp16:run")
    # cap each worker's address space so the runaway allocation fails fast instead of swapping the machine
    cfg = dataclasses.replace(quick, memory_limit_bytes=3 * 2**30)
    r = el.compare(cnn, recipes=["fp32", "fp16", "int8-dynamic"], measure=cfg)
    assert r.variant("fp16")["error"] and __import__("re").search(needle, r.variant("fp16")["error"])
    assert r.variant("fp32")["error"] is None and r.variant("int8-dynamic")["latency_ms"]["p50"] > 0


def test_hang_is_killed_by_timeout(cnn, quick, monkeypatch):
    import dataclasses

    monkeypatch.setenv("EDGELAB_FAULT", "hang:int8-dynamic:run")
    cfg = dataclasses.replace(quick, timeout_s=5)
    r = el.compare(cnn, recipes=["fp32", "int8-dynamic"], measure=cfg)
    assert "timed out after 5 s" in r.variant("int8-dynamic")["error"]
    assert r.variant("fp32")["latency_ms"]["p50"] > 0


def test_crash_in_shared_latency_worker_names_the_culprit(cnn, quick, monkeypatch):
    monkeypatch.setenv("EDGELAB_FAULT", "segfault:fp16:latency")
    r = el.compare(cnn, recipes=["fp32", "fp16", "int8-dynamic"], measure=quick)
    assert "segmentation fault" in r.variant("fp16")["error"]
    assert r.variant("int8-dynamic")["error"] is None and r.variant("int8-dynamic")["latency_ms"]["p50"] > 0


def test_cancel_keeps_what_finished(cnn, quick):
    cancel = threading.Event()
    seen = []

    def progress(e):
        seen.append(e)
        if e.get("stage") == "evaluate" and e.get("i") == 1:
            cancel.set()

    r = el.compare(cnn, recipes=["fp32", "fp16", "int8-dynamic"], measure=quick, progress=progress, cancel=cancel)
    assert r.status == "interrupted"
    assert r.variant("int8-dynamic")["error"].startswith("not measured")
    assert el.Store().get_report(r.run_id).status == "interrupted"
    assert any(e["stage"] == "build" for e in seen)


def test_duplicate_or_empty_recipes(cnn):
    with pytest.raises(el.ConfigError, match="unique"):
        el.compare(cnn, recipes=["fp16", "fp16"])
    with pytest.raises(el.ConfigError, match="valid recipes"):
        el.compare(cnn, recipes=["nope"])


def test_wrong_data_shape_is_a_data_error(cnn):
    with pytest.raises(el.DataError):
        el.compare(cnn, data=np.zeros((3, 1, 8, 8), np.float32), recipes=["fp32"])


def test_unrunnable_operator_is_reported(tmp_path, quick):
    import onnx
    from onnx import TensorProto as T
    from onnx import helper as h

    # a custom-domain op: valid ONNX, but onnxruntime has no kernel for it
    g = h.make_graph([h.make_node("Frobnicate", ["x"], ["y"], domain="com.example")], "g",
                     [h.make_tensor_value_info("x", T.FLOAT, [1, 4])], [h.make_tensor_value_info("y", T.FLOAT, [1, 4])])
    p = tmp_path / "custom.onnx"
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 17), h.make_opsetid("com.example", 1)]), p)
    with pytest.raises(el.WorkerError, match="fp32 reference could not run.*Frobnicate"):
        el.compare(p, recipes=["fp32"], measure=quick)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["light_squeezenet", "light_shufflenet"])
def test_arbitrary_image_classifier_from_the_onnx_wheel(name, quick):
    """Old-IR models (weights listed as inputs, opset 9, fixed batch 1) run through every default recipe."""
    import os

    import onnx

    path = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light", f"{name}.onnx")
    m = el.load(path)
    assert len(m.inputs) == 1 and m.inputs[0].shape == (1, 3, 224, 224) and m.macs > 1e7
    r = el.compare(m, recipes=["fp32", "ort-opt", "int8-dynamic", "int8-static", "fp16"], measure=quick)
    assert [v["error"] for v in r.variants] == [None] * 5
    assert any("fixed at 1" in w for w in r.warnings)
    assert set(r.variant("int8-static")["latency_ms_by_batch"]) == {"1"}


def test_reuse_returns_the_stored_run_only_for_identical_inputs(cnn, cnn_npz, quick):
    import dataclasses

    m = el.load(cnn)
    ds = el.Dataset.from_npz(cnn_npz, m)
    first = el.compare(m, data=ds, recipes=["fp32", "fp16"], measure=quick)
    again = el.compare(m, data=ds, recipes=["fp32", "fp16"], measure=quick, reuse=True)
    assert again.run_id == first.run_id and any("reused the measurements" in w for w in again.warnings)
    assert again.to_json()["variants"] == first.to_json()["variants"]
    # anything different is measured anew
    other_data = el.compare(m, data=ds.take(20), recipes=["fp32", "fp16"], measure=quick, reuse=True)
    other_cfg = el.compare(m, data=ds, recipes=["fp32", "fp16"], measure=dataclasses.replace(quick, threads=1),
                           reuse=True)
    other_recipe = el.compare(m, data=ds, recipes=["fp32", "fp16", "ort-opt"], measure=quick, reuse=True)
    assert len({first.run_id, other_data.run_id, other_cfg.run_id, other_recipe.run_id}) == 4


def test_reuse_keeps_projections_current_when_a_profile_changes(cnn, quick, tmp_path):
    """Reusing a stored run is only right while its projections are: editing a user profile re-measures."""
    import json

    board = {"id": "edited-board", "name": "Edited board", "clusters": [{"uarch": "cortex-a72", "count": 2, "ghz": 1.0}],
             "mem_bandwidth_gbs": 4.0, "ram_bytes": 2**30}
    f = tmp_path / "board.json"
    f.write_text(json.dumps(board))
    m = el.load(cnn)
    first = el.compare(m, recipes=["fp32"], profiles=[str(f)], measure=quick)
    same = el.compare(m, recipes=["fp32"], profiles=[str(f)], measure=quick, reuse=True)
    assert same.run_id == first.run_id
    f.write_text(json.dumps(dict(board, clusters=[{"uarch": "cortex-a72", "count": 2, "ghz": 2.0}])))
    edited = el.compare(m, recipes=["fp32"], profiles=[str(f)], measure=quick, reuse=True)
    assert edited.run_id != first.run_id
    old, new = (r.variant("fp32")["estimates"]["edited-board"]["latency_ms"] for r in (first, edited))
    assert new < old  # twice the clock: the projection follows the edited profile
