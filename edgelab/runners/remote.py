"""Measure variants on real devices through TVM RPC: tracker/server helpers and remote timing.

A device joins with `edgelab device serve --tracker HOST:PORT --key rpi5` (a TVM RPC server that also
exposes `edgelab.ort_time`, so onnxruntime variants are timed there too). The workbench then measures
each variant on each device: TVM variants through the stock RPC path (upload, load_module, Relax VM,
time_evaluator), onnxruntime variants through the edgelab function. Figures are labelled
"measured on <key>"; a device that is missing, times out or drops the connection gives that cell an error.
A `tvm-tune` variant is tuned on the device it is measured on (MetaSchedule's RPCRunner, passes/tvm.py).
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, RuntimeBackendError


@dataclass(frozen=True)
class Device:
    """A device in a fleet: tracker address, key, and optionally the profile its TVM variants target."""

    tracker_host: str
    tracker_port: int
    key: str
    profile: str | None = None

    @classmethod
    def parse(cls, spec) -> Device:
        """'HOST:PORT/key[@profile]' or {'tracker': 'HOST:PORT', 'key': k, 'profile': p} or a Device."""
        if isinstance(spec, Device):
            return spec
        if isinstance(spec, dict):
            tracker, key, prof = spec.get("tracker", ""), spec.get("key", ""), spec.get("profile")
        else:
            tracker, _, rest = str(spec).partition("/")
            key, _, prof = rest.partition("@")
        host, _, port = str(tracker).rpartition(":")
        if not host or not port.isdigit() or not key:
            raise ConfigError(f"bad device {spec!r}; use 'HOST:PORT/key' (e.g. 127.0.0.1:9190/rpi5) or "
                              "{'tracker': 'HOST:PORT', 'key': 'rpi5'}")
        return cls(host, int(port), key, prof or None)

    @property
    def label(self) -> str:
        return f"measured on {self.key}"

    @property
    def spec(self) -> str:
        """The 'HOST:PORT/key[@profile]' text Device.parse reads (e.g. a tvm-tune `device` option)."""
        return f"{self.tracker_host}:{self.tracker_port}/{self.key}" + (f"@{self.profile}" if self.profile else "")

    def info(self, timeout_s: float = 30.0) -> dict:
        """What the device says about itself (cpu, arch, cores, versions); {} for a plain TVM RPC server.
        Raises RuntimeBackendError when it cannot be reached (tracker down, key unknown, busy past timeout_s)."""
        sess = connect(self, timeout_s)
        try:
            return json.loads(sess.get_function("edgelab.info")())
        except Exception:
            return {}


def _env() -> dict:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def wait_port(host: str, port: int, timeout_s: float = 60.0) -> bool:
    """True once something listens at host:port (False after `timeout_s`)."""

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.2)
    return False


def wait_keys(host: str, port: int, keys, timeout_s: float = 60.0) -> bool:
    """True once a server is registered at the tracker for every key in `keys`."""
    from tvm import rpc

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if set(keys) <= registered(rpc.connect_tracker(host, port).summary()):
                return True
        except Exception:
            pass
        time.sleep(0.5)
    return False


def start_tracker(port: int = 9190, host: str = "127.0.0.1", *, wait_s: float = 60.0) -> subprocess.Popen:
    """Start a TVM RPC tracker process and wait until it listens (own session: stop it with stop(proc))."""
    proc = subprocess.Popen([sys.executable, "-m", "tvm.exec.rpc_tracker", "--host", host, "--port", str(port),
                             "--port-end", str(port + 1)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env=_env())
    if not wait_port(host, port, wait_s):
        stop(proc)
        raise RuntimeBackendError(f"the RPC tracker did not start listening on {host}:{port} within {wait_s:.0f} s")
    return proc


def start_server(tracker: str, key: str, *, host: str = "127.0.0.1", port: int = 9090,
                 log: str | None = None) -> subprocess.Popen:
    """Start `edgelab device serve` as a child process (own session: stop it with stop(proc)); output to `log`."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen([sys.executable, "-u", "-m", "edgelab.cli", "device", "serve", "--tracker", tracker,
                                 "--key", key, "--host", host, "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=_env())
    finally:
        if log:
            out.close()


