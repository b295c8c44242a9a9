"""Cloud-vs-edge cost model: what serving a workload costs in the cloud vs on edge devices, per month.

    >>> from edgelab.savings import Workload, savings
    >>> w = Workload(requests_per_day=1e6, payload_in_bytes=50_000)
    >>> savings(edge_ms=12.0, profile="rpi5", workload=w, cloud_ms={"serverless": 8.0, "cpu_instance": 5.0})

Prices come from one dated table (profiles/prices.json) and can be overridden per call; the result says
which prices and date it used.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import ConfigError

PRICES = Path(__file__).parent / "profiles" / "prices.json"
HOURS_PER_MONTH = 365.25 * 24 / 12  # 730.5
DAYS_PER_MONTH = 365.25 / 12  # 30.44


@dataclass(frozen=True)
class Workload:
    """Requests served, their peak factor and payloads, the fleet size and the horizon."""

    requests_per_day: float
    peak_factor: float = 3.0
    payload_in_bytes: float = 50_000
    payload_out_bytes: float = 1_000
    devices: int = 1
    months: float = 36.0

    def __post_init__(self):
        for name, lo, strict in (("requests_per_day", 0, True), ("peak_factor", 1, False),
                                 ("payload_in_bytes", 0, False), ("payload_out_bytes", 0, False),
                                 ("devices", 1, False), ("months", 0, True)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v) or \
                    (v <= lo if strict else v < lo) or math.isinf(v):
                raise ConfigError(f"workload {name} must be a number {'>' if strict else '>='} {lo}, got {v!r}")

    @property
    def peak_rps(self) -> float:
        return self.requests_per_day / 86400 * self.peak_factor

    @property
    def requests_per_month(self) -> float:
        return self.requests_per_day * DAYS_PER_MONTH

    def to_dict(self) -> dict:
        return asdict(self)


def load_prices(overrides: dict | None = None) -> dict:
    """The price table: {'date', 'values': {item: number}, 'sources': {...}, 'overridden': [...]}."""
    table = json.loads(PRICES.read_text())
    values = {k: v["value"] for k, v in table["items"].items()}
    overrides = dict(overrides or {})
    extra = {"device_usd"}  # a device price for every profile (or device_usd:<profile id>)
    for k, v in overrides.items():
        if k not in values and k not in extra and not k.startswith("device_usd:"):
            raise ConfigError(f"unknown price {k!r}; valid: {', '.join([*values, 'device_usd', 'device_usd:<profile>'])}")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise ConfigError(f"price {k!r} must be a number >= 0, got {v!r}")
    values.update(overrides)
    return {"date": table["date"], "currency": table["currency"], "region": table["region"], "values": values,
            "sources": {k: f"{v['source']} ({v['date']})" for k, v in table["items"].items()},
            "overridden": sorted(overrides)}


def cloud_costs(workload: Workload, cloud_ms: dict, prices: dict) -> dict:
    """$/month per cloud option that has a latency: serverless, cpu_instance, gpu_instance (+ egress)."""
    from .profiles import get

    p, w = prices["values"], workload
    egress = w.requests_per_month * w.payload_out_bytes / 1e9 * p["egress_usd_per_gb"]
    out = {}
    if cloud_ms.get("serverless"):
        billed_s = math.ceil(cloud_ms["serverless"]) / 1000  # billed per 1 ms
        out["serverless"] = w.requests_per_month * (billed_s * p["serverless_memory_gb"] * p["serverless_usd_per_gb_s"]
                                                    + p["serverless_usd_per_request"])
    for opt, prof_id, price in (("cpu_instance", "cloud-arm", "cpu_instance_usd_per_hour"),
                                ("gpu_instance", "cloud-gpu", "gpu_instance_usd_per_hour")):
        ms = cloud_ms.get(opt)
        if not ms:
            continue
        slots = (get(prof_id).vcpus or 1) if opt == "cpu_instance" else 1  # one request per vCPU at a time
        capacity_rps = slots * 1000.0 / ms
        n = max(1, math.ceil(w.peak_rps / (capacity_rps * p["utilisation_target"])))
        out[opt] = n * p[price] * HOURS_PER_MONTH
        out[f"{opt}_count"] = n
    return {"options": {k: round(v, 6) if isinstance(v, float) else v for k, v in out.items()},
            "egress_usd_month": round(egress, 6)}


def savings(edge_ms: float | None, profile, workload: Workload, cloud_ms: dict, prices: dict | None = None,
            *, sensitivity: bool = True) -> dict:
    """Cloud $/month (cheapest option + egress) vs edge $/month (hardware amortised + energy) for `profile`."""
    from .profiles import get

    prof = get(profile)
    pr = prices if prices and "values" in prices else load_prices(prices)
    p, w = pr["values"], workload
    cc = cloud_costs(w, cloud_ms, pr)
    opts = {k: v for k, v in cc["options"].items() if not k.endswith("_count")}
    if not opts:
        raise ConfigError("no cloud latency to price: give cloud_ms={'serverless': ms, 'cpu_instance': ms, ...}")
    best = min(opts, key=opts.get)
    cloud = opts[best] + cc["egress_usd_month"]
    res = {"cloud_option": best, "cloud_options_usd_month": opts, "egress_usd_month": cc["egress_usd_month"],
           "cloud_usd_month": round(cloud, 6),
           "network_latency_avoided_ms": round(p["network_rtt_ms"] + (w.payload_in_bytes + w.payload_out_bytes)
                                               * 8 / (p["uplink_mbps"] * 1e6) * 1000, 3),
           "prices_date": pr["date"], "owned": prof.owned, "notes": []}
    if edge_ms is None:
        res.update(edge_usd_month=None, savings_usd_month=None, breakeven_months=None)
        res["notes"].append(f"the variant cannot run on {prof.id}: no edge cost")
        return res
    price = p.get(f"device_usd:{prof.id}", p.get("device_usd", prof.price_usd))
    needed = max(1, math.ceil(w.peak_rps * edge_ms / 1000 / p["utilisation_target"]))
    busy = w.peak_rps / w.devices * edge_ms / 1000
    if prof.owned:
        n_dev, upfront = w.devices, 0.0
        res["notes"].append(f"runs on {prof.name.split('(')[0].strip()} devices users already own: no hardware cost")
        if busy > 1:
            res["notes"].append(f"each device would be busy {busy:.0%} of the time at peak: too slow for this load")
    else:
        n_dev = max(w.devices, needed)
        if price is None:
            res.update(edge_usd_month=None, savings_usd_month=None, breakeven_months=None)
            res["notes"].append(f"no price for {prof.id}: pass prices={{'device_usd:{prof.id}': ...}}")
            return res
        upfront = n_dev * price
        if n_dev > w.devices:
            res["notes"].append(f"{n_dev} devices needed for the peak load (asked for {w.devices})")
    active_s = w.requests_per_month * edge_ms / 1000
    pw, idle = prof.power_w or 0.0, prof.idle_power_w or 0.0
    if prof.owned:
        kwh = active_s * pw / 3.6e6
    else:
        kwh = n_dev * idle * HOURS_PER_MONTH / 1000 + active_s * max(pw - idle, 0.0) / 3.6e6
    energy = kwh * p["electricity_usd_per_kwh"]
    hardware = upfront / w.months
    edge = hardware + energy
    gain = cloud - energy
    res.update(edge_usd_month=round(edge, 6), edge_hardware_usd_month=round(hardware, 6),
               edge_energy_usd_month=round(energy, 6), edge_kwh_month=round(kwh, 6), devices=n_dev,
               device_price_usd=price, upfront_usd=round(upfront, 2), savings_usd_month=round(cloud - edge, 6),
               breakeven_months=(0.0 if upfront == 0 else (round(upfront / gain, 3) if gain > 0 else None)),
               device_busy_at_peak=round(busy, 6))
    if res["breakeven_months"] is None:
        res["notes"].append("edge running costs exceed the cloud bill: never breaks even")
    if sensitivity:
        res["sensitivity"] = _sensitivity(edge_ms, prof, w, cloud_ms, pr, res["savings_usd_month"])
    return res


def _sensitivity(edge_ms, prof, w, cloud_ms, pr, base) -> list[dict]:
    """Change in savings $/month when each input rises 10%, largest first (top 4)."""
    from dataclasses import replace

    def run(**kw):
        wl = kw.pop("workload", w)
        e = kw.pop("edge_ms", edge_ms)
        c = kw.pop("cloud_ms", cloud_ms)
        vals = dict(pr["values"], **kw.pop("prices", {}))
        r = savings(e, prof, wl, c, dict(pr, values=vals), sensitivity=False)
        return r.get("savings_usd_month")

    price_key = f"device_usd:{prof.id}"
    dev_price = pr["values"].get(price_key, pr["values"].get("device_usd", prof.price_usd)) or 0
    trials = {
        "requests_per_day": lambda: run(workload=replace(w, requests_per_day=w.requests_per_day * 1.1)),
        "payload_out_bytes": lambda: run(workload=replace(w, payload_out_bytes=w.payload_out_bytes * 1.1)),
        "edge latency": lambda: run(edge_ms=edge_ms * 1.1),
        "cloud latency": lambda: run(cloud_ms={k: v * 1.1 for k, v in cloud_ms.items() if v}),
        "device price": lambda: run(prices={price_key: dev_price * 1.1}),
        "electricity price": lambda: run(prices={"electricity_usd_per_kwh": pr["values"]["electricity_usd_per_kwh"] * 1.1}),
        "cloud prices": lambda: run(prices={k: pr["values"][k] * 1.1 for k in (
            "serverless_usd_per_gb_s", "serverless_usd_per_request", "cpu_instance_usd_per_hour",
            "gpu_instance_usd_per_hour", "egress_usd_per_gb")}),
        "horizon months": lambda: run(workload=replace(w, months=w.months * 1.1)),
    }
    out = []
    for name, f in trials.items():
        v = f()
        if v is not None and base is not None:
            out.append({"input": name, "savings_change_usd_month": round(v - base, 6)})
    out.sort(key=lambda d: -abs(d["savings_change_usd_month"]))
    return out[:4]


__all__ = ["Workload", "cloud_costs", "load_prices", "savings"]
