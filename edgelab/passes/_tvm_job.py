"""Child process doing the TVM work of a pass: `python -m edgelab.passes._tvm_job JOB.json`.

Modes: `compile` (ONNX → Relax with a symbolic batch → tvm.compile → model.so) and `tune` (static
shapes → MetaSchedule with an in-process builder, records in `db_dir` → apply → compile). Candidates are
measured here (LocalRunner) or, with JOB["device"], on a fleet device over TVM RPC (RPCRunner). Progress
goes to stdout as `@progress {"message": ...}`; the result (or a config/pass/device error) to JOB["out"].
Facts behind the choices: shared/notes/tvm.md.
"""
from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path


class JobConfigError(Exception):
    """The user's model or target is the problem (reported as ConfigError)."""


class DeviceLost(Exception):
    """The tuning device stopped taking measurement sessions (reported as RuntimeBackendError)."""


def _progress(msg: str, **kw):
    print("@progress " + json.dumps(dict(kw, message=msg)), flush=True)


def resolve(spec: dict) -> dict:
    """The concrete target dict: the host's CPU name (never 'native', which silently means generic)."""
    from tvm.target import codegen

    if spec["target"] is None:
        return {"kind": "llvm", "mcpu": codegen.llvm_get_system_cpu(), "num-cores": int(spec["cores"])}
    t = dict(spec["target"])
    cpu, triple = t.get("mcpu"), t.get("mtriple") or codegen.llvm_get_system_triple()
    if cpu == "native" or (cpu and not codegen.llvm_is_valid_cpu(cpu, triple)):
        raise JobConfigError(f"target of {spec['name']!r}: mcpu {cpu!r} is not a CPU LLVM knows for {triple} "
                             "(TVM would silently compile generic code); use a name such as cortex-a72, "
                             "cortex-a76, znver4 or x86-64-v3")
    return t


def import_onnx(path: str, static_batch: int | None):
    """ONNX → Relax IRModule (weights as constants) + input specs; clear errors for unsupported/dynamic models."""
    import onnx
    import tvm
    from tvm.relax.frontend.onnx import from_onnx

    from ..runners.tvm import unsupported_in_proto

    model = onnx.load(path)
    bad = unsupported_in_proto(model)
    if bad:
        raise JobConfigError(f"TVM's ONNX frontend cannot convert {', '.join(bad)}; use an onnxruntime recipe "
                             "for this model, or re-export it without these ops (e.g. unrolled loops)")
    inits = {i.name for i in model.graph.initializer}
    specs, shape_dict = [], {}
    for inp in model.graph.input:
        if inp.name in inits:
            continue
        tt = inp.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tt.shape.dim]
        dyn = [i for i, d in enumerate(dims) if not isinstance(d, int) or d <= 0]
        if any(i > 0 for i in dyn):
            raise JobConfigError(f"input {inp.name!r} has dynamic dimensions {dims}; TVM needs every dimension "
                                 "but the batch fixed: re-export the model with fixed shapes (torch.onnx.export "
                                 "with dynamic_axes only for the batch), or fix them with "
                                 "`python -m onnxruntime.tools.make_dynamic_shape_fixed`")
        if static_batch:
            dims = [static_batch] + dims[1:] if dims else dims
            shape_dict[inp.name] = dims
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type).name
        specs.append({"name": inp.name, "shape": dims, "dtype": dtype})
    try:
        mod = from_onnx(model, shape_dict=shape_dict or None, keep_params_in_input=False)
    except tvm.error.OpNotImplemented as e:
        raise JobConfigError(f"{str(e).strip().splitlines()[-1]}; use an onnxruntime recipe for this model") from e
    outs = [{"name": o.name, "shape": [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                                       for d in o.type.tensor_type.shape.dim]} for o in model.graph.output]
    return mod, specs, outs