def stop(proc: subprocess.Popen) -> None:
    """Stop a process started here and its children (its own process group), by its PID."""
    import signal

    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        except ProcessLookupError:
            pass


def register_functions():
    """Server side: make `edgelab.ort_time` and `edgelab.info` callable over RPC (runs in the server process)."""
    import tvm

    tvm.register_global_func("edgelab.ort_time", _ort_time, override=True)
    tvm.register_global_func("edgelab.info", lambda: json.dumps(_device_info()), override=True)


def _device_info() -> dict:
    from ..profiles import host_fingerprint

    fp = host_fingerprint()
    return {k: fp.get(k) for k in ("cpu", "arch", "cores", "isa", "onnxruntime", "tvm")}


def _ort_time(path: str, threads: int, batch: int, runs: int, warmup: int) -> str:
    """Time an uploaded .onnx on this device with onnxruntime; JSON list of per-call seconds."""
    import numpy as np
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = int(threads) or (os.cpu_count() or 1)
    so.log_severity_level = 3
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    feeds = {i.name: _random(i.shape, i.type, int(batch), np) for i in sess.get_inputs()}

    def run(f):
        return sess.run(None, f)

    for _ in range(int(warmup)):
        run(feeds)
    times = []
    for _ in range(int(runs)):
        t0 = time.perf_counter()
        run(feeds)
        times.append(time.perf_counter() - t0)
    return json.dumps({"times": times, "device": _device_info()})


def _random(shape, type_str: str, batch: int, np):
    dims = [batch if i == 0 and not isinstance(d, int) else (d if isinstance(d, int) and d > 0 else 1)
            for i, d in enumerate(shape)]
    dtype = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32}.get(type_str,
                                                                                                    np.float32)
    return np.random.default_rng(0).standard_normal(dims).astype(dtype)


def serve(tracker: str, key: str, *, host: str = "0.0.0.0", port: int = 9090, stop_event=None) -> None:
    """Run a TVM RPC server with edgelab's functions, registered at `tracker` under `key`, until interrupted."""
    from tvm import rpc

    thost, _, tport = tracker.rpartition(":")
    if not thost or not tport.isdigit():
        raise ConfigError(f"bad tracker address {tracker!r}; use HOST:PORT, e.g. 192.168.1.10:9190")
    check_tracker(thost, int(tport))
    os.environ["PYTHONPATH"] = _env()["PYTHONPATH"]  # the server's worker must import edgelab
    server = rpc.Server(host, port=port, port_end=port + 100, tracker_addr=(thost, int(tport)), key=key,
                        server_init_callback=register_functions)
    print(f"edgelab device '{key}' serving on {host}:{server.port}, registered at tracker {tracker} "
          "(Ctrl-C to stop)", flush=True)
    try:
        while stop_event is None or not stop_event.is_set():
            time.sleep(0.5)
    finally:
        server.terminate()


def check_tracker(host: str, port: int, timeout_s: float = 3.0) -> None:
    """Fail fast (TVM's own client retries for a minute) when nothing listens at the tracker address."""
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as e:
        raise RuntimeBackendError(f"RPC tracker {host}:{port} is unreachable ({e.strerror or e}); start one with "
                                  f"`python -m tvm.exec.rpc_tracker --host 0.0.0.0 --port {port}` or fix the "
                                  "address") from e


def registered(summary: dict) -> set[str]:
    """Keys of the servers connected to a tracker now, from its summary() (its queue_info keeps old keys)."""
    return {str(s.get("key", "")).partition(":")[2] for s in summary.get("server_info", [])}


