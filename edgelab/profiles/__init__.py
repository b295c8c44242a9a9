"""Target hardware profiles: the curated catalog (catalog.json, every figure sourced), user profiles, the host.

    >>> from edgelab import profiles
    >>> profiles.list_profiles()            # ids: rpi3b, rpi4, rpi5, jetson-nano, ..., host
    >>> p = profiles.get("rpi5"); p.peak_gops("int8"), p.support("fp16"), p.tvm_target
    >>> profiles.load_profile({"id": "my-board", "name": "My board", "clusters": [...], ...})
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ..errors import ConfigError
from .host import fingerprint as host_fingerprint
from .host import label as host_label

CATALOG = Path(__file__).with_name("catalog.json")
VALIDATION = Path(__file__).with_name("validation.json")
PRECISIONS = ("fp32", "fp16", "int8")
KINDS = ("cpu", "gpu", "npu", "mcu", "cloud-cpu", "cloud-gpu", "serverless")
_user: dict[str, "Profile"] = {}


@dataclass(frozen=True)
class Profile:
    """A target device. Peaks derive from `clusters` × the catalog's per-microarchitecture ops/cycle."""

    id: str
    name: str
    kind: str
    clusters: tuple
    mem_bandwidth_gbs: float
    ram_bytes: int
    soc: str = ""
    storage_bytes: int | None = None
    os_reserved_bytes: int = 0
    runtime_overhead_bytes: int | None = None
    power_w: float | None = None
    idle_power_w: float | None = None
    price_usd: float | None = None
    owned: bool = False
    usd_per_hour: float | None = None
    vcpus: int | None = None
    memory_gb: float | None = None
    default_threads: int | None = None
    accelerator: dict | None = None
    tvm_target: dict | None = None
    efficiency: float | None = None  # overrides the class prior
    sources: dict = field(default_factory=dict)
    validation_devices: tuple = ()
    validation_overrides: dict = field(default_factory=dict)
    validation_framework_only: tuple = ()
    validation_framework_exclude: tuple = ()
    validation_proxy: dict = field(default_factory=dict)
    # published measurements of a reference network on this device (profiles/reference.py): their
    # published / projected ratio scales every projection onto the profile
    reference: tuple = ()
    user: bool = False

    # ---- derived figures -----------------------------------------------------------------------
    @property
    def cores(self) -> int:
        return sum(c["count"] for c in self.clusters)

    @property
    def threads(self) -> int:
        return self.default_threads or self.cores

    def uarch(self, name: str) -> dict:
        return _catalog()["uarch"][name]

    @property
    def device_class(self) -> str:
        if self.accelerator:
            return self.accelerator["class"]
        return self.uarch(self.clusters[0]["uarch"])["class"]

    @property
    def kernel_efficiency(self) -> float:
        """Fraction of peak that tuned conv/GEMM kernels reach at batch 1 (class prior unless overridden)."""
        if self.efficiency is not None:
            return self.efficiency
        return _catalog()["classes"][self.device_class]["efficiency"]

    def core_peaks(self, precision: str) -> list[float]:
        """Per-core peak GOPS for `precision` (emulated rate where not native), fastest first."""
        out = []
        for c in self.clusters:
            u = self.uarch(c["uarch"])
            rate = u[precision]
            if precision == "fp16" and "fp16" not in u["native"]:
                rate = u["fp32"] * _method("emulated_fp16_factor")
            out += [c["ghz"] * rate] * c["count"]
        return sorted(out, reverse=True)

    def peak_gops(self, precision: str = "fp32", threads: int | None = None, *, static_split: bool = False,
                  mask_affinity: bool = False) -> float:
        """Peak GFLOPS/GOPS of the cores used (or of the accelerator). `static_split`: the framework gives
        every thread an equal share, so each layer runs at n x the slowest used core's rate (big.LITTLE).
        `mask_affinity`: the framework binds every thread to a whole core mask (the big cores when n fits
        in them, else all cores), so the scheduler may put a thread on any core of it: the mask's slowest
        core is the rate per thread."""
        if self.accelerator:
            pk = self.accelerator["peak_gops"]
            if precision in pk:
                return float(pk[precision])
            if self.support(precision) == "emulated":  # run at the next wider native precision
                return float(pk.get("fp16") or pk.get("fp32"))
            return 0.0
        n = threads or self.threads
        peaks = self.core_peaks(precision)[:n]
        if mask_affinity and peaks:
            mask = self.big_cores()
            mask_peaks = self.core_peaks(precision)[:mask if n <= mask else self.cores]
            peaks = [mask_peaks[-1]] * len(peaks)
        if static_split and peaks:
            peaks = [peaks[-1]] * len(peaks)
        return peaks[0] + _method("parallel_efficiency") * sum(peaks[1:]) if peaks else 0.0

    def big_cores(self) -> int:
        """How many cores ncnn counts as 'big': clock >= the mean of the slowest and fastest core's maximum
        clock (all cores when that mean is the fastest clock); Tencent/ncnn src/cpu.cpp, the cpu mask setup
        ('max_freq_khz_medium = (max_freq_khz_min + max_freq_khz_max) / 2')."""
        lo, hi = min(c["ghz"] for c in self.clusters), max(c["ghz"] for c in self.clusters)
        mid = (lo + hi) / 2
        return self.cores if mid >= hi else sum(c["count"] for c in self.clusters if c["ghz"] >= mid)

    def support(self, precision: str) -> str:
        """'native', 'emulated' (runs, slower) or 'unsupported' (cannot run) for a variant precision."""
        if self.accelerator:
            for k in ("native", "emulated", "unsupported"):
                if precision in self.accelerator.get(k, ()):
                    return k
            return "unsupported"
        u = self.uarch(self.clusters[0]["uarch"])
        return "native" if precision in u["native"] else "emulated"

    @property
    def clock_ghz(self) -> float:
        return max(c["ghz"] for c in self.clusters)

    def peak_text(self, precision: str = "fp32") -> str:
        if self.accelerator:
            return f"{self.peak_gops(precision):g} G{'FLOP' if precision != 'int8' else 'OP'}/s ({self.accelerator['class']})"
        parts = " + ".join(f"{c['count']} × {c['ghz']:g} GHz × {self.uarch(c['uarch'])[precision]:g}"
                           for c in self.clusters)
        return f"{parts} = {sum(self.core_peaks(precision)):.1f} G{'OP' if precision == 'int8' else 'FLOP'}/s"

    def validation(self) -> dict | None:
        """The projection method's error on this profile's published measurements (from the benchmark)."""
        return _validation().get(self.id)

    def summary(self) -> dict:
        """What a Report's `profiles` block holds for this profile."""
        return {"id": self.id, "name": self.name, "kind": self.kind, "cores": self.cores,
                "threads": self.threads, "clock_ghz": self.clock_ghz,
                "peak_gops": {p: round(self.peak_gops(p), 1) for p in PRECISIONS if self.support(p) != "unsupported"},
                "precisions": {p: self.support(p) for p in PRECISIONS},
                "mem_bandwidth_gbs": self.mem_bandwidth_gbs, "ram_bytes": self.ram_bytes,
                "storage_bytes": self.storage_bytes, "power_w": self.power_w, "price_usd": self.price_usd,
                "owned": self.owned, "usd_per_hour": self.usd_per_hour, "device_class": self.device_class,
                "kernel_efficiency": self.kernel_efficiency, "tvm_target": self.tvm_target,
                "validation": self.validation(), "device_factor": self.device_factor(), "user": self.user}

    def device_factor(self) -> dict | None:
        """The published / projected ratio of this profile's reference rows (profiles/reference.py), or None."""
        from .reference import device_factor

        df = device_factor(self)
        return {k: df[k] for k in ("factor", "n", "spread", "model", "device")} if df else None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["clusters"] = [dict(c) for c in self.clusters]
        return d

    def with_overrides(self, **kw) -> "Profile":
        return replace(self, **kw)


