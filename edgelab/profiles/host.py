"""This machine, detected at run time: CPU model, cores, ISA flags, RAM, runtime versions.

Every measured figure carries this fingerprint (the CPU differs between machines of one kind).
"""
from __future__ import annotations

import functools
import os
import platform
from importlib import metadata

# ISA features that decide which kernels run fast (int8 dot products, bf16/fp16, matrix units)
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
             "avx_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16",
             "asimd", "asimddp", "asimdhp", "i8mm", "sve", "sve2")


def _cpuinfo() -> dict:
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                k = k.strip()
                if k and k not in info:
                    info[k] = v.strip()
    except OSError:
        pass
    return info


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def fingerprint() -> dict:
    """A dict describing the host; cached per process."""
    ci = _cpuinfo()
    flags = set((ci.get("flags") or ci.get("Features") or "").split())
    cpu = ci.get("model name") or ci.get("Hardware") or platform.processor() or platform.machine()
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return {
        "cpu": cpu,
        "vendor": ci.get("vendor_id", ""),
        "family": ci.get("cpu family", ""),
        "model": ci.get("model", ""),
        "arch": platform.machine(),
        "cores": cores,
        "isa": [f for f in ISA_FLAGS if f in flags],
        "ram_bytes": ram,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "onnxruntime": _version("onnxruntime"),
        "onnx": _version("onnx"),
        "tvm": _version("apache-tvm"),
        "edgelab": _version("edgelab"),
    }


def label(fp: dict | None = None) -> str:
    """Short human label: 'AMD EPYC, 2 cores, avx512_vnni'."""
    fp = fp or fingerprint()
    key = [f for f in ("amx_int8", "avx512_vnni", "avx_vnni", "avx512_fp16", "asimddp") if f in fp["isa"]]
    return f"{fp['cpu']} ({fp['arch']}, {fp['cores']} cores{', ' + '/'.join(key) if key else ''})"


# ---- the host as a profile ----------------------------------------------------------------------
_ARM_PARTS = {"0xd03": "cortex-a53", "0xd04": "cortex-a53", "0xd05": "cortex-a55", "0xd07": "cortex-a57",
              "0xd08": "cortex-a72", "0xd09": "cortex-a72", "0xd0b": "cortex-a76", "0xd0d": "cortex-a76",
              "0xd41": "cortex-a78", "0xd44": "cortex-x1", "0xd4d": "cortex-a715", "0xd4e": "cortex-x3",
              "0xd46": "cortex-a510", "0xd0c": "neoverse-n1", "0xd40": "neoverse-v1", "0xd49": "neoverse-n1"}
_INTEL6 = {0x55: "skylake-sp", 0x6A: "cascadelake-sp", 0x6C: "cascadelake-sp", 0x8F: "sapphirerapids",
           0xCF: "sapphirerapids", 0xAD: "sapphirerapids", 0xAE: "sapphirerapids", 0xBE: "gracemont",
           0x97: "golden-cove-client", 0x9A: "golden-cove-client", 0xB7: "golden-cove-client",
           0xBA: "golden-cove-client", 0xBF: "golden-cove-client", 0x9C: "tremont", 0x96: "tremont"}


def microarch(vendor: str = "", family="", model="", isa=(), cpu_part: str = "") -> str:
    """Name the microarchitecture (a key of the catalog's uarch table) from /proc/cpuinfo fields."""
    fam = int(family) if str(family).strip().isdigit() else None
    mod = int(model) if str(model).strip().isdigit() else None
    if cpu_part:
        return _ARM_PARTS.get(cpu_part.lower(), "arm-generic")
    if vendor == "AuthenticAMD" and fam is not None:
        if fam >= 26:
            return "zen5"
        if fam == 25:
            return "zen4" if mod is not None and (0x10 <= mod <= 0x1F or 0x60 <= mod <= 0x7F or 0xA0 <= mod <= 0xAF) \
                else "zen3"
        if fam == 23:
            return "zen2"
    if vendor == "GenuineIntel" and fam == 6 and mod is not None:
        name = _INTEL6.get(mod)
        if name == "skylake-sp" and "avx512_vnni" in isa:
            return "cascadelake-sp"
        if name:
            return name
    if "avx512f" in isa:
        return "skylake-sp" if "avx512_vnni" not in isa else "cascadelake-sp"
    if platform.machine() in ("aarch64", "arm64"):
        return "arm-generic"
    return "x86-generic"


