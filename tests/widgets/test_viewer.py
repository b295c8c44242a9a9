"""el.view: the Netron frame's URL under a base_url, files served from the root, and what it says outside Jupyter."""
from __future__ import annotations

import json
import os
from urllib.parse import unquote

import pytest

from edgelab.viewer import NetronView, ViewerUnavailable, jupyter_server, view


@pytest.fixture
def fake_server(tmp_path, monkeypatch):
    """A jpserver-*.json for a 'server' whose pid is this process, as a kernel started by it would see."""
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    root = tmp_path / "root"
    (root / "sub dir").mkdir(parents=True)
    info = {"pid": os.getpid(), "root_dir": str(root), "base_url": "/user/ann/", "token": "t",
            "url": "http://127.0.0.1:9/user/ann/"}  # port 9: nothing answers, the extension check is skipped
    (runtime / f"jpserver-{os.getpid()}.json").write_text(json.dumps(info))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("JPY_PARENT_PID", str(os.getpid()))
    monkeypatch.setenv("EDGELAB_HOME", str(root / ".edgelab"))
    return root


def test_frame_url_is_same_origin_under_base_url(fake_server, monkeypatch):
    from tests.widgets.conftest import tiny_model

    p = tiny_model(fake_server / "sub dir" / "m.onnx")
    monkeypatch.chdir(fake_server / "sub dir")
    v = view("m.onnx", height=300)
    assert isinstance(v, NetronView) and v.rel == "sub dir/m.onnx"
    assert v.url == "/user/ann/edgelab/netron/index.html?url=%2Fuser%2Fann%2Fedgelab%2Fapi%2Fmodel%2Fsub%2520dir%2Fm.onnx"
    assert unquote(v.url.split("url=")[1]) == "/user/ann/edgelab/api/model/sub%20dir/m.onnx"
    h = v._repr_html_()
    assert "<iframe" in h and "height:300px" in h and "sub dir/m.onnx" in h
    assert p.exists()


def test_model_outside_root_or_hidden_is_copied_into_a_visible_folder(fake_server, monkeypatch, tmp_path):
    import edgelab as el
    from tests.widgets.conftest import tiny_model

    outside = tiny_model(tmp_path / "elsewhere.onnx")
    monkeypatch.chdir(fake_server)
    v = view(str(outside))
    assert v.rel.startswith("edgelab-view/elsewhere-") and (fake_server / v.rel).read_bytes() == outside.read_bytes()
    variant = el.build(el.load(outside), el.Recipe.parse("int8-dynamic"))  # lives in the hidden .edgelab/cache
    assert "/.edgelab/" in variant.path
    vv = view(variant)
    assert vv.rel.startswith("edgelab-view/model-") and not any(p.startswith(".") for p in vv.rel.split("/"))
    assert view(str(outside)).rel == v.rel  # same content, same copy


def test_outside_a_jupyter_server_says_what_is_missing(tmp_path, monkeypatch):
    from tests.widgets.conftest import tiny_model

    p = tiny_model(tmp_path / "m.onnx")
    monkeypatch.delenv("JPY_PARENT_PID", raising=False)
    v = view(p)
    assert isinstance(v, ViewerUnavailable) and "<iframe" not in v._repr_html_()
    assert "not a kernel started by a Jupyter server" in repr(v) and f"netron {p}" in repr(v)
    monkeypatch.setenv("JPY_PARENT_PID", "999999999")  # e.g. nbclient: a parent that is no Jupyter server
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    assert "not started by a running Jupyter server" in jupyter_server()[1]


def test_missing_file_is_a_clear_error(tmp_path):
    from edgelab.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="model file not found: .*nope.onnx"):
        view(tmp_path / "nope.onnx")
