"""Latency statistics from timed runs, and variant/reference ratios from interleaved blocks."""
from __future__ import annotations

import numpy as np


def latency_stats(times_s) -> dict:
    """p10/p50/p90/p99/mean/stdev in milliseconds and the run count, from per-call times in seconds.

    p10 is the least-contended speed (used to calibrate projections); p50 is what the tables show."""
    t = np.asarray(times_s, dtype=np.float64) * 1e3
    if t.size == 0:
        return {"p10": None, "p50": None, "p90": None, "p99": None, "mean": None, "stdev": None, "runs": 0}
    p10, p50, p90, p99 = np.percentile(t, [10, 50, 90, 99])
    return {"p10": round(float(p10), 4), "p50": round(float(p50), 4), "p90": round(float(p90), 4),
            "p99": round(float(p99), 4),
            "mean": round(float(t.mean()), 4), "stdev": round(float(t.std(ddof=1)) if t.size > 1 else 0.0, 4),
            "runs": int(t.size)}


def ratio_stats(blocks: list[float], ref_blocks: list[float]) -> dict:
    """Speed-up vs the reference from block medians measured in the same rounds.

    Each interleaved round times every variant once (a block of calls); the ratio of the reference's
    block median to the variant's in the same round cancels most machine-wide slowdowns. Returns the
    median speed-up over rounds and its interquartile range.
    """
    n = min(len(blocks), len(ref_blocks))
    if n == 0:
        return {"median": None, "q25": None, "q75": None, "rounds": 0}
    r = np.asarray(ref_blocks[:n]) / np.asarray(blocks[:n])
    q25, med, q75 = np.percentile(r, [25, 50, 75])
    return {"median": round(float(med), 3), "q25": round(float(q25), 3), "q75": round(float(q75), 3), "rounds": n}


def block_spread(blocks: list[float]) -> float | None:
    """Relative interquartile spread of a variant's block medians (0.1 = 10 %)."""
    if len(blocks) < 2:
        return None
    q25, med, q75 = np.percentile(blocks, [25, 50, 75])
    return round(float((q75 - q25) / med), 3) if med > 0 else None
