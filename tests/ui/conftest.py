"""Fixtures for browser tests: a real ``jupyter lab`` on 127.0.0.1 and Chromium driven by Playwright.

Reusable by any UI test (notebooks, widgets, the Netron viewer)::

    def test_something(lab_factory, tmp_path, lab_page):
        lab = lab_factory(root_dir=tmp_path, base_url="/user/someone/")
        page = lab_page(lab)                       # JupyterLab loaded and restored
        page.evaluate("window.jupyterapp.commands.execute('launcher:create')")

``lab`` is a ready server on a temporary root; ``page`` is a bare Chromium page whose every
request URL is recorded in ``page_requests``. The browser is Debian's /usr/bin/chromium
(never ``playwright install``); servers are stopped by PID at teardown.
"""
from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT_S = 90
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LabServer:
    """A running ``jupyter lab``: where it is, how to authenticate, where it logs."""

    root_dir: Path
    port: int
    token: str
    base_url: str
    proc: subprocess.Popen
    log_path: Path
    env: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        """Server URL with the base_url, ending in '/'."""
        return f"http://127.0.0.1:{self.port}{self.base_url}"

    def lab_url(self, path: str = "lab") -> str:
        """URL that opens JupyterLab (or `path`) and logs the browser in with the token."""
        sep = "&" if "?" in path else "?"
        return f"{self.url}{path}{sep}token={self.token}"

    def request(self, path: str, *, token: bool = True, method: str = "GET", headers: dict | None = None,
                body: bytes | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
        """Raw HTTP request to `path` under the base_url → (status, headers (case-insensitive), body).

        The path is sent exactly as given (no normalisation, no re-encoding) and redirects are
        not followed, so refusals can be asserted precisely.
        """
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = f"token {self.token}"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, self.base_url + path, body=body, headers=hdrs)
            r = conn.getresponse()
            return r.status, r.msg, r.read()
        finally:
            conn.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def start_lab(root_dir: Path, state_dir: Path, *, base_url: str = "/", env: dict | None = None,
              extra_args: list[str] | tuple[str, ...] = (), settings: dict | None = None) -> LabServer:
    """Start ``jupyter lab`` on 127.0.0.1 serving `root_dir`; return once it answers /api/status.

    `settings`: user settings per plugin, e.g. {"@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": True}}.
    """
    base_url = "/" + base_url.strip("/") + "/" if base_url.strip("/") else "/"
    root_dir, state_dir = Path(root_dir), Path(state_dir)
    settings_dir = state_dir / "settings"
    plugins = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
               **(settings or {})}
    for plugin, values in plugins.items():
        package, name = plugin.split(":")
        (settings_dir / package).mkdir(parents=True, exist_ok=True)
        (settings_dir / package / f"{name}.jupyterlab-settings").write_text(json.dumps(values))
    (state_dir / "workspaces").mkdir(exist_ok=True)
    (state_dir / "runtime").mkdir(exist_ok=True)
    port, token = free_port(), secrets.token_hex(16)
    full_env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(state_dir / "runtime"), **(env or {})}
    log_path = state_dir / f"jupyter-lab-{port}.log"
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
        f"--ServerApp.root_dir={root_dir}",
        f"--ServerApp.base_url={base_url}",
        f"--IdentityProvider.token={token}",
        "--ServerApp.port_retries=0",
        "--LabApp.expose_app_in_browser=True",
        f"--LabApp.workspaces_dir={state_dir / 'workspaces'}",
        f"--LabApp.user_settings_dir={settings_dir}",
        *extra_args,
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=root_dir, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    server = LabServer(root_dir, port, token, base_url, proc, log_path, full_env)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{server.log()[-3000:]}")
        try:
            if server.request("api/status")[0] == 200:
                return server
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"jupyter lab did not answer in {START_TIMEOUT_S}s:\n{server.log()[-3000:]}")


