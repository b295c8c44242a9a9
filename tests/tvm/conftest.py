"""Fixtures for the TVM tests: a private workspace, small ONNX models, a fleet on 127.0.0.1."""
from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import models  # noqa: E402


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGELAB_HOME", str(tmp_path / "ws"))
    return tmp_path / "ws"


@pytest.fixture
def tiny(tmp_path):
    return models.tiny_cnn(tmp_path / "tiny.onnx")


def cache_entries(ws: Path) -> list[Path]:
    """Finished variant cache entries (folders with variant.json)."""
    return [p.parent for p in (ws / "cache").glob("*/variant.json")] if (ws / "cache").exists() else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fleet(tmp_path):
    """A real TVM RPC tracker and two `edgelab device serve` servers (dev-a, dev-b) on 127.0.0.1, stopped by PID.

    Yields (tracker address, [tracker proc, dev-a proc, dev-b proc]); servers log to tmp_path/<key>.log.
    Procs a test appends to the list are stopped too.
    """
    from edgelab.runners import remote

    port = free_port()
    procs = [remote.start_tracker(port)]
    try:
        tracker = f"127.0.0.1:{port}"
        for key in ("dev-a", "dev-b"):
            procs.append(remote.start_server(tracker, key, port=free_port(), log=str(tmp_path / f"{key}.log")))
        assert remote.wait_keys("127.0.0.1", port, ["dev-a", "dev-b"], 90), "servers did not register"
        yield tracker, procs
    finally:
        for p in procs:
            remote.stop(p)
        assert all(p.poll() is not None for p in procs)
