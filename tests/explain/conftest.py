"""Fixtures for the explain tests: models whose speed/accuracy story is known."""
from __future__ import annotations

import pytest
from tests.explain.explain_models import make_no_int8, make_outliers, make_tiny


@pytest.fixture
def tiny(tmp_path):
    return make_tiny(tmp_path / "tiny.onnx")


@pytest.fixture
def no_int8(tmp_path):
    return make_no_int8(tmp_path / "no_int8.onnx")


@pytest.fixture
def outliers(tmp_path):
    return make_outliers(tmp_path / "outliers.onnx")
