"""Worker process entry point: `python -m edgelab.runners.worker JOB.json`.

Loads variants, runs them and writes a JSON result file; the caller (a notebook kernel or the CLI)
survives whatever a backend does here. Three jobs:
  evaluate — one variant per process: outputs over the dataset, peak memory (ru_maxrss delta), load time;
  latency  — all variants in one process, timed in interleaved, randomly permuted blocks;
  profile  — per-node kernel times + runtime graph, or per-layer errors (edgelab.explain).
Progress goes to stdout as lines `@progress {json}`.
"""
from __future__ import annotations

import json
import os
import random
import resource
import sys
import time


def _progress(**kw):
    print("@progress " + json.dumps(kw), flush=True)


def _fault(variant_id: str, stage: str):
    """Test hook: EDGELAB_FAULT=kind:variant[:stage] makes this worker crash/hang/blow up on purpose."""
    spec = os.environ.get("EDGELAB_FAULT", "")
    if not spec:
        return
    kind, _, rest = spec.partition(":")
    target, _, at = rest.partition(":")
    if target != variant_id or (at and at != stage):
        return
    if kind == "segfault":
        import ctypes

        ctypes.string_at(0)
    elif kind == "hang":
        time.sleep(10**6)
    elif kind == "oom":
        hog = []
        while True:
            hog.append(b"\1" * (256 * 2**20))  # touched pages, so RSS really grows
    elif kind == "raise":
        raise RuntimeError("injected failure")


def _loader(runtime: str):
    if runtime == "tvm":
        from . import tvm

        return tvm.load
    from . import ort

    return ort.load


def _feeds(inputs: dict, start: int, n: int) -> dict:
    import numpy as np

    total = len(next(iter(inputs.values())))
    idx = (np.arange(n) + start) % total
    return {k: np.ascontiguousarray(v[idx]) for k, v in inputs.items()}


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> int:
    """Reset the kernel's peak-RSS counter to the current RSS (Linux clear_refs); return the baseline bytes.

    Falls back to ru_maxrss (a process-lifetime high-water mark) where /proc is not available.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_kib("VmRSS") * 1024
    except (OSError, TypeError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _peak_bytes() -> int:
    hwm = _status_kib("VmHWM")
    return hwm * 1024 if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def evaluate(job: dict) -> dict:
    import numpy as np

    from ..data import Dataset

    v = job["variants"][0]
    inputs = Dataset.load_inputs_npz(job["data"])
    load = _loader(v["runtime"])
    baseline = _reset_peak()
    t0 = time.perf_counter()
    _fault(v["id"], "load")
    run, info = load(v["path"], job["threads"])
    create_ms = (time.perf_counter() - t0) * 1e3
    n = len(next(iter(inputs.values())))
    bs = job["eval_batch"]
    outs = []
    t0 = time.perf_counter()
    for start in range(0, n, bs):
        _fault(v["id"], "run")
        chunk = {k: a[start:start + bs] for k, a in inputs.items()}
        outs.append(np.asarray(run(chunk)[0]))
    eval_s = time.perf_counter() - t0
    out_path = job["out"] + ".npy"
    np.save(out_path, np.concatenate(outs))
    peak = max(0, _peak_bytes() - baseline)  # before profiling, which loads the library a second time
    res = {"create_ms": round(create_ms, 2), "eval_s": round(eval_s, 3), "outputs": out_path,
           "peak_memory_bytes": peak, "baseline_rss_bytes": baseline, "runtime_info": info}
    if v["runtime"] == "tvm":  # time per compiled kernel (VM instrument hook), kept in the report
        from . import tvm as tvm_runner

        res["op_profile"] = tvm_runner.profile(v["path"], _feeds(inputs, 0, 1), runs=10,
                                               threads=job["threads"])[:25]
    return res


def latency(job: dict) -> dict:
    from ..data import Dataset

    cfg = job["cfg"]
    rng = random.Random(cfg.get("seed", 0))
    inputs = Dataset.load_inputs_npz(job["data"])
    runs = {}
    for i, v in enumerate(job["variants"]):
        _progress(stage="load", variant=v["id"], i=i, n=len(job["variants"]))
        _fault(v["id"], "load")
        runs[v["id"]] = _loader(v["runtime"])(v["path"], job["threads"])[0]
    result = {}
    for batch in job["batch_sizes"]:
        feeds = _feeds(inputs, 0, batch)
        per_call = {}
        for vid, run in runs.items():  # warm-up: at most warmup_runs calls or ~1 s per variant
            _fault(vid, "latency")
            ts, t_end = [], time.perf_counter() + cfg.get("warmup_max_s", 1.0)
            for _ in range(cfg["warmup_runs"]):
                t0 = time.perf_counter()
                run(feeds)
                ts.append(time.perf_counter() - t0)
                if t0 > t_end:
                    break
            per_call[vid] = sorted(ts)[len(ts) // 2]
        # a block is ~block_time_s of calls (1 call for slow variants), so a round stays short and every
        # variant is timed in every round, whatever its speed
        size = {vid: max(1, min(cfg["block_runs"], int(cfg.get("block_time_s", 0.05) / max(t, 1e-6))))
                for vid, t in per_call.items()}
        times = {vid: [] for vid in runs}
        blocks = {vid: [] for vid in runs}
        min_runs = cfg["min_runs"] if batch == 1 else max(5, cfg["min_runs"] // 5)
        t_start = time.perf_counter()
        order = list(runs)
        rounds = 0
        while True:
            rng.shuffle(order)
            for vid in order:
                block = []
                for _ in range(size[vid]):
                    t0 = time.perf_counter()
                    runs[vid](feeds)
                    block.append(time.perf_counter() - t0)
                times[vid].extend(block)
                block.sort()
                blocks[vid].append(block[len(block) // 2])
            rounds += 1
            elapsed = time.perf_counter() - t_start
            _progress(stage="latency", batch=batch, rounds=rounds, elapsed_s=round(elapsed, 2))
            enough = min(len(t) for t in times.values()) >= min_runs and rounds >= 5
            if elapsed >= cfg["min_time_s"] and (enough or elapsed >= cfg["max_time_s"]):
                break
        result[str(batch)] = {"times": times, "blocks": blocks, "rounds": rounds}
    return {"latency": result, "loadavg": os.getloadavg()}


def profile(job: dict) -> dict:
    from ..explain.profile import worker_main

    return worker_main(job)


def main(argv=None) -> int:
    argv = argv if argv is not None else sys.argv[1:]
    with open(argv[0]) as f:
        job = json.load(f)
    os.environ.setdefault("TVM_NUM_THREADS", str(job["threads"]))
    limit = job.get("cfg", {}).get("memory_limit_bytes")
    if limit:
        resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))
    try:
        res = {"evaluate": evaluate, "profile": profile}.get(job["mode"], latency)(job)
        res["ok"] = True
    except Exception as e:  # reported to the caller as this variant's error
        res = {"ok": False, "error": f"{type(e).__name__}: {str(e).strip().splitlines()[0][:400] if str(e).strip() else ''}"}
    tmp = job["out"] + ".tmp"
    with open(tmp, "w") as f:
        json.dump(res, f)
    os.replace(tmp, job["out"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
