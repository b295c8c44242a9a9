"""Catalog, user profiles (validation errors), the host profile, and the profiles CLI."""
import json

import pytest

from edgelab import profiles as P
from edgelab.errors import ConfigError

REQUIRED_IDS = {"rpi3b", "rpi4", "rpi5", "jetson-nano", "jetson-nano-gpu", "jetson-orin-nano", "jetson-orin-nano-gpu",
                "coral", "galaxy-s23", "pixel-7", "n100", "laptop-i5", "esp32-s3", "stm32h7", "cloud-x86",
                "cloud-arm", "cloud-gpu", "cloud-serverless", "host"}


def _board(**kw):
    d = {"id": "my-board", "name": "My board", "clusters": [{"uarch": "cortex-a72", "count": 2, "ghz": 1.0}],
         "mem_bandwidth_gbs": 4.0, "ram_bytes": 2**30}
    d.update(kw)
    return d


def test_catalog_ids_and_every_figure_sourced():
    assert REQUIRED_IDS <= set(P.list_profiles())
    for pid in P.list_profiles():
        p = P.get(pid)
        assert p.cores >= 1 and p.mem_bandwidth_gbs > 0 and p.ram_bytes > 0
        if pid == "host":
            continue
        assert p.sources, pid
        for field, src in p.sources.items():
            assert set(src) & {"source", "derived", "assumed"}, (pid, field)
            if "source" in src:
                assert src.get("date"), (pid, field)


def test_peak_arithmetic_rpi4():
    p = P.get("rpi4")
    assert p.peak_gops("fp32", 1) == pytest.approx(1.8 * 8)             # 1 core × 1.8 GHz × 8 FLOP/cycle
    assert p.peak_gops("fp32", 4) == pytest.approx(14.4 + 0.65 * 3 * 14.4)  # + 65% per extra core
    assert p.support("fp32") == "native" and p.support("fp16") == "emulated" and p.support("int8") == "emulated"
    assert p.tvm_target["mcpu"] == "cortex-a72" and p.tvm_target["num-cores"] == 4


def test_precisions_per_device():
    assert P.get("rpi5").support("fp16") == "native"
    assert P.get("coral").support("fp32") == "unsupported" and P.get("coral").support("int8") == "native"
    assert P.get("coral").peak_gops("int8") == 4000
    s23 = P.get("galaxy-s23")  # heterogeneous clusters: fastest core first
    assert s23.peak_gops("fp32", 1) == pytest.approx(3.2 * 32)
    assert s23.owned and s23.price_usd is None


def test_unknown_profile_lists_valid_ones():
    with pytest.raises(ConfigError, match="unknown profile 'rpi9'.*rpi4.*host"):
        P.get("rpi9")


def test_user_profile_from_dict_and_file(tmp_path):
    p = P.load_profile(_board())
    assert P.get("my-board") is p and p.user and p.peak_gops("fp32", 1) == pytest.approx(8.0)
    f = tmp_path / "b.json"
    f.write_text(json.dumps(_board(id="file-board", efficiency=0.4)))
    q = P.get(str(f))
    assert q.id == "file-board" and q.kernel_efficiency == 0.4
    assert "file-board" in P.list_profiles()


@pytest.mark.parametrize("bad, msg", [
    ({"ram_bytes": None}, "field 'ram_bytes' is missing.*> 0"),
    ({"ram_bytes": -5}, "field 'ram_bytes' must be an integer > 0"),
    ({"mem_bandwidth_gbs": 0}, "field 'mem_bandwidth_gbs' must be a number > 0"),
    ({"power_w": -1}, "field 'power_w' must be a number >= 0"),
    ({"clusters": [{"uarch": "pentium", "count": 1, "ghz": 1}]}, r"clusters\[0\].uarch must be one of"),
    ({"clusters": [{"uarch": "cortex-a72", "count": 1, "ghz": -2}]}, "field 'ghz' must be a number > 0"),
    ({"clusters": []}, "field 'clusters' is missing"),
    ({"name": ""}, "field 'name' is missing"),
    ({"id": "rpi4"}, "taken by the catalog"),
    ({"speed": 3}, "unknown field.*speed"),
    ({"efficiency": 1.5}, "field 'efficiency' must be a number > 0 and <= 1"),
])
def test_user_profile_validation_names_field_and_range(bad, msg):
    d = _board(**bad)
    d = {k: v for k, v in d.items() if v is not None}
    with pytest.raises(ConfigError, match=msg):
        P.load_profile(d, register=False)


def test_bad_profile_file(tmp_path):
    f = tmp_path / "x.json"
    f.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        P.load_profile(f)
    with pytest.raises(ConfigError, match="cannot read profile file"):
        P.load_profile(tmp_path / "missing.json")


