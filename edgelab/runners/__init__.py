"""Run variants in isolated worker processes: outputs + peak memory per variant, latency interleaved.

A crash (segfault), hang (timeout) or memory blow-up in a backend becomes that variant's error; the
calling process — a notebook kernel or the CLI — never dies with it.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import WorkerError

_SIGNALS = {int(s): s.name for s in signal.Signals}


@dataclass(frozen=True)
class MeasureConfig:
    """How variants are measured. Batch 1 plus a larger batch by default; threads default to the cores."""

    batch_sizes: tuple = (1, 32)
    threads: int | None = None
    warmup_runs: int = 10
    min_runs: int = 100
    block_runs: int = 10  # most calls per variant in one interleaved block
    block_time_s: float = 0.05  # target length of a block (slow variants: one call per block)
    warmup_max_s: float = 1.0
    min_time_s: float = 1.0
    max_time_s: float = 15.0
    eval_batch: int = 32
    eval_samples: int | None = 512
    timeout_s: float = 300.0
    memory_limit_bytes: int | None = None  # address-space cap per worker (RLIMIT_AS); None = no cap
    seed: int = 0
    # runtime-specific loaders receive the threads; TVM reads TVM_NUM_THREADS from it too
    extra: dict = field(default_factory=dict)

    @property
    def n_threads(self) -> int:
        return self.threads or os.cpu_count() or 1

    def to_dict(self) -> dict:
        d = asdict(self)
        d["threads"] = self.n_threads
        return d


def spawn(module: str, job: dict, *, timeout_s: float, progress=None, cancel: threading.Event | None = None,
          env: dict | None = None, deadline: float | None = None, collect=None) -> dict | None:
    """Run `python -m module JOB.json` in a fresh process group and return the JSON it writes to job["out"].

    Progress lines (`@progress {json}`) go to `progress`; `cancel` kills it and raises KeyboardInterrupt;
    past `timeout_s` or on a crash it is killed and WorkerError says why; past `deadline` (a monotonic time:
    a budget running out, not a failure) it is killed and None is returned. `collect(result)` runs while the
    job's temporary folder (where it may have written files) still exists.
    """
    with tempfile.TemporaryDirectory(prefix="edgelab-job-") as tmp:
        job = dict(job, out=str(Path(tmp) / "result.json"))
        job_path = Path(tmp) / "job.json"
        job_path.write_text(json.dumps(job))
        proc = subprocess.Popen([sys.executable, "-m", module, str(job_path)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True, env=env or _worker_env())
        err_tail: list[str] = []
        readers = [threading.Thread(target=_pump, args=(proc.stdout, progress, None), daemon=True),
                   threading.Thread(target=_pump, args=(proc.stderr, None, err_tail), daemon=True)]
        for t in readers:
            t.start()
        limit = time.monotonic() + timeout_s
        try:
            while proc.poll() is None:
                if cancel is not None and cancel.is_set():
                    raise KeyboardInterrupt
                now = time.monotonic()
                if deadline is not None and now > deadline:
                    return None
                if now > limit:
                    raise WorkerError(f"timed out after {timeout_s:.0f} s (raise timeout_s if the model is just slow)")
                time.sleep(0.05)
        finally:
            _kill(proc)
            for t in readers:
                t.join(timeout=2)
        out = Path(job["out"])
        if not out.exists():  # written last, by rename: if it is there the job finished, whatever happened after
            raise WorkerError(_death_reason(proc.returncode, err_tail))
        res = json.loads(out.read_text())
        if collect is not None and res.get("ok"):
            collect(res)
        return res


def run_job(job: dict, *, timeout_s: float, progress=None, cancel: threading.Event | None = None) -> dict:
    """Run one measurement job in a worker process; return its result dict or raise WorkerError."""
    def load_outputs(res):  # the outputs file lives in the job's temp folder
        import numpy as np

        res["outputs_array"] = np.load(res["outputs"])

    res = spawn("edgelab.runners.worker", job, timeout_s=timeout_s, progress=progress, cancel=cancel,
                collect=load_outputs if job["mode"] == "evaluate" else None)
    if not res.get("ok"):
        raise WorkerError(res.get("error", "worker failed"))
    return res


def _worker_env() -> dict:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    # the worker must import the same edgelab as the caller (e.g. a source checkout in a notebook)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _pump(stream, progress, tail):
    for line in stream:
        if line.startswith("@progress ") and progress is not None:
            try:
                progress(json.loads(line[10:]))
            except Exception:
                pass
        elif tail is not None:
            tail.append(line.rstrip())
            del tail[:-20]


def _kill(proc):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _death_reason(rc: int | None, err_tail: list[str]) -> str:
    last = next((line for line in reversed(err_tail) if line.strip()), "")
    if rc is not None and rc < 0:
        name = _SIGNALS.get(-rc, f"signal {-rc}")
        if name == "SIGKILL":
            return "worker was killed (SIGKILL): most likely out of memory"
        if name == "SIGSEGV":
            return "worker crashed with a segmentation fault (SIGSEGV) in the runtime"
        return f"worker died from {name}"
    return f"worker exited with code {rc}" + (f": {last[:300]}" if last else "")
