"""Device factor from published reference measurements (edgelab/profiles/reference.py)."""
import math
import re

import pytest

from edgelab.errors import ConfigError
from edgelab.estimate import estimate
from edgelab.model import load
from edgelab.profiles import get, load_profile
from edgelab.profiles import reference as R

BOARD = {"id": "ref-board", "name": "Reference test board", "clusters": [{"uarch": "cortex-a72", "count": 4, "ghz": 1.5}],
         "mem_bandwidth_gbs": 4.0, "ram_bytes": 2**31}
SMALL = {"model": "mobilenet_v1", "width": 0.25, "size": 96, "classes": 10}


def _datasheet_ms(prof, precision="fp32", threads=1):
    m, hf, _ = R._reference("mobilenet_v1", 0.25, 96, 10)
    return estimate(m, prof, precision=precision, threads=threads, calibration_factor=hf,
                    device_reference=False).latency_ms


def test_mobilenet_v1_has_the_published_work():
    # Howard et al. 2017, Table 8: 1.0 MobileNet-224 569 M mult-adds, 4.2 M parameters
    m = load(R.mobilenet_v1())
    assert m.macs == pytest.approx(569e6, rel=0.01)
    assert m.params == pytest.approx(4.23e6, rel=0.01)


def test_factor_is_published_over_projected():
    base = load_profile(dict(BOARD, id="ref-base"))
    ms = _datasheet_ms(base)
    prof = load_profile(dict(BOARD, reference=[dict(SMALL, precision="fp32", threads=1, latency_ms=2 * ms)]))
    df = R.device_factor(prof)
    assert df["factor"] == pytest.approx(2.0, rel=1e-3) and df["n"] == 1 and df["spread"] == pytest.approx(1.0)
    m = load(R.mobilenet_v1(0.5, 128, 10))
    with_ref = estimate(m, prof, host_ms=3.0, host_threads=1)
    without = estimate(m, prof, host_ms=3.0, host_threads=1, device_reference=False)
    assert with_ref.latency_ms == pytest.approx(2 * without.latency_ms, rel=1e-3)
    assert with_ref.calibration["device_factor"]["factor"] == pytest.approx(2.0, rel=1e-3)
    assert "scaled x2 by 1 published MobileNetV1 0.25x 96px" in with_ref.source
    # uncalibrated projections (no host measurement) stay datasheet-only
    assert "device_factor" not in estimate(m, prof).calibration


def test_factor_is_the_median_over_rows():
    base = load_profile(dict(BOARD, id="ref-base2"))
    t1, t4 = _datasheet_ms(base, threads=1), _datasheet_ms(base, threads=4)
    prof = load_profile(dict(BOARD, id="ref-two", reference=[dict(SMALL, precision="fp32", threads=1, latency_ms=2 * t1),
                                                             dict(SMALL, precision="fp32", threads=4, latency_ms=t4 / 2)]))
    df = R.device_factor(prof)
    assert df["factor"] == pytest.approx(1.0, rel=1e-3) and df["spread"] == pytest.approx(2.0, rel=1e-3)
    assert [r["ratio"] for r in df["rows"]] == pytest.approx([2.0, 0.5], rel=1e-3)
    # a third, odd row moves a median, not a mean: ratios 2, 0.5, 8 -> 2
    odd = load_profile(dict(BOARD, id="ref-three", reference=[*prof.reference, dict(SMALL, precision="fp32", threads=1,
                                                                                     latency_ms=8 * t1)]))
    assert R.device_factor(odd)["factor"] == pytest.approx(2.0, rel=1e-3)


@pytest.mark.parametrize("row, message", [
    ({"precision": "fp64", "threads": 1, "latency_ms": 5}, "reference[0].precision must be one of"),
    ({"precision": "fp32", "threads": 1, "latency_ms": -5}, "'latency_ms' must be a number > 0"),
    ({"precision": "fp32", "threads": 0, "latency_ms": 5}, "'threads' must be an integer >= 1"),
    ({"model": "resnet50", "precision": "fp32", "threads": 1, "latency_ms": 5}, "reference[0].model must be one of mobilenet_v1"),
    ({"precision": "fp32", "threads": 1, "latency_ms": 5, "framework": "caffe"}, "unknown framework 'caffe'"),
])
def test_bad_reference_rows_name_the_field(row, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_profile(dict(BOARD, id="ref-bad", reference=[row]), register=False)


def test_catalog_references_are_sourced_and_finite():
    with_ref = [p for p in ("rpi3b", "rpi4", "rpi5", "jetson-nano", "jetson-orin-nano", "galaxy-s23", "rk3588",
                            "cloud-x86", "coral", "stm32h7") if get(p).reference]
    assert len(with_ref) == 10
    for pid in with_ref:
        for r in get(pid).reference:
            assert r["source_url"].startswith("https://") and r["source_date"], pid
        df = R.device_factor(get(pid))
        assert math.isfinite(df["factor"]) and 0.2 < df["factor"] < 5, (pid, df)
    assert R.device_factor(get("n100")) is None  # no published measurement: datasheet only


def test_a_reference_the_device_cannot_run_is_a_clear_error():
    coral = dict(get("coral").to_dict(), id="my-coral", user=False,
                 reference=[dict(SMALL, precision="fp32", threads=1, latency_ms=3.0)])
    coral.pop("user")
    with pytest.raises(ConfigError, match="reference\\[0\\] is fp32, which my-coral cannot run"):
        R.device_factor(load_profile(coral, register=False))


def test_widget_tooltip_says_how_the_profile_is_calibrated():
    from edgelab.widgets._html import profile_tooltip

    df = get("rpi4").device_factor()
    assert f"projections scaled x{df['factor']:g} by 4 published MobileNetV1" in profile_tooltip(get("rpi4"))
    assert "projections scaled" not in profile_tooltip(get("n100"))