def _in_process_builder(n_tasks: int, spec: dict | None = None, folder: Path | None = None):
    """MetaSchedule builder that builds in this process (the stock LocalBuilder times out here, notes §1).

    With `spec` (a device tune) each candidate is linked into a shared library for that target (cross-linked
    for ARM), which a device loads without a compiler, under `folder` (the pass removes it however tuning
    ends); else the stock .tar for the LocalRunner. It also
    reports progress: the scheduler measures a whole first round before any measure callback runs.
    """
    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.builder import BuilderResult, PyBuilder
    from tvm.s_tir.meta_schedule.builder.local_builder import default_build, default_export

    state = {"calls": 0, "t0": time.monotonic()}

    @derived_object
    class InProcessBuilder(PyBuilder):
        def build(self, build_inputs):
            state["calls"] += 1
            if state["calls"] <= n_tasks:
                _progress(f"searched kernel {state['calls']}/{n_tasks} ({time.monotonic() - state['t0']:.0f} s): "
                          f"building {len(build_inputs)} candidates")
            out = []
            for bi in build_inputs:
                try:
                    lib = default_build(bi.mod, bi.target, None)
                    out.append(BuilderResult(default_export(lib) if spec is None else
                                             _export_candidate(lib, spec, folder), None))
                except Exception as e:  # a bad candidate, not a bad run
                    out.append(BuilderResult(None, str(e)))
            return out

    return InProcessBuilder()


def _export_candidate(lib, spec: dict, folder: Path) -> str:
    folder.mkdir(exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="cand-", dir=folder)) / "cand.so"
    export(lib, path, spec)
    return str(path)


def _rpc_runner(device: dict):
    """MetaSchedule's RPCRunner on a fleet device, with two fixes: sessions come from edgelab's `connect`
    (a specific error instead of waiting forever for a key nobody serves), and each candidate has a time
    limit (the stock runner's process pool has none, so a device that froze mid-measurement hung tuning)."""
    from tvm.s_tir import meta_schedule as ms
    from tvm.support.popen_pool import PopenPoolExecutor

    t = float(device["timeout_s"])
    cfg = ms.runner.RPCConfig(device["host"], int(device["port"]), device["key"], session_timeout_sec=math.ceil(t))
    runner = ms.runner.RPCRunner(cfg, f_create_session=_create_session)
    runner.pool.shutdown(wait=False)
    runner.pool = PopenPoolExecutor(max_workers=1, timeout=2 * t + 10)  # connect + upload/load/measure
    return runner


def _create_session(cfg):
    """RPCRunner hook (runs in its pool worker, pickled by value from __main__: absolute imports only)."""
    from edgelab.runners.remote import Device, connect

    return connect(Device(cfg.tracker_host, int(cfg.tracker_port), cfg.tracker_key), float(cfg.session_timeout_sec))


def _device_watch(device: dict):
    """Measure callback: when every measurement of a round failed, ask the device; if it is gone, stop tuning."""
    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.measure_callback import PyMeasureCallback

    @derived_object
    class DeviceWatch(PyMeasureCallback):
        def apply(self, task_scheduler, task_id, measure_candidates, builder_results, runner_results):
            if not runner_results or any(r.error_msg is None for r in runner_results):
                return
            from edgelab.runners.remote import Device, connect

            try:
                connect(Device(device["host"], int(device["port"]), device["key"]), float(device["timeout_s"]))
            except Exception as e:
                raise DeviceLost(f"device {device['key']!r} was lost during tuning: {e}") from e

    return DeviceWatch()


def _progress_callback(tasks, weights, total: int):
    """Measure callback printing trials done and the best latency so far (sum over tuned tasks)."""
    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.measure_callback import PyMeasureCallback

    best: dict[int, float] = {}
    state = {"done": 0, "t0": time.monotonic()}

    @derived_object
    class Progress(PyMeasureCallback):
        def apply(self, task_scheduler, task_id, measure_candidates, builder_results, runner_results):
            for r in runner_results:
                secs = [float(getattr(s, "value", s)) for s in (r.run_secs or [])]
                if r.error_msg is None and secs:
                    best[task_id] = min(best.get(task_id, math.inf), sum(secs) / len(secs))
            if not runner_results:
                return
            state["done"] += len(runner_results)
            est = sum(weights[t] * s for t, s in best.items()) * 1e3
            _progress(f"trial {state['done']}/{total} ({time.monotonic() - state['t0']:.0f} s): best so far "
                      f"{est:.3f} ms summed over {len(best)}/{len(tasks)} tuned kernels",
                      trials=state["done"], total=total, best_ms=round(est, 4), tasks_tuned=len(best))

    return Progress()