def connect(dev: Device, timeout_s: float):
    """A session on `dev` through its tracker; clear errors for an unreachable tracker or an absent key."""
    from tvm import rpc

    check_tracker(dev.tracker_host, dev.tracker_port)
    try:
        tracker = rpc.connect_tracker(dev.tracker_host, dev.tracker_port)
        summary = tracker.summary()
    except Exception as e:
        raise RuntimeBackendError(f"RPC tracker {dev.tracker_host}:{dev.tracker_port} is unreachable ({e}); "
                                  "start one with `python -m tvm.exec.rpc_tracker --port "
                                  f"{dev.tracker_port}` or fix the address") from e
    keys = registered(summary)
    if dev.key not in keys:
        raise RuntimeBackendError(f"no device with key {dev.key!r} at tracker {dev.tracker_host}:"
                                  f"{dev.tracker_port} (registered: {', '.join(sorted(keys)) or 'none'}); start "
                                  f"it with `edgelab device serve --tracker HOST:PORT --key {dev.key}`")
    box: dict = {}

    def req():
        try:
            box["s"] = tracker.request(dev.key, priority=1, session_timeout=timeout_s)
        except Exception as e:
            box["e"] = e

    t = threading.Thread(target=req, daemon=True)
    t.start()
    t.join(timeout_s)
    if "s" not in box:
        with contextlib.suppress(OSError, AttributeError):  # withdraw the request: the tracker drops it on close,
            tracker._sock.shutdown(socket.SHUT_RDWR)  # else it would hand the next free server to this dead wait
        raise RuntimeBackendError(f"device {dev.key!r} did not accept a session within {timeout_s:.0f} s"
                                  + (f": {box['e']}" if "e" in box else " (busy or gone)") + "; check it with "
                                  f"`python -m tvm.exec.query_rpc_tracker --host {dev.tracker_host} --port "
                                  f"{dev.tracker_port}`")
    return box["s"]


def _tvm_times(sess, path: str, runs: int, warmup: int) -> list[float]:
    import numpy as np
    import tvm
    from tvm import relax

    meta = json.loads(Path(path).with_suffix(".json").read_text())
    name = f"v{abs(hash(path)) % 10**8}.so"
    sess.upload(path, name)
    vm = relax.VirtualMachine(sess.load_module(name), sess.cpu())
    dev = sess.cpu()
    args = []
    for spec in meta["inputs"]:
        shape = [d if isinstance(d, int) else (meta.get("static_batch") or 1) for d in spec["shape"]]
        args.append(tvm.runtime.tensor(np.random.default_rng(0).standard_normal(shape).astype(spec["dtype"]), dev))
    vm.set_input("main", *args)
    if warmup:
        vm.time_evaluator("invoke_stateful", dev, number=warmup, repeat=1)("main")
    return list(vm.time_evaluator("invoke_stateful", dev, number=1, repeat=runs)("main").results)