def test_host_profile_and_microarch():
    from edgelab.profiles.host import microarch

    h = P.get("host")
    assert h.id == "host" and h.cores >= 1 and h.peak_gops("fp32") > 0 and h.mem_bandwidth_gbs > 0
    assert microarch("AuthenticAMD", "26", "2") == "zen5"
    assert microarch("AuthenticAMD", "25", "17") == "zen4"
    assert microarch("AuthenticAMD", "25", "1") == "zen3"
    assert microarch("GenuineIntel", "6", str(0x8F)) == "sapphirerapids"
    assert microarch("GenuineIntel", "6", str(0x55), ["avx512f", "avx512_vnni"]) == "cascadelake-sp"
    assert microarch("GenuineIntel", "6", str(0xBE)) == "gracemont"
    assert microarch(cpu_part="0xd08") == "cortex-a72"
    assert P.host_label()  # fingerprint()/label() keep working


def test_cli_profiles(capsys):
    from edgelab.cli import main

    assert main(["profiles", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["id"] for r in rows} >= REQUIRED_IDS
    assert main(["profiles", "show", "rpi4"]) == 0
    out = capsys.readouterr().out
    assert "sources:" in out and "friendlywiki" in out and "4 × 1.8 GHz × 8" in out
    assert "device factor x" in out and "fp32 1 thread(s): published 124.32 ms" in out
    assert main(["profiles", "show", "n100"]) == 0
    assert "device factor" not in capsys.readouterr().out  # no published measurement of an N100
    assert main(["profiles", "show", "nope"]) == 1
    assert "valid profiles" in capsys.readouterr().err


def test_static_thread_split_runs_at_the_slowest_core_used():
    """ncnn's OpenMP static schedule: n equal shares, each layer waits for the slowest core. Work-sharing
    runtimes (onnxruntime, XNNPACK) add up the cores' rates. 1 x A76 @2 GHz (16 FLOP/cycle) + 1 x A55 @1 GHz (8)."""
    p = P.load_profile(_board(id="biglittle", clusters=[{"uarch": "cortex-a76", "count": 1, "ghz": 2.0},
                                                         {"uarch": "cortex-a55", "count": 1, "ghz": 1.0}]),
                       register=False)
    pe = P._method("parallel_efficiency")
    assert p.peak_gops("fp32", 2) == pytest.approx(32 + pe * 8)
    assert p.peak_gops("fp32", 2, static_split=True) == pytest.approx(8 + pe * 8)
    assert p.peak_gops("fp32", 1, static_split=True) == pytest.approx(32)  # one thread: the fastest core
    assert P.framework("ncnn")["static_thread_split"] and not P.framework(None)["static_thread_split"]
    for name in ("onnxruntime", "ncnn", "tflite"):
        assert P.framework(name)["why"]
    with pytest.raises(ConfigError, match="valid frameworks: onnxruntime"):
        P.framework("tensorrt")


def test_host_efficiency_is_its_measured_gemm_fraction():
    from edgelab.profiles.host import GEMM_EFFICIENCY, measured_gemm_gflops

    h = P.host_profile()
    if measured_gemm_gflops() is None:
        pytest.skip("onnxruntime GEMM probe unavailable")
    # the clock is derived so that the probe GEMM = GEMM_EFFICIENCY x peak: the host's compute rate is measured
    assert h.kernel_efficiency == GEMM_EFFICIENCY and "efficiency" in h.sources
    assert h.peak_gops("fp32", 1) * h.kernel_efficiency == pytest.approx(measured_gemm_gflops(), rel=0.02)


def test_core_mask_affinity_runs_a_thread_at_the_masks_slowest_core():
    """ncnn gives every thread the whole 'big' core mask (clock >= (slowest + fastest) / 2), so one thread may
    run on any core of it. 1 x X3 @3.2 GHz (32 FLOP/cycle) + 2 x A715 @2.8 (16) + 1 x A510 @2.0 (8):
    the mask (>= 2.6 GHz) is the X3 and both A715s."""
    p = P.load_profile(_board(id="phone", clusters=[{"uarch": "cortex-x3", "count": 1, "ghz": 3.2},
                                                    {"uarch": "cortex-a715", "count": 2, "ghz": 2.8},
                                                    {"uarch": "cortex-a510", "count": 1, "ghz": 2.0}]),
                       register=False)
    pe = P._method("parallel_efficiency")
    assert p.big_cores() == 3
    assert p.peak_gops("fp32", 1, static_split=True) == pytest.approx(102.4)  # without the mask: the X3
    assert p.peak_gops("fp32", 1, static_split=True, mask_affinity=True) == pytest.approx(44.8)  # an A715
    assert p.peak_gops("fp32", 3, static_split=True, mask_affinity=True) == pytest.approx(44.8 * (1 + 2 * pe))
    assert p.peak_gops("fp32", 4, static_split=True, mask_affinity=True) == pytest.approx(16 * (1 + 3 * pe))
    same = P.load_profile(_board(id="same", clusters=[{"uarch": "cortex-a76", "count": 4, "ghz": 2.4}]),
                          register=False)
    assert same.big_cores() == 4
    assert P.framework("ncnn")["thread_affinity_mask"] and not P.framework(None)["thread_affinity_mask"]
