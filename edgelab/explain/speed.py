"""Why a variant is (not) faster than its parent: ranked findings computed from two measured profiles.

Every finding is derived from evidence measured now — kernel-time shares from onnxruntime's profiler,
the census of the graph the runtime actually executes, and the host's ISA flags — never canned text.
A finding may carry a concrete `recipe` (a Recipe dict) to try in one call.
"""
from __future__ import annotations

from collections import Counter

from .profile import INT8_OPS, QUANT_OPS, family

OVERHEAD_SHARE = 0.5  # parent kernels below this share of a call: fixed per-call cost dominates
QDQ_SHARE = 0.10  # Q/DQ + Cast above this share of kernel time is worth naming
INT8_ISA = ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm")
FP16_ISA = ("avx512_fp16", "asimdhp")


def _finding(cause, title, detail, *, us=0.0, share=0.0, nodes=(), recipe=None, evidence=None):
    return {"cause": cause, "title": title, "detail": detail, "impact_us": round(float(us), 2),
            "share": round(float(share), 4), "nodes": list(nodes)[:50], "recipe": recipe, "evidence": evidence or {}}


def _suggest(steps: list, name: str, **over) -> dict | None:
    """The variant's recipe with `over` applied to its last quantization step (a Recipe dict), or None."""
    steps = [dict(s, options=dict(s.get("options") or {})) for s in steps]
    idx = next((i for i in range(len(steps) - 1, -1, -1) if steps[i]["pass"].startswith("int8")), None)
    if idx is None:
        return None
    if over.pop("_pass", None) == "int8-static" and steps[idx]["pass"] != "int8-static":
        steps[idx] = {"pass": "int8-static", "options": {}}
    steps[idx]["options"].update(over)
    return {"name": name, "steps": steps, "description": "suggested by edgelab explain"}


def _by_family(prof: dict) -> Counter:
    fam = Counter()
    for op, us in (prof.get("by_op") or {}).items():
        fam[family(op)] += us
    return fam


