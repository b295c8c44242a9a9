"""Apache TVM passes: compile an ONNX model for a target (host or an ARM board) and tune it with MetaSchedule.

    >>> el.compare("model.onnx", recipes=["fp32", "tvm", "tvm-tune"])
    >>> el.build(model, "tvm-tune:trials=200,minutes=8")             # tuning budget
    >>> el.build(model, "tvm", target=edgelab.profiles.get("rpi5"))  # cross-compiled aarch64 .so
    >>> el.build(model, "tvm-tune:device=192.168.1.10:9190/pi@rpi5")  # tuned on that Pi over TVM RPC

The artifact is an exported Relax VM library (`model.so`) plus `model.json` (target, input shapes).
Every TVM call runs in a child process (`python -m edgelab.passes._tvm_job`): a crash in the compiler
never takes the notebook down, TVM_NUM_THREADS is set for tuning measurements, and cancelling or
running out of minutes is a kill. Shapes: `tvm-compile` keeps a symbolic batch dimension (one library
serves every batch size); `tvm-tune` pins the batch (MetaSchedule tunes static shapes only) and the
runner splits larger batches into calls of that size.

Tuning for a fleet device (`device=HOST:PORT/key[@profile]`, see `edgelab device serve`): candidates are
built here for the device's profile target (cross-linked for ARM; this host's target without @profile) and
timed on the device by MetaSchedule's RPCRunner; the database is keyed by model + target + device key.
`compare(..., devices=[...])` tunes a `tvm-tune` variant on each device it measures it on.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, PassError, RuntimeBackendError
from . import choice, opt, register

TUNE_VERSION = "1"  # bump when the tuning flow changes so old databases are not reused
# Boards known before edgelab.profiles has a catalog (and as a fallback for it). Facts: shared/notes/tvm.md §2.
BOARDS = {
    "rpi4": ({"kind": "llvm", "mtriple": "aarch64-linux-gnu", "mcpu": "cortex-a72", "mattr": ["+neon"],
              "num-cores": 4}, 4),
    "rpi5": ({"kind": "llvm", "mtriple": "aarch64-linux-gnu", "mcpu": "cortex-a76", "num-cores": 4}, 4),
    "armv7": ({"kind": "llvm", "mtriple": "armv7l-linux-gnueabihf", "mcpu": "cortex-a7",
               "mattr": ["+neon", "+vfp4"], "mfloat-abi": "hard", "num-cores": 4}, 4),
}
# mtriple prefix -> (cross compiler command, Debian package that provides it)
CROSS = {"aarch64": ("aarch64-linux-gnu-g++", "g++-aarch64-linux-gnu"),
         "arm": ("arm-linux-gnueabihf-g++", "g++-arm-linux-gnueabihf")}


@dataclass(frozen=True)
class BoardTarget:
    """A minimal profile (name, TVM target dict, cores) used until/unless edgelab.profiles provides one."""

    name: str
    tvm_target: dict
    cores: int


@dataclass(frozen=True)
class ResolvedTarget:
    """Where a TVM build goes: the target dict (host: mcpu filled in the job), cores, cross compiler."""

    name: str
    target: dict | None  # None: this host (the job detects the CPU)
    cores: int
    cross: tuple | None  # (command, apt package) or None for a native build

    @property
    def is_host(self) -> bool:
        return self.target is None


def profile(name: str):
    """The profile called `name`: edgelab.profiles.get when the catalog exists, else the built-in boards."""
    from .. import profiles

    get = getattr(profiles, "get", None)
    if get is not None:
        try:
            return get(name)
        except ConfigError:
            if name not in BOARDS:
                raise
    if name in ("host", "local"):
        return None
    if name not in BOARDS:
        raise ConfigError(f"unknown profile {name!r} for TVM; valid: host, {', '.join(BOARDS)}")
    tgt, cores = BOARDS[name]
    return BoardTarget(name, dict(tgt), cores)


def resolve_target(target) -> ResolvedTarget:
    """Turn a PassContext target (None = host, a profile name, or a Profile) into a ResolvedTarget."""
    if isinstance(target, str):
        target = profile(target)
    if target is None or "host" in (getattr(target, "id", None), getattr(target, "name", None)):
        from ..profiles import host_fingerprint

        return ResolvedTarget("host", None, int(host_fingerprint()["cores"]), None)
    tgt = getattr(target, "tvm_target", None)
    name = getattr(target, "id", None) or getattr(target, "name", str(target))
    if not isinstance(tgt, dict) or tgt.get("kind") != "llvm":
        raise ConfigError(f"profile {name!r} has no TVM CPU target (tvm_target={tgt!r}); "
                          "TVM recipes need a profile with an llvm target dict, e.g. rpi4 or rpi5")
    tgt = dict(tgt)
    cores = int(tgt.get("num-cores") or getattr(target, "cores", 0) or 1)
    tgt["num-cores"] = cores
    triple = str(tgt.get("mtriple", ""))
    cross = None
    if triple and not triple.startswith("x86_64"):
        arch = "aarch64" if triple.startswith("aarch64") else "arm" if triple.startswith(("arm", "thumb")) else None
        if arch is None:
            raise ConfigError(f"profile {name!r}: no cross toolchain known for mtriple {triple!r}; "
                              "supported: aarch64-*, arm*-*-gnueabihf, x86_64-*")
        cross = CROSS[arch]
    return ResolvedTarget(name, tgt, cores, cross)


def check_toolchain(rt: ResolvedTarget) -> None:
    if rt.cross and shutil.which(rt.cross[0]) is None:
        raise ConfigError(f"cross-compiling for {rt.name} needs {rt.cross[0]}, which is not installed; "
                          f"install it with: sudo apt-get install {rt.cross[1]}")


def _target_spec(rt: ResolvedTarget) -> dict:
    return {"name": rt.name, "target": rt.target, "cores": rt.cores, "cross": rt.cross[0] if rt.cross else None}


@register("tvm-compile", backend="tvm", precision="same", produces="tvm",
          description="ONNX → Relax → compiled library for the host or the profile's target (no tuning; "
                      "symbolic batch kept). Cross-compiles for ARM profiles.")
@dataclass(frozen=True)
class TvmCompile:
    fold_constants: bool = opt(True, "simplify with onnxruntime's portable basic optimizations first "
                                     "(folds BatchNorm into Conv, constant folding)")

    def run(self, src: Path, out_dir: Path, ctx) -> Path:
        rt = resolve_target(ctx.target)
        check_toolchain(rt)
        job = {"mode": "compile", "onnx": str(_simplified(src, out_dir, self.fold_constants)),
               "out_dir": str(out_dir), "target": _target_spec(rt), "static_batch": None}
        run_job(job, ctx, timeout_s=1800)
        return Path(out_dir) / "model.so"


@register("tvm-tune", backend="tvm", precision="same", produces="tvm",
          description="MetaSchedule tuning (budget in trials and minutes; database cached per model + target "
                      "and resumed), then compile; batch pinned to `batch`")
@dataclass(frozen=True)
class TvmTune:
    trials: int = opt(300, "total tuning trials (measured candidates) across all kernels")
    minutes: float = opt(10.0, "wall-clock budget for the search; at the limit the records so far are used")
    batch: int = opt(1, "static batch size the model is tuned for (larger batches run as several calls)")
    prepack: bool = opt(True, "let tuned kernels use a repacked weight layout (folded at compile time)")
    layout: str = choice("NHWC", "NCHW", help="convolution data layout to tune (NHWC measured 1.4x faster "
                                               "end to end on the demo CNN at equal trials)")
    fold_constants: bool = opt(True, "simplify with onnxruntime's portable basic optimizations first")
    device: str = opt("", "measure candidates on a fleet device over TVM RPC, 'HOST:PORT/key[@profile]' (built "
                          "here for the profile's target, or this host's without @profile); own tuning database")
    device_timeout: float = opt(30.0, "seconds to wait for a free session on the device, and per measurement")

    def __post_init__(self):  # "tvm-tune:minutes=0.5" arrives as text from Recipe.parse
        try:
            for name, kind in (("trials", int), ("minutes", float), ("batch", int), ("device_timeout", float)):
                object.__setattr__(self, name, kind(getattr(self, name)))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"tvm-tune: trials and batch must be integers, minutes and device_timeout "
                              f"numbers ({e})") from e
        if self.device:
            from ..runners.remote import Device

            Device.parse(self.device)  # a malformed address fails when the recipe is made

    def run(self, src: Path, out_dir: Path, ctx) -> Path:
        from .. import workspace

        if self.trials < 0 or self.minutes <= 0 or self.batch < 1 or self.device_timeout <= 0:
            raise ConfigError("tvm-tune needs trials >= 0, minutes > 0, batch >= 1 and device_timeout > 0")
        dev = _device(self.device)
        rt = resolve_target(profile(dev.profile) if dev is not None and dev.profile else ctx.target)
        if rt.cross and dev is None:
            raise ConfigError(f"tuning for {rt.name} needs measurements on that device; use the `tvm` recipe for "
                              f"{rt.name} (untuned, cross-compiled), or tune on a connected one: "
                              f"tvm-tune:device=HOST:PORT/KEY@{rt.name} (see `edgelab device serve`)")
        check_toolchain(rt)
        if dev is not None:
            _check_device(dev, rt, self.device_timeout, ctx)
        onnx_path = _simplified(src, out_dir, self.fold_constants)
        key = tune_key(onnx_path, rt, self.batch, self.prepack, self.layout, device_key=dev.key if dev else None)
        db_final = workspace.cache_dir("tune", key[:24])
        root = workspace.ensure(db_final.parent)
        work = Path(tempfile.mkdtemp(prefix=f".tmp-{db_final.name}-", dir=root))
        try:
            if db_final.exists():
                shutil.copytree(db_final, work, dirs_exist_ok=True)
            before = _n_records(work)
            done_before = _completed(work, self.trials, self.minutes)  # this budget already ran: reuse, no search
            job = {"mode": "tune", "onnx": str(onnx_path), "out_dir": str(out_dir), "target": _target_spec(rt),
                   "static_batch": self.batch, "db_dir": str(work), "trials": 0 if done_before else self.trials,
                   "prepack": self.prepack, "search": {"layout": self.layout},
                   "device": dev and {"host": dev.tracker_host, "port": dev.tracker_port, "key": dev.key,
                                      "timeout_s": self.device_timeout}}
            if done_before:
                _say(ctx, f"reusing the tuning database ({before} records) of an earlier run with this budget")
            deadline = None if done_before else time.monotonic() + self.minutes * 60  # the budget is for search
            res = run_job(job, ctx, timeout_s=self.minutes * 60 + 600, deadline=deadline)
            done = _n_records(work) - before
            _mark_completed(work, self.trials, self.minutes)
            if res is None:  # out of minutes: keep the records, compile with them
                _commit_db(work, db_final)
                _say(ctx, f"time budget of {self.minutes:g} min reached after {done} trials; compiling with "
                          "the records so far")
                run_job(dict(job, mode="tune", trials=0, db_dir=str(db_final)), ctx, timeout_s=1800)
            else:
                _commit_db(work, db_final)
        except KeyboardInterrupt:
            n = _commit_db(work, db_final)
            _say(ctx, f"tuning cancelled; {n} records kept in {db_final} (run again to resume)")
            raise
        except RuntimeBackendError as e:  # the device went away: keep what it measured, say how to go on
            n = _commit_db(work, db_final)
            raise RuntimeBackendError(f"{e}; {n} tuning records kept: build again to resume once the device is "
                                      "back") from e
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return Path(out_dir) / "model.so"


RECIPES = [
    ("tvm", [("tvm-compile", {})], "Apache TVM (Relax) compiled for the host or the chosen profile, untuned"),
    ("tvm-tune", [("tvm-tune", {})], "Apache TVM with MetaSchedule tuning (300 trials, ≤10 min, cached database)"),
]


def tune_key(onnx_path: Path, rt: ResolvedTarget, batch: int, prepack: bool, layout: str = "NCHW", *,
             device_key: str | None = None) -> str:
    """Tuning database key: the model bytes + the target (for the host: its CPU model and ISA) + tune options,
    + the device key when candidates are measured on a fleet device (its records are not this host's)."""
    from ..profiles import host_fingerprint

    h = hashlib.sha256(Path(onnx_path).read_bytes())
    host = host_fingerprint() if rt.is_host else {}
    parts = [TUNE_VERSION, rt.target, rt.cores, host.get("cpu"), host.get("isa"), batch, prepack, layout]
    h.update(json.dumps(parts + ([f"device:{device_key}"] if device_key else []), sort_keys=True).encode())
    return h.hexdigest()


def _device(spec: str):
    from ..runners.remote import Device

    return Device.parse(spec) if spec else None


def _check_device(dev, rt: ResolvedTarget, timeout_s: float, ctx) -> None:
    """Fail before tuning when the device cannot take a session, or runs another architecture than the target."""
    import platform

    def family(arch: str) -> str:
        arch = str(arch).split("-")[0]
        return "aarch64" if arch in ("aarch64", "arm64") else "arm" if arch.startswith(("arm", "thumb")) else arch

    _say(ctx, f"checking device {dev.key!r} at tracker {dev.tracker_host}:{dev.tracker_port}")
    arch = dev.info(timeout_s).get("arch")
    want = (rt.target or {}).get("mtriple") or platform.machine()
    if arch and family(arch) != family(want):
        raise ConfigError(f"device {dev.key!r} is {arch} but the tuning target {rt.name!r} is {family(want)}; name the "
                          f"device's profile: tvm-tune:device={dev.tracker_host}:{dev.tracker_port}/{dev.key}@PROFILE "
                          "(e.g. rpi5), or omit @profile for a device like this host")


def _simplified(src: Path, out_dir: Path, fold: bool) -> Path:
    """Apply onnxruntime's basic (portable, standard-op) graph optimizations: fewer, bigger ops for TVM."""
    if not fold:
        return Path(src)
    import onnxruntime as ort

    dst = Path(out_dir) / "simplified.onnx"
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    so.optimized_model_filepath = str(dst)
    so.log_severity_level = 3
    try:
        ort.InferenceSession(str(src), so, providers=["CPUExecutionProvider"])
    except Exception:  # onnxruntime cannot load it: let TVM's importer judge the original
        return Path(src)
    return dst


def _say(ctx, msg: str):
    if ctx is not None and ctx.progress is not None:
        ctx.progress(msg)


def _completed(db: Path, trials: int, minutes: float) -> bool:
    """Did a run with at least this budget finish (by trials or by minutes) on this database?"""
    p = Path(db) / "edgelab-budgets.json"
    runs = json.loads(p.read_text()) if p.exists() else []
    return any(t >= trials and m >= minutes for t, m in runs)


def _mark_completed(db: Path, trials: int, minutes: float) -> None:
    p = Path(db) / "edgelab-budgets.json"
    runs = json.loads(p.read_text()) if p.exists() else []
    p.write_text(json.dumps(runs + [[trials, minutes]]))


def _n_records(db: Path) -> int:
    p = Path(db) / "database_tuning_record.json"
    return sum(1 for _ in p.open()) if p.exists() else 0


def _commit_db(work: Path, final: Path) -> int:
    """Drop torn lines (a killed tuner), then replace the cached database atomically; returns record count."""
    from .. import workspace

    wl, rec = Path(work) / "database_workload.json", Path(work) / "database_tuning_record.json"
    if not wl.exists():
        return 0
    good_wl = _json_lines(wl)
    good_rec = [line for line in _json_lines(rec) if json.loads(line)[0] < len(good_wl)] if rec.exists() else []
    with workspace.atomic_dir(final.parent / f"{final.name}.new") as tmp:
        (tmp / wl.name).write_text("".join(x + "\n" for x in good_wl))
        (tmp / rec.name).write_text("".join(x + "\n" for x in good_rec))
        if (Path(work) / "edgelab-budgets.json").exists():
            shutil.copy2(Path(work) / "edgelab-budgets.json", tmp / "edgelab-budgets.json")
    old = final.parent / f".tmp-{final.name}-old-{time.time_ns()}"
    if final.exists():
        final.rename(old)
    (final.parent / f"{final.name}.new").rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return len(good_rec)


def _json_lines(p: Path) -> list[str]:
    out = []
    for line in p.read_text().splitlines():
        try:
            json.loads(line)
            out.append(line)
        except ValueError:
            break  # a torn (last) line and anything after it
    return out


def run_job(job: dict, ctx, *, timeout_s: float, deadline: float | None = None) -> dict | None:
    """Run a TVM job in a child process. Returns its result, or None when `deadline` (monotonic) passed."""
    from ..errors import WorkerError
    from ..runners import _worker_env, spawn

    env = _worker_env()
    env["PYTHONPATH"] = str(Path(__file__).parent / "_notorch") + os.pathsep + env["PYTHONPATH"]
    if job["target"]["target"] is None:  # tuning measures on this host: use all its cores (notes §1c)
        env["TVM_NUM_THREADS"] = str(job["target"]["cores"])
    say = (lambda e: _say(ctx, e.get("message", ""))) if ctx is not None else None
    try:
        res = spawn("edgelab.passes._tvm_job", job, timeout_s=timeout_s, progress=say, env=env, deadline=deadline,
                    cancel=getattr(ctx, "cancel", None))
    except WorkerError as e:
        raise PassError(f"TVM {job['mode']} process failed: {e}") from e
    if res is None:
        return None
    if not res.get("ok"):
        cls = {"config": ConfigError, "device": RuntimeBackendError}.get(res.get("kind"), PassError)
        raise cls(res.get("error", "TVM job failed"))
    return res


__all__ = ["BOARDS", "RECIPES", "BoardTarget", "ResolvedTarget", "TvmCompile", "TvmTune",
           "profile", "resolve_target", "tune_key"]
