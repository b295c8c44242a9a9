"""Cloud-vs-edge savings against hand-computed cases, and bad workloads/prices."""
import pytest

from edgelab.errors import ConfigError
from edgelab.savings import Workload, cloud_costs, load_prices, savings

PRICES = {"serverless_usd_per_gb_s": 0.00001, "serverless_usd_per_request": 0.000001, "serverless_memory_gb": 1.0,
          "egress_usd_per_gb": 0.1, "electricity_usd_per_kwh": 0.2, "device_usd:rpi4": 72.0,
          "cpu_instance_usd_per_hour": 0.1, "utilisation_target": 0.5, "network_rtt_ms": 40.0, "uplink_mbps": 8.0}
W = Workload(requests_per_day=86_400, peak_factor=2, payload_in_bytes=9_000, payload_out_bytes=1_000, months=36)
REQ_MONTH = 86_400 * 365.25 / 12  # 2,629,800


def test_cloud_serverless_and_instance_hand_computed():
    pr = load_prices(PRICES)
    c = cloud_costs(W, {"serverless": 9.2, "cpu_instance": 50.0}, pr)
    # billed per started ms: 10 ms × 1 GB × $0.00001/GB-s + $0.000001 per request
    assert c["options"]["serverless"] == pytest.approx(REQ_MONTH * (0.010 * 0.00001 + 0.000001), rel=1e-6)
    # peak 2 rps; a 2-vCPU instance serves 2 × 1000/50 = 40 rps, × 0.5 target -> 1 instance × $0.1 × 730.5 h
    assert c["options"]["cpu_instance"] == pytest.approx(73.05) and c["options"]["cpu_instance_count"] == 1
    assert c["egress_usd_month"] == pytest.approx(REQ_MONTH * 1000 / 1e9 * 0.1, rel=1e-6)


def test_edge_rpi4_hand_computed():
    s = savings(50.0, "rpi4", W, {"serverless": 10.0}, PRICES)
    cloud = REQ_MONTH * 1.1e-6 + REQ_MONTH * 1e-6 * 0.1          # 2.89278 + 0.26298
    kwh = 2.3 * 730.5 / 1000 + REQ_MONTH * 0.05 * (5.4 - 2.3) / 3.6e6  # idle all month + active extra
    edge = 72 / 36 + kwh * 0.2
    assert s["cloud_usd_month"] == pytest.approx(cloud, rel=1e-5)
    assert s["edge_kwh_month"] == pytest.approx(kwh, rel=1e-5)
    assert s["edge_usd_month"] == pytest.approx(edge, rel=1e-5)
    assert s["savings_usd_month"] == pytest.approx(cloud - edge, rel=1e-4)
    assert s["breakeven_months"] == pytest.approx(72 / (cloud - kwh * 0.2), rel=1e-4)
    # 40 ms RTT + 10,000 B × 8 / 8 Mbit/s = 10 ms
    assert s["network_latency_avoided_ms"] == pytest.approx(50.0)
    assert s["devices"] == 1 and s["prices_date"]
    names = [x["input"] for x in s["sensitivity"]]
    assert len(names) == 4 and "requests_per_day" in names


def test_owned_devices_cost_only_energy():
    s = savings(20.0, "galaxy-s23", W, {"serverless": 10.0}, PRICES)
    assert s["owned"] and s["edge_hardware_usd_month"] == 0 and s["breakeven_months"] == 0.0
    assert s["edge_kwh_month"] == pytest.approx(REQ_MONTH * 0.02 * 5.0 / 3.6e6, rel=1e-5)
    assert any("already own" in n for n in s["notes"])


def test_more_devices_for_peak_load_and_not_runnable():
    busy = Workload(requests_per_day=8_640_000, peak_factor=1)  # 100 rps
    s = savings(50.0, "rpi4", busy, {"serverless": 10.0}, PRICES)
    assert s["devices"] == 10  # 100 rps × 0.05 s / 0.5 utilisation
    s2 = savings(None, "coral", W, {"serverless": 10.0}, PRICES)
    assert s2["edge_usd_month"] is None and "cannot run" in s2["notes"][0]


@pytest.mark.parametrize("kw", [{"requests_per_day": 0}, {"requests_per_day": -5}, {"devices": 0},
                                {"months": 0}, {"peak_factor": 0.5}, {"payload_in_bytes": -1}])
def test_bad_workload(kw):
    with pytest.raises(ConfigError, match="workload"):
        Workload(**{"requests_per_day": 100, **kw})


def test_bad_prices():
    with pytest.raises(ConfigError, match="unknown price 'gpu'"):
        load_prices({"gpu": 1})
    with pytest.raises(ConfigError, match=">= 0"):
        load_prices({"egress_usd_per_gb": -1})
    pr = load_prices({"electricity_usd_per_kwh": 0.3})
    assert pr["overridden"] == ["electricity_usd_per_kwh"] and pr["values"]["electricity_usd_per_kwh"] == 0.3
    assert all(pr["sources"].values())