def measure(variants: list, devices, *, runs: int = 50, warmup: int = 5, threads: int = 0,
            timeout_s: float = 120.0, variant_for=None) -> dict:
    """{device key: {variant id: {"latency_ms": stats, "measured_on": "measured on <key>", "error": str|None}}}.

    `variants` are (id, path, runtime) triples or Variants; `variant_for(variant, device)` may return the
    path of a variant rebuilt for the device (cross-compiled, or tuned on it); it runs before the measuring
    session is opened. Errors never propagate: they land in cells.
    """
    from ..measure import latency_stats

    out: dict = {}
    for spec in devices:
        dev = Device.parse(spec)
        cells = out.setdefault(dev.key, {})
        todo = []
        for v in variants:  # device builds first: tuning on the device needs it free (no session held here)
            vid, path, runtime = _vid(v), getattr(v, "path", None) or v[1], getattr(v, "runtime", None) or v[2]
            try:
                if variant_for is not None and runtime == "tvm":
                    path = variant_for(v, dev) or path
                todo.append((vid, path, runtime))
            except Exception as e:
                cells[vid] = _error_cell(dev, e)
        try:
            sess = connect(dev, timeout_s) if todo else None
        except RuntimeBackendError as e:
            for vid, _, _ in todo:
                cells[vid] = {"latency_ms": None, "measured_on": dev.label, "error": str(e)}
            continue
        for vid, path, runtime in todo:
            try:
                if runtime == "tvm":
                    times = _tvm_times(sess, path, runs, warmup)
                else:
                    name = f"v{abs(hash(path)) % 10**8}.onnx"
                    sess.upload(path, name)
                    try:
                        fn = sess.get_function("edgelab.ort_time")
                    except Exception as e:
                        raise RuntimeBackendError("device runs a plain TVM RPC server; start it with `edgelab "
                                                  "device serve` to measure onnxruntime variants") from e
                    times = json.loads(fn(name, threads, 1, runs, warmup))["times"]
                cells[vid] = {"latency_ms": latency_stats(times), "measured_on": dev.label, "error": None}
            except Exception as e:  # lost connection, session timeout, device error: this cell only
                cells[vid] = _error_cell(dev, e)
    return out


def _error_cell(dev: Device, e: Exception) -> dict:
    msg = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
    return {"latency_ms": None, "measured_on": dev.label, "error": f"{type(e).__name__}: {msg}"}


def _vid(v) -> str:
    return getattr(v, "id", None) or v[0]


def measure_into_rows(model, built: list, devices, rows: dict, emit, warnings: list, *, runs: int = 50,
                      cancel=None) -> None:
    """Workbench hook: put each device's figures into `rows[vid]["remote"][key]`; never raises for a device.

    TVM variants run on a device as built for its profile ('HOST:PORT/key@rpi5'; without @profile the
    device is taken to be like this host). A `tvm-tune` variant is tuned on the device it is measured on:
    the same recipe with `device=` that device (records from this host, or another device, would tune for
    the wrong machine), with its own tuning database; cached like any build, so a second run is quick.
    """
    from .. import variant as _variant
    from ..passes import tvm as tvm_passes

    def variant_for(v, dev: Device):
        target = tvm_passes.profile(dev.profile) if dev.profile not in (None, "host", "local") else None
        steps = [(n, dict(o)) for n, o in v.recipe.steps]
        tuned = [o for n, o in steps if n == "tvm-tune" and not o.get("device")]
        if not tuned:
            return None if target is None else _variant.build(model, v.recipe, target=target, cancel=cancel).path
        for o in tuned:
            o["device"] = dev.spec

        def say(msg: str):
            emit({"stage": "tune", "variant": v.id, "message": f"{dev.key}: {msg}"})

        recipe = _variant.Recipe(f"{v.recipe.name}@{dev.key}", steps, v.recipe.description)
        return _variant.build(model, recipe, target=target, progress=say, cancel=cancel).path

    devs = [Device.parse(d) for d in devices]
    for i, dev in enumerate(devs):
        emit({"stage": "remote", "variant": None, "i": i, "n": len(devs),
              "message": f"measuring {len(built)} variants on {dev.key} via {dev.tracker_host}:{dev.tracker_port}"})
        try:
            cells = measure(built, [dev], runs=runs, variant_for=variant_for).get(dev.key, {})
        except Exception as e:  # a bug here must not lose the local results
            cells = {v.id: {"latency_ms": None, "measured_on": dev.label, "error": f"{type(e).__name__}: {e}"}
                     for v in built}
        for vid, cell in cells.items():
            rows[vid].setdefault("remote", {})[dev.key] = cell
        errors = [c["error"] for c in cells.values() if c["error"]]
        if errors:
            warnings.append(f"device {dev.key}: {len(errors)} of {len(cells)} variants not measured ({errors[0]})")
            emit({"stage": "error", "variant": None, "message": f"device {dev.key}: {errors[0]}"})