# ---- catalog ------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _catalog() -> dict:
    return json.loads(CATALOG.read_text())


def _method(name: str) -> float:
    return _catalog()["method"][name]["value"]


def framework(name: str | None) -> dict:
    """The catalog's priors for the inference framework that runs the model (None: onnxruntime)."""
    fws = {k: v for k, v in _catalog()["frameworks"].items() if isinstance(v, dict)}
    key = name or "onnxruntime"
    if key not in fws:
        raise ConfigError(f"unknown framework {name!r}; valid frameworks: {', '.join(fws)}")
    return {"name": key, **fws[key]}


@functools.lru_cache(maxsize=1)
def _validation() -> dict:
    try:
        return json.loads(VALIDATION.read_text()).get("profiles", {})
    except (OSError, ValueError):
        return {}


@functools.lru_cache(maxsize=1)
def _builtin() -> dict[str, Profile]:
    return {d["id"]: _from_dict(d, user=False) for d in _catalog()["profiles"]}


def list_profiles() -> list[str]:
    """Valid profile ids: the catalog, user profiles added with `load_profile`, and 'host'."""
    return [*_builtin(), *_user, "host"]


def get(name) -> Profile:
    """A profile by id (or a Profile / dict / JSON file path, returned validated)."""
    if isinstance(name, Profile):
        return name
    if isinstance(name, dict) or (isinstance(name, (str, Path)) and str(name).endswith(".json")):
        return load_profile(name)
    if name == "host":
        return host_profile()
    if name in _user:
        return _user[name]
    if name in _builtin():
        return _builtin()[name]
    raise ConfigError(f"unknown profile {name!r}; valid profiles: {', '.join(list_profiles())} "
                      "(or a path to a profile .json)")