def analyze(variant: dict, parent: dict, *, isa=(), precision: str = "int8", steps=(), name: str = "variant",
            parent_name: str = "fp32") -> dict:
    """{headline, ratio, findings: [...ranked], families} from two `profile.measure_one` results."""
    isa = set(isa)
    steps = list(steps)
    wv, wp = variant["wall_us"], parent["wall_us"]
    ratio = wv / wp if wp else None
    kv = variant.get("kernel_us") or 0.0
    graph = variant.get("runtime_graph") or []
    node_us = {n["name"]: n["us"] for n in variant.get("nodes") or []}
    opts = next((dict(s.get("options") or {}) for s in reversed(steps) if s["pass"].startswith("int8")), {})
    findings = []

    # 1. fixed per-call overhead (tiny models): little of a call is kernel work
    pk = parent.get("kernel_us") or 0.0
    share_k = pk / wp if wp else 1.0
    floor = parent.get("call_floor_us")
    if share_k < OVERHEAD_SHARE:
        n_nodes = len(parent.get("runtime_graph") or [])
        findings.append(_finding(
            "call_overhead", "Per-call overhead dominates this model",
            f"{parent_name} spends only {pk:.1f} of {wp:.1f} µs per call ({share_k:.0%}) in kernels; the bare "
            f"sess.run of an Identity model costs {floor if floor is not None else '?'} µs here and the rest is "
            f"per-node dispatch over {n_nodes} nodes. Quantization can only shrink the {share_k:.0%} that is "
            f"compute, so at most {1 / max(1 - share_k, 1e-9):.2f}x; larger batches amortize the fixed cost.",
            us=wv - kv, share=(wv - kv) / wv if wv else 0,
            evidence={"parent_kernel_us": pk, "parent_wall_us": wp, "call_floor_us": floor,
                      "parent_nodes": n_nodes}))

    # 2. Q/DQ and Cast time
    q_nodes = [n for n in graph if n["op_type"] in QUANT_OPS]
    casts = [n for n in graph if n["op_type"] == "Cast"]
    q_us = sum(node_us.get(n["name"], 0) for n in q_nodes)
    c_us = sum(node_us.get(n["name"], 0) for n in casts)
    if kv and (q_us + c_us) / kv >= QDQ_SHARE:
        cnt = Counter(n["op_type"] for n in q_nodes + casts)
        findings.append(_finding(
            "qdq_overhead", "Time spent converting between int8 and float",
            f"{(q_us + c_us) / kv:.0%} of kernel time ({q_us + c_us:.1f} µs/call) is "
            + ", ".join(f"{k} ×{v}" for k, v in cnt.most_common()) + " in the graph onnxruntime runs.",
            us=q_us + c_us, share=(q_us + c_us) / wv, nodes=[n["name"] for n in q_nodes + casts],
            evidence={"quantize_us": q_us, "cast_us": c_us, "counts": dict(cnt)}))

    # 3. float islands: float ops fed by DequantizeLinear and feeding QuantizeLinear (no int8 kernel)
    producer = {o: n for n in graph for o in n["outputs"]}
    consumers = {}
    for n in graph:
        for i in n["inputs"]:
            consumers.setdefault(i, []).append(n)
    islands = []
    for n in graph:
        if n["op_type"] in QUANT_OPS or n["op_type"] in INT8_OPS or n["precision"] not in ("float32", "float16"):
            continue
        fed = any((producer.get(i) or {}).get("op_type") == "DequantizeLinear" for i in n["inputs"])
        feeds = any(c["op_type"] == "QuantizeLinear" for o in n["outputs"] for c in consumers.get(o, []))
        if fed or feeds:
            islands.append(n)
    compute_f = [n for n in islands if family(n["op_type"]) in ("conv", "matmul")]
    other_f = [n for n in islands if family(n["op_type"]) not in ("conv", "matmul")]
    all_compute = [n for n in graph if family(n["op_type"]) in ("conv", "matmul")]
    if compute_f:
        us = sum(node_us.get(n["name"], 0) for n in compute_f)
        cnt = Counter(n["op_type"] for n in compute_f)
        s8 = opts.get("activation_type") == "int8"
        why = ("signed int8 activations (activation_type=int8) are not fused on x86, whose int8 kernels are "
               "U8S8" if s8 else "the runtime found no int8 kernel for this Q/DQ pattern")
        rec = _suggest(steps, f"{name}-u8", activation_type="uint8") if s8 else None
        findings.append(_finding(
            "unfused_compute", "Compute ops left in float between Q/DQ pairs",
            f"{len(compute_f)} of {len(all_compute)} " + "/".join(cnt) + f" nodes run in float "
            f"({us:.1f} µs/call) between DequantizeLinear and QuantizeLinear: {why}; every call also pays "
            "the dequantization of their weights and inputs.",
            us=us, share=us / wv, nodes=[n["name"] for n in compute_f], recipe=rec,
            evidence={"unfused": len(compute_f), "compute_nodes": len(all_compute)}))
    if other_f:
        us = sum(node_us.get(n["name"], 0) for n in other_f)
        cnt = Counter(n["op_type"] for n in other_f)
        compute_types = sorted({n["op_type"] for n in all_compute if n["op_type"] in ("Conv", "MatMul", "Gemm")}
                               | {op for op in ("Conv", "MatMul", "Gemm") if op in {x.get("op_type") for x in
                                  parent.get("runtime_graph") or []}})
        rec = _suggest(steps, f"{name}-compute-only", op_types="+".join(compute_types) or "MatMul")
        findings.append(_finding(
            "no_int8_kernel", "Ops with no int8 kernel run in float, wrapped in Q/DQ",
            ", ".join(f"{k} ×{v}" for k, v in cnt.most_common()) + f" have no int8 kernel here: they run "
            f"in float ({us:.1f} µs/call) and force a DequantizeLinear before and a QuantizeLinear after "
            f"them ({q_us:.1f} µs/call of Q/DQ in total). Quantizing only the compute ops keeps these "
            "chains in float without conversions.",
            us=us + q_us, share=(us + q_us) / wv, nodes=[n["name"] for n in other_f], recipe=rec,
            evidence={"ops": dict(cnt), "float_us": us, "quantize_us": q_us}))

    # 4. signed int8 activations on kernels that ran (slow path on x86)
    s8 = [n for n in graph if n["precision"] == "int8 (s8 activations)"]
    if s8 and variant.get("arch", "x86_64") in ("x86_64", "AMD64"):
        us = sum(node_us.get(n["name"], 0) for n in s8)
        findings.append(_finding(
            "s8_activations", "Signed int8 activations take the slow kernel path",
            f"{len(s8)} int8 nodes (" + ", ".join(sorted({n['op_type'] for n in s8})) + f") get int8 "
            f"(S8S8) activations, {us:.1f} µs/call; x86 int8 kernels (VNNI vpdpbusd) are U8S8, so "
            "activation_type=uint8 takes the fast path.",
            us=us, share=us / wv, nodes=[n["name"] for n in s8],
            recipe=_suggest(steps, f"{name}-u8", activation_type="uint8")))

    # 5. dynamic quantization of convolutions: ConvInteger + float glue
    ci = [n for n in graph if n["op_type"] == "ConvInteger"]
    if ci:
        glue = [n for n in graph if n["op_type"] in ("DynamicQuantizeLinear", "Cast", "Mul", "Add", "Relu")]
        us_ci = sum(node_us.get(n["name"], 0) for n in ci)
        us_g = sum(node_us.get(n["name"], 0) for n in glue)
        conv_p = _by_family(parent)["conv"]
        findings.append(_finding(
            "dynamic_conv", "Dynamic quantization turned Conv into ConvInteger + float glue",
            f"{len(ci)} ConvInteger nodes take {us_ci:.1f} µs/call ({us_ci / conv_p:.1f}x the {conv_p:.1f} µs "
            f"of all {parent_name} convolutions) plus {us_g:.1f} µs of DynamicQuantizeLinear/Cast/Mul/Add/Relu "
            "glue; ConvInteger has no fused requantization or blocked layout. Static int8 (QDQ) keeps fused "
            "QLinearConv kernels." if conv_p else
            f"{len(ci)} ConvInteger nodes take {us_ci:.1f} µs/call plus {us_g:.1f} µs of glue.",
            us=us_ci + us_g, share=(us_ci + us_g) / wv, nodes=[n["name"] for n in ci],
            recipe={"name": "int8-static", "steps": [{"pass": "int8-static", "options": {}}],
                    "description": "static int8 QDQ (needs calibration data)"}))

    # 6. fp16 requested, float32 executed
    if precision == "fp16":
        comp = [n for n in graph if family(n["op_type"]) in ("conv", "matmul")]
        f32 = [n for n in comp if n["precision"] == "float32"]
        have = [f for f in FP16_ISA if f in isa]
        if comp and len(f32) == len(comp):
            findings.append(_finding(
                "fp16_as_fp32", "fp16 runs as fp32",
                f"all {len(comp)} compute nodes of the runtime graph run in float32 ({len(casts)} Cast nodes "
                f"inserted); the CPU provider has no fp16 kernel for them"
                + ("" if have else " and this CPU has no native fp16 arithmetic (no avx512_fp16)")
                + ". fp16 here only halves the file size.",
                us=sum(node_us.get(n["name"], 0) for n in casts), share=c_us / wv if wv else 0,
                nodes=[n["name"] for n in casts], evidence={"fp32_compute": len(f32), "fp16_isa": have}))

    # 7. the host's instructions for this precision (always stated: it frames every int8/fp16 result)
    if precision in ("int8", "fp16"):
        want = INT8_ISA if precision == "int8" else FP16_ISA
        have = [f for f in want if f in isa]
        findings.append(_finding(
            "isa", f"Host CPU {'has' if have else 'lacks'} {precision} instructions",
            (f"this CPU has {', '.join(have)}: {precision} dot products are native"
             if have else f"this CPU has none of {', '.join(want)}: {precision} arithmetic is emulated with "
             "wider instructions, so speed-ups are small or negative"),
            evidence={"isa": sorted(isa), "needed_any_of": list(want), "present": have}))

    fam_v, fam_p = _by_family(variant), _by_family(parent)
    fams = {f: {"parent_us": round(fam_p.get(f, 0), 2), "variant_us": round(fam_v.get(f, 0), 2)}
            for f in sorted(set(fam_v) | set(fam_p))}
    moved = sorted(fams.items(), key=lambda kv: -abs(kv[1]["variant_us"] - kv[1]["parent_us"]))
    parts = []
    for f, d in moved[:4]:
        a, b = d["parent_us"], d["variant_us"]
        parts.append(f"{f} {a:.1f} → {b:.1f} µs" + (f" ({a / b:.2f}x faster)" if a and b and b < a else
                                                        f" ({b / a:.2f}x slower)" if a and b else ""))
    findings.append(_finding("op_times", "Kernel time by op family (per call)", "; ".join(parts),
                             us=abs(sum(fam_v.values()) - sum(fam_p.values())), evidence={"families": fams}))
    findings.sort(key=lambda f: (f["cause"] in ("isa", "op_times"), -f["impact_us"]))
    verdict = ("faster" if ratio < 0.95 else "slower" if ratio > 1.05 else "about as fast") if ratio else "?"
    head = (f"{name} is {verdict} than {parent_name}: {wv:.1f} vs {wp:.1f} µs per call "
            f"({wp / wv:.2f}x speed-up, batch {variant.get('batch', 1)}, profiled run)") if ratio else name
    if findings and findings[0]["cause"] not in ("isa", "op_times"):
        head += f"; main cause: {findings[0]['title'].lower()}"
    return {"headline": head, "ratio": round(ratio, 4) if ratio else None, "findings": findings,
            "families": fams}