def _pre_tuning(mod, tgt, prepack: bool, layout: str | None = None):
    import tvm
    from tvm import relax

    seq = [relax.transform.DecomposeOpsForInference(), relax.transform.CanonicalizeBindings()]
    if layout == "NHWC":  # channels-last convolutions (vectorize over channels)
        seq.append(relax.transform.ConvertLayout({"relax.nn.conv2d": ["NHWC", "OHWI"]}))
    seq.append(relax.get_pipeline("zero"))
    if prepack:
        seq.append(relax.transform.AttachAttrLayoutFreeBuffers())
    with tgt:
        return tvm.transform.Sequential(seq)(mod)


def tune(mod, tgt, db_dir: str, trials: int, prepack: bool, search: dict | None = None, *, device: dict | None = None,
         spec: dict | None = None):
    """MetaSchedule over the fused kernels, `trials` more records into db_dir; returns the tuned module.

    With `device` ({host, port, key, timeout_s}) candidates are built for `spec` here and measured there."""
    import tvm
    from tvm import relax
    from tvm.s_tir import meta_schedule as ms

    mod = _pre_tuning(mod, tgt, prepack, (search or {}).get("layout"))
    if trials > 0:
        extracted = ms.relax_integration.extract_tasks(mod, tgt)
        # spread the budget: the default (per-task = global) spends everything on the first task (notes §1);
        # up to 3x the even share per kernel lets the gradient scheduler favour the heavy ones
        per_task = max(1, math.ceil(3 * trials / len(extracted)))
        # a small evolutionary search (population 64, 2 genetic iterations): the default (512) spent 20-140 s per
        # conv kernel here before building anything; small rounds of 8 keep records flowing into the database
        search = dict(search or {})
        pop = int(search.get("population", 64))
        per_iter = int(search.get("per_iter", max(1, min(math.ceil(trials / len(extracted)), 8))))
        strategy = ms.search_strategy.EvolutionarySearch(population_size=pop, init_min_unmeasured=min(50, pop // 2),
                                                         genetic_num_iters=int(search.get("genetic_iters", 2)))
        contexts, weights = ms.relax_integration.extracted_tasks_to_tune_contexts(
            extracted, work_dir=db_dir, strategy=strategy)
        _progress(f"tuning {len(contexts)} kernels, {trials} trials (at most {per_task} per kernel)")
        callbacks = [*ms.measure_callback.MeasureCallback.create("default"),
                     _progress_callback(contexts, [float(w) for w in weights], trials)]
        if device:
            _progress(f"measuring candidates on device {device['key']!r} via tracker {device['host']}:{device['port']}")
            callbacks.append(_device_watch(device))
        ms.tune.tune_tasks(tasks=contexts, task_weights=weights, work_dir=db_dir, max_trials_global=trials,
                           max_trials_per_task=per_task, num_trials_per_iter=per_iter,
                           builder=_in_process_builder(len(contexts), spec if device else None,
                                                       Path(db_dir) / "candidates"),
                           runner=_rpc_runner(device) if device else ms.runner.LocalRunner(timeout_sec=60),
                           measure_callbacks=callbacks)
    db = ms.database.JSONDatabase(work_dir=db_dir)
    with tgt, db:
        mod = relax.transform.MetaScheduleApplyDatabase()(mod)
    if prepack:  # repack constant weights at compile time into the layouts the tuned kernels chose
        with tgt:
            mod = tvm.transform.Sequential([relax.transform.SplitLayoutRewritePreproc(),
                                            relax.transform.FoldConstant()])(mod)
    return mod


def export(ex, out: Path, spec: dict):
    if spec.get("cross"):
        from tvm.support import cc

        ex.export_library(str(out), fcompile=cc.cross_compiler(spec["cross"]))
    else:
        ex.export_library(str(out))


def _skip_gpu_intrinsics(target: dict):
    """Stub TVM's GPU/DSP tensor-intrinsic modules: importing them (which every MetaSchedule TuneContext and
    build does) took 46-64 s on a loaded 2-vCPU machine; CPU targets never use them (3 s instead)."""
    import types

    names = ["cuda", "rocm", "hexagon", "riscv_cpu", "metal"]
    if not str(target.get("mtriple", "x86_64")).startswith(("aarch64", "arm")):
        names.append("arm_cpu")
    for n in names:
        full = f"tvm.s_tir.tensor_intrin.{n}"
        sys.modules.setdefault(full, types.ModuleType(full))


def run(job: dict) -> dict:
    import tvm

    t0 = time.perf_counter()
    tgt_dict = resolve(job["target"])
    _skip_gpu_intrinsics(tgt_dict)
    tgt = tvm.target.Target(tgt_dict)
    mod, inputs, outputs = import_onnx(job["onnx"], job.get("static_batch"))
    n_records = 0
    if job["mode"] == "tune":
        db = Path(job["db_dir"])
        rec = db / "database_tuning_record.json"
        have = sum(1 for _ in rec.open()) if rec.exists() else 0
        todo = max(0, int(job["trials"]) - have) if job["trials"] else 0
        if have and job["trials"]:
            _progress(f"reusing {have} tuning records from the cache; {todo} more trials to run")
        mod = tune(mod, tgt, str(db), todo, bool(job.get("prepack")), job.get("search"), device=job.get("device"),
                   spec=job["target"])
        n_records = sum(1 for _ in rec.open()) if rec.exists() else 0
    _progress(f"compiling for {job['target']['name']} ({tgt_dict.get('mcpu', 'generic')})")
    ex = tvm.compile(mod, target=tgt)
    out = Path(job["out_dir"]) / "model.so"
    export(ex, out, job["target"])
    meta = {"target": tgt_dict, "profile": job["target"]["name"], "cross": job["target"].get("cross"),
            "static_batch": job.get("static_batch"), "inputs": inputs, "outputs": outputs,
            "tuned": job["mode"] == "tune", "tuning_records": n_records, "tvm": tvm.__version__,
            "tuned_on": (job.get("device") or {}).get("key", "this host") if job["mode"] == "tune" else None,
            "build_s": round(time.perf_counter() - t0, 2)}
    (Path(job["out_dir"]) / "model.json").write_text(json.dumps(meta, indent=1))
    return meta


def _lost_line(text: str) -> str:
    return next(line for line in text.splitlines() if "was lost during tuning" in line).strip()


def main(argv=None) -> int:
    argv = argv if argv is not None else sys.argv[1:]
    job = json.loads(Path(argv[0]).read_text())
    # TVM's own temporary files (MetaSchedule's candidate .tar exports, also in its builder/runner worker
    # processes, which inherit the environment) go to the job's folder, which the caller removes however the
    # job ends; in /tmp they were left behind by the thousand
    tmp_dir = Path(job["out"]).parent / "tmp"
    tmp_dir.mkdir(exist_ok=True)
    os.environ["TMPDIR"] = str(tmp_dir)
    tempfile.tempdir = None
    try:
        res = {"ok": True, "info": run(job)}
    except JobConfigError as e:
        res = {"ok": False, "kind": "config", "error": str(e)}
    except Exception as e:
        text = str(e).strip()
        if isinstance(e, DeviceLost) or "was lost during tuning" in text:  # also when raised inside a TVM callback
            res = {"ok": False, "kind": "device", "error": _lost_line(text)}
        else:  # reported as a PassError by the caller
            first = (text.splitlines() or [""])[0][:400]
            res = {"ok": False, "kind": "pass", "error": f"TVM {job['mode']} failed: {type(e).__name__}: {first}"}
    tmp = job["out"] + ".tmp"
    Path(tmp).write_text(json.dumps(res))
    os.replace(tmp, job["out"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