def load_profile(source, *, register: bool = True) -> Profile:
    """Validate a user profile from a dict or a JSON file; registered under its id for `get()`."""
    if isinstance(source, (str, Path)):
        try:
            source = json.loads(Path(source).read_text())
        except OSError as e:
            raise ConfigError(f"cannot read profile file {source}: {e}") from e
        except ValueError as e:
            raise ConfigError(f"profile file {source} is not valid JSON: {e}") from e
    if not isinstance(source, dict):
        raise ConfigError("a profile is a dict (or a JSON file holding one)")
    p = _from_dict(source, user=True)
    if register:
        _user[p.id] = p
    return p


_FIELDS = {f.name for f in Profile.__dataclass_fields__.values()}


def _num(d, key, pid, lo=0.0, hi=float("inf"), *, required=True, integer=False, strict_lo=True):
    v = d.get(key)
    if v is None:
        if required:
            raise ConfigError(f"profile {pid!r}: field {key!r} is missing; it must be a number "
                              f"{'>' if strict_lo else '>='} {lo:g}" + (f" and <= {hi:g}" if hi != float("inf") else ""))
        return None
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and (v > lo if strict_lo else v >= lo) and v <= hi
    if integer and ok:
        ok = float(v).is_integer()
    if not ok:
        rng = f"{'>' if strict_lo else '>='} {lo:g}" + (f" and <= {hi:g}" if hi != float("inf") else "")
        raise ConfigError(f"profile {pid!r}: field {key!r} must be {'an integer' if integer else 'a number'} "
                          f"{rng}, got {v!r}")
    return int(v) if integer else float(v)


