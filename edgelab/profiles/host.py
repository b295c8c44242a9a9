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
