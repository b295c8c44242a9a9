"""`edgelab inspect`: a model's facts, its heaviest operators, and which runtimes can run every op."""
from __future__ import annotations

from .model import load


def runtime_support(model) -> dict:
    """runtime -> {"ok": bool, "unsupported": [op types], "note": str}."""
    from .runners import ort

    out = {}
    bad = ort.unsupported_ops(model.path)
    out["onnxruntime"] = {"ok": not bad, "unsupported": bad, "note": "CPUExecutionProvider"}
    try:
        from .runners import tvm as tvm_runner

        check = getattr(tvm_runner, "unsupported_ops", None)
    except ImportError:
        check = None
    if check is not None:
        try:
            bad_tvm = check(model)
            out["tvm"] = {"ok": not bad_tvm, "unsupported": bad_tvm, "note": "Relax ONNX frontend"}
        except Exception as e:  # TVM missing or broken: say so, do not fail inspect
            out["tvm"] = {"ok": None, "unsupported": [], "note": f"not checked: {e}"}
    return out


def inspect_model(source, *, profiles=()) -> dict:
    model = load(source)
    heavy = sorted(model.ops, key=lambda o: (o.macs, o.flops), reverse=True)[:10]
    info = {
        "model": model.to_dict(),
        "heaviest_ops": [{"node": o.node, "op_type": o.op_type, "macs": o.macs, "flops": o.flops,
                          "bytes": o.bytes_read + o.bytes_written, "precision": o.precision} for o in heavy],
        "support": runtime_support(model),
    }
    if profiles:
        from .estimate import fit_summary

        info["profiles"] = fit_summary(model, profiles)
    return info


def format_inspect(info: dict) -> str:
    m = info["model"]
    lines = [f"{m['name']}  ({m['path']})",
             f"  sha256 {m['sha256'][:16]}  size {m['size_bytes'] / 1024:.1f} KiB  opset {m['opset']}  "
             f"producer {m['producer'] or '-'}",
             f"  params {m['params']:,}  weights {m['weight_bytes'] / 1024:.1f} KiB  "
             f"MACs {m['macs'] / 1e6:.2f} M  other flops {m['flops'] / 1e6:.2f} M  (batch 1)  "
             f"peak activations {m['peak_activation_bytes'] / 1024:.1f} KiB"]
    for t in m["inputs"]:
        lines.append(f"  input  {t['name']}: {t['dtype']} {list(t['shape'])}")
    for t in m["outputs"]:
        lines.append(f"  output {t['name']}: {t['dtype']} {list(t['shape'])}")
    lines.append("  operators: " + ", ".join(f"{k}×{v}" for k, v in m["op_histogram"].items()))
    if m["uncounted_ops"]:
        lines.append(f"  work not counted for: {', '.join(m['uncounted_ops'])}")
    lines.append("  heaviest nodes:")
    for o in info["heaviest_ops"]:
        lines.append(f"    {o['node'][:40]:40s} {o['op_type']:14s} {o['macs'] / 1e6:9.2f} M MACs  "
                     f"{o['bytes'] / 1024:9.1f} KiB moved  {o['precision']}")
    lines.append("  runtime support:")
    for rt, s in info["support"].items():
        state = "all ops supported" if s["ok"] else ("not checked" if s["ok"] is None else
                                                    "unsupported: " + ", ".join(s["unsupported"]))
        lines.append(f"    {rt:12s} {state}  ({s['note']})")
    for name, p in (info.get("profiles") or {}).items():
        lines.append(f"  {name}: {p}")
    return "\n".join(lines)