def _clock_ghz(ci: dict) -> float:
    """Sustained clock: cpufreq max if exposed, else the TSC rate (BogoMIPS / 2 on x86), else cpu MHz."""
    try:
        khz = int(open("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read())
        return round(khz / 1e6, 2)
    except (OSError, ValueError):
        pass
    for key, div in (("bogomips", 2000.0), ("cpu MHz", 1000.0)):
        try:
            v = float(ci.get(key) or ci.get(key.capitalize()) or ci.get(key.upper()) or "")
            if v > 100 and platform.machine() in ("x86_64", "AMD64"):
                return round(v / div, 2)
        except ValueError:
            continue
    return 2.0


@functools.lru_cache(maxsize=1)
def measured_bandwidth_gbs() -> float:
    """Memory bandwidth of this host from a 64 MiB copy (best of 5; read + write bytes counted)."""
    import time

    import numpy as np

    a = np.ones(8 * 2**20, dtype=np.float64)
    b = np.empty_like(a)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        np.copyto(b, a)
        best = min(best, time.perf_counter() - t)
    return round(2 * a.nbytes / best / 1e9, 1)


GEMM_EFFICIENCY = 0.9  # a large fp32 GEMM reaches ~90 % of a core's FMA peak in onnxruntime/MLAS


@functools.lru_cache(maxsize=1)
def measured_gemm_gflops() -> float | None:
    """fp32 GFLOPS of one core on a 512³ MatMul in onnxruntime (best of 15), or None if it cannot run."""
    import time

    try:
        import numpy as np
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper

        n = 512
        w = numpy_helper.from_array(np.full((n, n), 0.5, np.float32), "w")
        g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "gemm",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, n])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])], [w])
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        sess = ort.InferenceSession(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
                                    .SerializeToString(), so, providers=["CPUExecutionProvider"])
        x = np.ones((n, n), np.float32)
        best = float("inf")
        for _ in range(15):
            t = time.perf_counter()
            sess.run(None, {"x": x})
            best = min(best, time.perf_counter() - t)
        return round(2 * n**3 / best / 1e9, 1)
    except Exception:
        return None


def host_profile_dict() -> dict:
    """The host as a profile dict (see edgelab.profiles.host_profile)."""
    from . import _catalog

    fp = fingerprint()
    ci = _cpuinfo()
    ua = microarch(fp["vendor"], fp["family"], fp["model"], fp["isa"], ci.get("CPU part", ""))
    nominal = _clock_ghz(ci)
    ghz, clock_note, eff = nominal, "(cpufreq max, else TSC rate)", None
    gemm = measured_gemm_gflops()
    per_cycle = _catalog()["uarch"].get(ua, {}).get("fp32")
    if gemm and per_cycle:  # the clock cores really run at (turbo), from what a core really computes
        ghz = round(gemm / (per_cycle * GEMM_EFFICIENCY), 2)
        clock_note = (f"effective: a 512³ fp32 MatMul in onnxruntime on 1 core ran at {gemm} GFLOPS = "
                      f"{GEMM_EFFICIENCY:.0%} of {per_cycle} FLOP/cycle × {ghz} GHz (nominal {nominal} GHz)")
        # the host's compute rate is then its measured GEMM rate: its efficiency is measured, not the class
        # prior (a prior such as x86-avx512's 0.55 would count the AVX-512 clock drop a second time and make
        # the calibration factor carry "this host beats its prior" onto every target)
        eff = GEMM_EFFICIENCY
    ram = fp["ram_bytes"] or 2**30
    bw = measured_bandwidth_gbs()
    return {"id": "host", "name": f"this machine: {label(fp)}", "kind": "cpu", "soc": fp["cpu"],
            "clusters": [{"uarch": ua, "count": fp["cores"], "ghz": ghz}], "mem_bandwidth_gbs": bw,
            "ram_bytes": int(ram), "os_reserved_bytes": min(int(ram) // 8, 2**30),
            **({"efficiency": eff} if eff else {}),
            "tvm_target": {"kind": "llvm", "num-cores": fp["cores"]},
            "sources": {"clusters": {"derived": f"detected: vendor {fp['vendor'] or '?'}, family {fp['family'] or '?'}, "
                                                f"model {fp['model'] or '?'} -> {ua}; {fp['cores']} cores at {ghz} GHz "
                                                + clock_note},
                        **({"efficiency": {"derived": f"measured: the 512³ MatMul's {gemm} GFLOPS is the host's "
                                                      "compute rate (efficiency = the GEMM fraction that defines the clock)"}}
                           if eff else {}),
                        "mem_bandwidth_gbs": {"derived": f"measured: 64 MiB numpy copy, best of 5 = {bw} GB/s"},
                        "tvm_target": {"derived": "the TVM engineer fills mcpu from tvm.target.codegen.llvm_get_system_cpu()"}}}
