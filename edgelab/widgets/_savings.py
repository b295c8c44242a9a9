"""The widget's bridge to the profile catalog and the savings model (edgelab.profiles, edgelab.savings).

Thin: it builds a Workload from the slider values and calls the pure savings function on the finished
Report for the best variant per profile. When those modules are not installed the widget still works,
with no profiles to pick and savings taken from the Report as it was computed.
"""
from __future__ import annotations


FALLBACK_CLOUD = ["serverless", "instance", "gpu-instance"]


def _savings_module():
    try:
        from .. import savings
    except ImportError:
        return None
    return savings


def profile_catalog() -> dict:
    """{profile id: profile (object or dict)} from edgelab.profiles, empty when there is no catalog."""
    try:
        from ..profiles import list_profiles
    except ImportError:
        return {}
    from ..profiles import get

    return {pid: get(pid) for pid in list_profiles()}


CLOUD_OPTIONS = ["cheapest", "serverless", "cpu_instance", "gpu_instance"]


def cloud_options() -> list[str]:
    return CLOUD_OPTIONS if _savings_module() else FALLBACK_CLOUD


def make_workload(requests_per_day: float, devices: int):
    """A savings.Workload from the slider values; None when edgelab.savings is not installed."""
    s = _savings_module()
    return s.Workload(requests_per_day=float(requests_per_day), devices=int(devices)) if s else None


def savings_for(report, workload, best: dict, *, cloud: str = "cheapest",
                electricity_usd_per_kwh: float | None = None) -> dict:
    """{profile: savings dict + 'variant'} for the best variant per profile, recomputed for `workload`.

    Uses the variant's projected latency on the profile and the cloud reference latencies the report
    stored, so nothing is measured or projected again; `cloud` restricts the cloud side to one option.
    """
    s = _savings_module()
    prices = s.load_prices({"electricity_usd_per_kwh": electricity_usd_per_kwh}
                           if electricity_usd_per_kwh is not None else None) if s else None
    out = {}
    for prof, vid in best.items():
        v = report.variant(vid)
        old = (v.get("savings") or {}).get(prof) or {}
        cloud_ms = dict(old.get("cloud_latency_ms") or {})
        if cloud != "cheapest" and cloud_ms.get(cloud):
            cloud_ms = {cloud: cloud_ms[cloud]}
        edge_ms = ((v.get("estimates") or {}).get(prof) or {}).get("latency_ms")
        if s is None or workload is None or not cloud_ms:
            sav = old
        else:
            sav = dict(s.savings(edge_ms, prof, workload, cloud_ms, prices, sensitivity=False),
                       source=old.get("source"))
        if sav:
            out[prof] = dict(sav, variant=vid)
    return out