def _from_dict(d: dict, *, user: bool) -> Profile:
    pid = d.get("id")
    if not isinstance(pid, str) or not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,39}", pid):
        raise ConfigError(f"profile field 'id' must be a short lowercase name (a-z, 0-9, '-', '.'), got {pid!r}")
    if user and (pid == "host" or pid in _builtin()):
        raise ConfigError(f"profile id {pid!r} is taken by the catalog; choose another id")
    unknown = set(d) - _FIELDS
    if unknown:
        raise ConfigError(f"profile {pid!r}: unknown field(s) {', '.join(sorted(unknown))}; "
                          f"valid fields: {', '.join(sorted(_FIELDS - {'user'}))}")
    if not isinstance(d.get("name"), str) or not d["name"]:
        raise ConfigError(f"profile {pid!r}: field 'name' is missing (a display name)")
    kind = d.get("kind", "cpu")
    if kind not in KINDS:
        raise ConfigError(f"profile {pid!r}: field 'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
    clusters = d.get("clusters")
    if not isinstance(clusters, (list, tuple)) or not clusters:
        raise ConfigError(f"profile {pid!r}: field 'clusters' is missing: a list like "
                          "[{\"uarch\": \"cortex-a72\", \"count\": 4, \"ghz\": 1.8}]")
    uarchs = _catalog()["uarch"]
    cl = []
    for i, c in enumerate(clusters):
        if not isinstance(c, dict) or c.get("uarch") not in uarchs:
            raise ConfigError(f"profile {pid!r}: clusters[{i}].uarch must be one of {', '.join(uarchs)}, "
                              f"got {c.get('uarch') if isinstance(c, dict) else c!r}")
        cl.append({"uarch": c["uarch"], "count": _num(c, "count", pid, 1, 512, integer=True, strict_lo=False),
                   "ghz": _num(c, "ghz", pid, 0, 10)})
    kw = {k: v for k, v in d.items() if k in _FIELDS}
    kw.update(clusters=tuple(cl), kind=kind, user=user,
              mem_bandwidth_gbs=_num(d, "mem_bandwidth_gbs", pid, 0, 100000),
              ram_bytes=_num(d, "ram_bytes", pid, 0, 2**50, integer=True))
    for key in ("storage_bytes", "runtime_overhead_bytes"):
        kw[key] = _num(d, key, pid, 0, 2**50, required=False, integer=True)
    kw["os_reserved_bytes"] = _num(d, "os_reserved_bytes", pid, 0, 2**50, required=False, integer=True,
                                   strict_lo=False) or 0
    for key, hi in (("power_w", 1e5), ("idle_power_w", 1e5), ("price_usd", 1e7), ("usd_per_hour", 1e4),
                    ("memory_gb", 1e4)):
        kw[key] = _num(d, key, pid, 0, hi, required=False, strict_lo=False)
    kw["efficiency"] = _num(d, "efficiency", pid, 0, 1, required=False)
    kw["default_threads"] = _num(d, "default_threads", pid, 1, 4096, required=False, integer=True,
                                 strict_lo=False)
    if kw["os_reserved_bytes"] >= kw["ram_bytes"]:
        raise ConfigError(f"profile {pid!r}: field 'os_reserved_bytes' must be < ram_bytes ({kw['ram_bytes']})")
    acc = d.get("accelerator")
    if acc is not None:
        if not isinstance(acc, dict) or not isinstance(acc.get("peak_gops"), dict) or not acc["peak_gops"]:
            raise ConfigError(f"profile {pid!r}: field 'accelerator.peak_gops' must be a dict like "
                              "{\"fp16\": 472}")
        for p, v in acc["peak_gops"].items():
            if p not in PRECISIONS:
                raise ConfigError(f"profile {pid!r}: accelerator.peak_gops key {p!r} must be one of {PRECISIONS}")
            _num(acc["peak_gops"], p, pid, 0)
        if acc.get("class", "npu") not in _catalog()["classes"]:
            raise ConfigError(f"profile {pid!r}: accelerator.class must be one of {', '.join(_catalog()['classes'])}")
        acc = {"class": "npu", "native": list(acc["peak_gops"]), "emulated": [], "unsupported": [], **acc}
        kw["accelerator"] = acc
    for key in ("validation_devices", "validation_framework_only", "validation_framework_exclude"):
        kw[key] = tuple(d.get(key, ()))
    kw["reference"] = _reference_rows(d.get("reference") or (), pid)
    if kw.get("tvm_target") is not None and not isinstance(kw["tvm_target"], dict):
        raise ConfigError(f"profile {pid!r}: field 'tvm_target' must be a TVM target dict like "
                          "{\"kind\": \"llvm\", \"mtriple\": \"aarch64-linux-gnu\", \"mcpu\": \"cortex-a72\"}")
    return Profile(**kw)


def _reference_rows(rows, pid: str) -> tuple:
    """Validated `reference` rows: published latencies of a reference network on this device."""
    from .reference import REFERENCE_MODELS

    if not isinstance(rows, (list, tuple)):
        raise ConfigError(f"profile {pid!r}: field 'reference' must be a list of measurements like "
                          "{\"model\": \"mobilenet_v1\", \"precision\": \"fp32\", \"threads\": 4, \"latency_ms\": 61.2}")
    out = []
    for i, r in enumerate(rows):
        where = f"reference[{i}]"
        if not isinstance(r, dict):
            raise ConfigError(f"profile {pid!r}: {where} must be a dict with model, precision, threads, latency_ms")
        if r.get("model", "mobilenet_v1") not in REFERENCE_MODELS:
            raise ConfigError(f"profile {pid!r}: {where}.model must be one of {', '.join(REFERENCE_MODELS)}, "
                              f"got {r.get('model')!r}")
        if r.get("precision") not in PRECISIONS:
            raise ConfigError(f"profile {pid!r}: {where}.precision must be one of {', '.join(PRECISIONS)}, "
                              f"got {r.get('precision')!r}")
        fw = r.get("framework")
        if fw is not None:
            framework(fw)
        row = dict(r, model=r.get("model", "mobilenet_v1"),
                   threads=_num(r, "threads", f"{pid}.{where}", 1, 4096, integer=True, strict_lo=False),
                   latency_ms=_num(r, "latency_ms", f"{pid}.{where}", 0, 1e7),
                   width=_num(r, "width", f"{pid}.{where}", 0, 4, required=False) or 1.0,
                   size=_num(r, "size", f"{pid}.{where}", 8, 4096, required=False, integer=True) or 224,
                   classes=_num(r, "classes", f"{pid}.{where}", 1, 100000, required=False, integer=True,
                                strict_lo=False) or 1000)
        out.append(row)
    return tuple(out)


@functools.lru_cache(maxsize=1)
def host_profile() -> Profile:
    """This machine as a Profile: microarchitecture from vendor/family/model, clock, cores, RAM, bandwidth."""
    from .host import host_profile_dict

    return _from_dict(host_profile_dict(), user=False)


__all__ = ["Profile", "framework", "get", "host_fingerprint", "host_label", "host_profile", "list_profiles", "load_profile"]
