"""The widget's bridge to the profile catalog and the savings model (edgelab.profiles, edgelab.savings).

Thin: it builds a Workload from the slider values and calls the pure savings function on the finished
Report for the best variant per profile. When those modules are not installed the widget still works,
with no profiles to pick and savings taken from the Report as it was computed.
"""
from __future__ import annotations

import dataclasses
import inspect

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
    ps = list_profiles()
    if isinstance(ps, dict):
        return dict(ps)
    out = {}
    for p in ps:
        pid = p if isinstance(p, str) else (p.get("id") if isinstance(p, dict) else getattr(p, "id", str(p)))
        out[pid] = p
    return out


def cloud_options() -> list[str]:
    s = _savings_module()
    for name in ("CLOUD_OPTIONS", "cloud_options"):
        opts = getattr(s, name, None) if s else None
        if callable(opts):
            opts = opts()
        if opts:
            return list(opts)
    return FALLBACK_CLOUD


def make_workload(**values):
    """A savings.Workload from the slider values (fields it does not have are left out); None without it."""
    s = _savings_module()
    wl = getattr(s, "Workload", None) if s else None
    if wl is None:
        return None
    names = {f.name for f in dataclasses.fields(wl)} if dataclasses.is_dataclass(wl) else set(
        inspect.signature(wl).parameters)
    aliases = {"devices": ("devices", "n_devices", "fleet_size"), "cloud": ("cloud", "cloud_option"),
               "electricity_usd_per_kwh": ("electricity_usd_per_kwh", "electricity_usd_kwh", "electricity_price")}
    kw = {}
    for key, val in values.items():
        for name in aliases.get(key, (key,)):
            if name in names:
                kw[name] = val
                break
    return wl(**kw)


def savings_for(report, workload, best: dict) -> dict:
    """{profile: savings dict + 'variant'} for the best variant per profile, recomputed for `workload`."""
    s = _savings_module()
    fn = getattr(s, "report_savings", None) if s else None
    fresh = fn(report, workload) if (fn is not None and workload is not None) else None
    out = {}
    for prof, vid in best.items():
        if fresh is not None:
            sav = (fresh.get(vid) or {}).get(prof)
        else:
            sav = (report.variant(vid).get("savings") or {}).get(prof)
        if sav:
            out[prof] = dict(sav, variant=vid)
    return out