@pytest.fixture
def lab_factory(tmp_path_factory):
    """Call ``lab_factory(root_dir=..., base_url="/", env=None, extra_args=())`` to start a lab."""
    servers: list[LabServer] = []

    def make(root_dir: Path | None = None, **kwargs) -> LabServer:
        state = tmp_path_factory.mktemp("jupyter-state")
        root = Path(root_dir) if root_dir else tmp_path_factory.mktemp("lab-root")
        server = start_lab(root, state, **kwargs)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def lab(lab_factory, tmp_path) -> LabServer:
    """A ready ``jupyter lab`` serving `tmp_path` at base_url '/'."""
    return lab_factory(root_dir=tmp_path)


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium under Playwright (skips if either is missing)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page_requests() -> list[str]:
    """URLs of every request the ``page`` fixture's browser context made (frames and workers too)."""
    return []


@pytest.fixture
def page(chromium, page_requests):
    """A fresh browser context and page (1400×900); its requests are recorded in ``page_requests``."""
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    context.on("request", lambda r: page_requests.append(r.url))
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()


@pytest.fixture
def lab_page(page):
    """``lab_page(server, path="lab")`` → ``page`` with JupyterLab loaded, logged in and restored."""

    def open_lab(server: LabServer, path: str = "lab"):
        page.goto(server.lab_url(path))
        page.wait_for_function("window.jupyterapp !== undefined", timeout=60_000)
        page.evaluate("window.jupyterapp.restored")
        page.wait_for_selector("#jp-main-dock-panel", state="visible")
        return page

    return open_lab


@pytest.fixture
def artifacts_dir() -> Path:
    """tests/artifacts/ (git-ignored): screenshots and logs worth keeping after a run."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def copy_file(src: Path, dest_dir: Path, name: str | None = None) -> Path:
    """Copy `src` into `dest_dir` (a lab's root) and return the new path."""
    dest = Path(dest_dir) / (name or Path(src).name)
    shutil.copyfile(src, dest)
    return dest


def write_small_cnn(path: Path) -> Path:
    """A small Conv/Relu/Pool/Gemm classifier (opset 17) built with onnx.helper; a few nodes to draw."""
    import numpy as np
    import onnx
    from onnx import TensorProto as T
    from onnx import helper as h
    from onnx import numpy_helper as nh

    rng = np.random.default_rng(0)
    inits = [
        nh.from_array((rng.standard_normal((8, 1, 3, 3)) * 0.5).astype(np.float32), "w1"),
        nh.from_array(np.zeros(8, np.float32), "b1"),
        nh.from_array((rng.standard_normal((4, 8)) * 0.5).astype(np.float32), "wf"),
        nh.from_array(np.zeros(4, np.float32), "bf"),
    ]
    nodes = [
        h.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        h.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        h.make_node("GlobalAveragePool", ["r1"], ["p1"], name="pool"),
        h.make_node("Flatten", ["p1"], ["f1"], name="flatten"),
        h.make_node("Gemm", ["f1", "wf", "bf"], ["logits"], name="fc", transB=1),
        h.make_node("Softmax", ["logits"], ["y"], name="softmax"),
    ]
    graph = h.make_graph(nodes, "small_cnn", [h.make_tensor_value_info("x", T.FLOAT, ["N", 1, 16, 16])],
                         [h.make_tensor_value_info("y", T.FLOAT, ["N", 4])], inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return Path(path)


def demo_model_source() -> Path | None:
    """The bundled demo model (edgelab/demo/digits_cnn.onnx) if it exists yet."""
    try:
        from edgelab.demo import DIGITS_MODEL_PATH
    except ImportError:
        return None
    return Path(DIGITS_MODEL_PATH) if Path(DIGITS_MODEL_PATH).exists() else None


@pytest.fixture
def onnx_model_factory():
    """``onnx_model_factory(dest_dir, name=None)`` → a model in `dest_dir`: the demo model if
    bundled, else a small CNN built with onnx.helper."""

    def make(dest_dir: Path, name: str | None = None) -> Path:
        src = demo_model_source()
        if src is not None:
            return copy_file(src, dest_dir, name)
        return write_small_cnn(Path(dest_dir) / (name or "small_cnn.onnx"))

    return make
