"""Fixtures for the TVM tests: a private workspace and small ONNX models."""
from __future__ import annotations

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
