"""tvm-compile / tvm-tune passes, the TVM runner and their errors, on tiny ONNX models."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

import models
from tests.tvm.conftest import cache_entries
from edgelab import model as M
from edgelab import variant
from edgelab.errors import ConfigError
from edgelab.passes import tvm as tvm_passes

pytestmark = pytest.mark.tvm


def test_recipes_and_passes_listed():
    from edgelab.passes import all_passes

    rs = variant.recipes()
    assert rs["tvm"].runtime == "tvm" and rs["tvm-tune"].runtime == "tvm"
    ps = all_passes()
    assert ps["tvm-compile"].produces == "tvm" and ps["tvm-tune"].backend == "tvm"
    assert {o["name"] for o in ps["tvm-tune"].options()} >= {"trials", "minutes", "batch"}


def test_unsupported_ops_fast_and_named(tmp_path, tiny):
    from edgelab.inspect import runtime_support
    from edgelab.runners import tvm as rt

    t0 = time.perf_counter()
    assert rt.unsupported_ops(M.load(tiny)) == []
    assert rt.unsupported_ops(models.with_op(tmp_path / "dft.onnx", "DFT")) == ["DFT"]
    assert rt.unsupported_ops(models.with_op(tmp_path / "c.onnx", "MyOp", "com.example")) == ["com.example.MyOp"]
    assert time.perf_counter() - t0 < 1.0  # answered from the shipped list: no `import tvm`
    sup = runtime_support(M.load(models.with_op(tmp_path / "loop.onnx", "DFT")))
    assert sup["tvm"] == {"ok": False, "unsupported": ["DFT"], "note": "Relax ONNX frontend"}


def test_compile_keeps_dynamic_batch_and_matches_onnxruntime(ws, tiny):
    from edgelab.runners import tvm as rt

    v = variant.build(M.load(tiny), "tvm")
    assert v.runtime == "tvm" and v.path.endswith("model.so")
    meta = json.loads(Path(v.path).with_suffix(".json").read_text())
    assert meta["static_batch"] is None and meta["target"]["mcpu"] not in ("native", "generic")
    run, info = rt.load(v.path, 2)
    assert info["runtime"] == "tvm" and info["threads"] >= 1
    x = np.random.default_rng(1).standard_normal((33, 1, 16, 16)).astype(np.float32)
    for n in (1, 32, 33):
        out = run({"input": x[:n]})[0]
        assert out.shape == (n, 10)
        np.testing.assert_allclose(out, models.ort_outputs(tiny, x[:n]), atol=1e-4)
    rows = rt.profile(v.path, {"input": x[:1]}, runs=5)
    names = {r["name"] for r in rows}
    assert any("conv2d" in n for n in names) and abs(sum(r["pct"] for r in rows) - 100) < 1


def test_unsupported_op_is_a_config_error_and_nothing_cached(ws, tmp_path):
    m = M.load(models.with_op(tmp_path / "dft.onnx", "DFT"))
    with pytest.raises(ConfigError, match=r"cannot convert DFT.*onnxruntime recipe"):
        variant.build(m, "tvm")
    assert cache_entries(ws) == [] and not list((ws / "cache").glob(".tmp-*"))


def test_dynamic_spatial_dims_say_how_to_fix(ws, tmp_path):
    with pytest.raises(ConfigError, match=r"dynamic dimensions.*fixed shapes"):
        variant.build(M.load(models.dynamic_hw(tmp_path / "dyn.onnx")), "tvm")


def test_bad_mcpu_is_refused_not_silently_generic(ws, tiny):
    bogus = tvm_passes.BoardTarget("bogus", {"kind": "llvm", "mcpu": "bogus-cpu"}, 2)
    with pytest.raises(ConfigError, match="bogus-cpu.*not a CPU LLVM knows"):
        variant.build(M.load(tiny), "tvm", target=bogus)


def test_unknown_profile_lists_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown profile 'pi9'.*rpi4"):
        tvm_passes.profile("pi9")


def test_missing_cross_toolchain_names_the_package(ws, tiny, monkeypatch):
    monkeypatch.setattr(tvm_passes.shutil, "which", lambda cmd: None)
    with pytest.raises(ConfigError, match="apt-get install g\\+\\+-aarch64-linux-gnu"):
        variant.build(M.load(tiny), "tvm", target=tvm_passes.profile("rpi5"))


def elf_header(path) -> tuple[int, int]:
    """(ELF class: 1 = 32-bit, 2 = 64-bit; e_machine: 0xB7 aarch64, 0x28 ARM, 0x3E x86-64)."""
    raw = Path(path).read_bytes()[:20]
    assert raw[:4] == b"\x7fELF"
    return raw[4], int.from_bytes(raw[18:20], "little")


@pytest.mark.parametrize("board,elf", [("rpi4", (2, 0xB7)), ("rpi5", (2, 0xB7)), ("armv7", (1, 0x28))])
def test_cross_compile_elf(ws, tiny, board, elf):
    import shutil

    rt = tvm_passes.resolve_target(tvm_passes.profile(board))
    if shutil.which(rt.cross[0]) is None:
        pytest.skip(f"{rt.cross[0]} missing: apt-get install {rt.cross[1]}")
    v = variant.build(M.load(tiny), "tvm", target=tvm_passes.profile(board))
    assert elf_header(v.path) == elf
    meta = json.loads(Path(v.path).with_suffix(".json").read_text())
    assert meta["target"]["mcpu"] == tvm_passes.BOARDS[board][0]["mcpu"]
    host = variant.build(M.load(tiny), "tvm")
    assert elf_header(host.path) == (2, 0x3E) and host.path != v.path  # keyed by target


def test_commit_db_drops_torn_lines(tmp_path):
    work, final = tmp_path / "work", tmp_path / "cache" / "db"
    work.mkdir()
    (work / "database_workload.json").write_text('["a"]\n["b"]\n["c", {"tor')
    (work / "database_tuning_record.json").write_text('[0, 1]\n[1, 2]\n[2, 3]\n[1, {"x"')
    assert tvm_passes._commit_db(work, final) == 2
    assert (final / "database_workload.json").read_text() == '["a"]\n["b"]\n'
    assert (final / "database_tuning_record.json").read_text() == "[0, 1]\n[1, 2]\n"
    assert sorted(p.name for p in final.parent.iterdir()) == ["db"]


@pytest.mark.slow
def test_tune_cancel_resume_and_reuse(ws, tmp_path):
    """Cancelled mid-tuning: records kept, nothing half-built; the next run resumes; a re-build reuses the DB."""
    import shutil
    import threading

    import tempfile

    leftovers = lambda: set(Path(tempfile.gettempdir()).glob("*/tvm_tmp_mod.tar"))  # noqa: E731
    before = leftovers()
    path = models.tiny_cnn(tmp_path / "t.onnx", channels=4, size=8)
    m = M.load(path)
    cancel = threading.Event()
    msgs: list[str] = []

    def progress(msg):
        msgs.append(msg)
        if msg.startswith("trial "):
            cancel.set()

    recipe = "tvm-tune:trials=6,minutes=5"
    with pytest.raises(KeyboardInterrupt):
        variant.build(m, recipe, progress=progress, cancel=cancel)
    assert any(x.startswith("trial ") and "best so far" in x for x in msgs), msgs
    assert cache_entries(ws) == []
    dbs = list((ws / "cache" / "tune").iterdir())
    assert len(dbs) == 1 and not dbs[0].name.startswith(".tmp")
    kept = sum(1 for _ in (dbs[0] / "database_tuning_record.json").open())
    assert kept >= 1 and any("records kept" in x for x in msgs)

    msgs.clear()
    v = variant.build(m, recipe, progress=msgs.append)
    assert any(f"reusing {kept} tuning records" in x for x in msgs), msgs
    meta = json.loads(Path(v.path).with_suffix(".json").read_text())
    assert meta["tuned"] and meta["static_batch"] == 1 and meta["tuning_records"] >= 6
    from edgelab.runners import tvm as rt

    run, _ = rt.load(v.path, 2)
    x = np.random.default_rng(2).standard_normal((3, 1, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(run({"input": x})[0], models.ort_outputs(path, x), atol=1e-4)  # 3 calls of batch 1

    shutil.rmtree(Path(v.path).parent.parent)  # drop the variant, keep the DB: a cached re-tune
    msgs.clear()
    t0 = time.perf_counter()
    variant.build(m, recipe, progress=msgs.append)
    assert not any(x.startswith("tuning ") for x in msgs) and time.perf_counter() - t0 < 120
    assert leftovers() - before == set()  # TVM's candidate exports went to the job's folder, now removed


@pytest.mark.slow
def test_time_budget_compiles_with_records_so_far(ws, tmp_path):
    m = M.load(models.tiny_cnn(tmp_path / "t.onnx", channels=4, size=8))
    msgs: list[str] = []
    v = variant.build(m, "tvm-tune:trials=500,minutes=0.05", progress=msgs.append)
    assert any("time budget of 0.05 min reached" in x for x in msgs)
    assert Path(v.path).exists() and json.loads(Path(v.path).with_suffix(".json").read_text())["tuned"]
    import shutil

    shutil.rmtree(Path(v.path).parent.parent)  # same budget again: that budget was spent, reuse without search
    msgs.clear()
    variant.build(m, "tvm-tune:trials=500,minutes=0.05", progress=msgs.append)
    assert any("reusing the tuning database" in x for x in msgs) and not any("time budget" in x for x in msgs)


def test_catalog_host_profile_means_this_cpu_and_cross_tuning_is_refused(ws, tiny):
    from edgelab import profiles

    host = profiles.get("host") if hasattr(profiles, "get") else None
    assert tvm_passes.resolve_target(host).is_host  # detected mcpu, never a generic build
    with pytest.raises(ConfigError, match="use the `tvm` recipe for rpi5"):
        variant.build(M.load(tiny), "tvm-tune:trials=2", target=tvm_passes.profile("rpi5"))
