"""Netron's graph viewer inline in a notebook, served by edgelab's Jupyter server extension (same origin).

    el.view("model.onnx")          # or a Model, a Variant, anything el.load() takes

The frame loads ``<base_url>edgelab/netron/index.html?url=<base_url>edgelab/api/model/<path>`` from
the Jupyter server that started this kernel, so it works behind Binder's proxy and under a base URL.
Outside a Jupyter server (plain IPython, nbconvert/nbclient) the result says what is missing instead of
showing a broken frame.
"""
from __future__ import annotations

import hashlib
import html
import os
import shutil
from pathlib import Path
from urllib.parse import quote

VIEW_DIR = "edgelab-view"


def view(model_or_path, *, height: int = 600):
    """Show `model_or_path` in Netron inside the notebook (returns an object that renders as the frame)."""
    path = _model_file(model_or_path)
    server, why = jupyter_server()
    if server is None:
        return ViewerUnavailable(path, why)
    missing = _extension_missing(server)
    if missing:
        return ViewerUnavailable(path, missing)
    return NetronView(path, _servable(path, Path(server["root_dir"])), server.get("base_url") or "/", height)


def _model_file(x) -> Path:
    from .errors import ModelLoadError

    if isinstance(x, (str, os.PathLike)):
        p = Path(x).expanduser()
        if not p.is_file():
            raise ModelLoadError(f"model file not found: {p}; check the path (cwd is {Path.cwd()})")
        return p.resolve()
    if hasattr(x, "path") and isinstance(getattr(x, "path"), (str, os.PathLike)):  # Model, Variant
        return Path(x.path).resolve()
    from .model import load

    return Path(load(x).path).resolve()


def jupyter_server() -> tuple[dict | None, str]:
    """(server info, "") of the Jupyter server that started this kernel, or (None, why not)."""
    ppid = os.environ.get("JPY_PARENT_PID")
    if not ppid:
        return None, "this Python is not a kernel started by a Jupyter server (plain Python or IPython)"
    try:
        from jupyter_server.serverapp import list_running_servers
    except ImportError:
        return None, "jupyter_server is not installed (pip install jupyterlab)"
    for info in list_running_servers():
        if str(info.get("pid")) == ppid:
            return info, ""
    return None, ("this kernel was not started by a running Jupyter server (e.g. nbconvert or nbclient), "
                  "so there is no server to serve the viewer from")


def _extension_missing(server: dict) -> str:
    """'' when edgelab's routes answer on `server` (or cannot be checked), else what to do."""
    import urllib.error
    import urllib.request

    url = server.get("url", "").rstrip("/") + "/edgelab/api/latest_change"
    req = urllib.request.Request(url, headers={"Authorization": f"token {server.get('token', '')}"})
    try:
        with urllib.request.urlopen(req, timeout=3):
            return ""
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return ("edgelab's server extension is not enabled on this Jupyter server: run "
                    "`jupyter server extension enable edgelab` and restart Jupyter")
        return ""
    except OSError:
        return ""  # cannot check from the kernel (e.g. a remote proxy): let the browser try


def _servable(path: Path, root: Path) -> str:
    """`path` relative to the server root; a copy under <cwd or root>/edgelab-view/ when it is outside
    the root or in a hidden folder (the model route serves neither)."""
    root = root.resolve()
    try:
        rel = path.resolve().relative_to(root)
        if not any(part.startswith(".") for part in rel.parts):
            return rel.as_posix()
    except ValueError:
        pass
    base = Path.cwd() if _under(Path.cwd(), root) else root
    dest_dir = base / VIEW_DIR
    dest_dir.mkdir(exist_ok=True)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    dest = dest_dir / f"{path.stem}-{digest}{path.suffix or '.onnx'}"
    if not dest.exists():
        shutil.copyfile(path, dest)
    return dest.resolve().relative_to(root).as_posix()


def _under(p: Path, root: Path) -> bool:
    try:
        rel = p.resolve().relative_to(root)
    except ValueError:
        return False
    return not any(part.startswith(".") for part in rel.parts)


class NetronView:
    """Renders as an iframe of Netron (served by this Jupyter server) showing one model file."""

    def __init__(self, source: Path, rel: str, base_url: str, height: int = 600):
        self.source, self.rel, self.height = source, rel, height
        base = "/" + base_url.strip("/") + "/" if base_url.strip("/") else "/"
        model_url = f"{base}edgelab/api/model/{quote(rel)}"
        self.url = f"{base}edgelab/netron/index.html?url={quote(model_url, safe='')}"

    def _repr_html_(self) -> str:
        e = html.escape
        return (f'<div class="edgelab-netron"><iframe src="{e(self.url)}" title="Netron: {e(self.rel)}" '
                f'style="width:100%;height:{int(self.height)}px;border:1px solid #ddd"></iframe>'
                f'<div style="font-size:11px;color:#555">Netron graph of <code>{e(self.rel)}</code>, served by '
                f'this Jupyter server · <a href="{e(self.url)}" target="_blank">open in a new tab</a></div></div>')

    def __repr__(self) -> str:
        return f"NetronView({self.rel!r}) at {self.url}"


class ViewerUnavailable:
    """What `view` returns when there is no Jupyter server to show Netron from: says what is missing."""

    def __init__(self, source: Path, reason: str):
        self.source, self.reason = source, reason

    def message(self) -> str:
        return (f"edgelab.view: cannot show {self.source.name} inline: {self.reason}. The inline viewer needs "
                f"a notebook in JupyterLab or Notebook 7 with edgelab installed (its server extension serves "
                f"Netron). Outside Jupyter, run `netron {self.source}` instead.")

    def _repr_html_(self) -> str:
        return (f'<div class="edgelab-netron-missing" style="border:1px solid #e0b0b0;background:#fff6f6;'
                f'padding:6px 10px">{html.escape(self.message())}</div>')

    def __repr__(self) -> str:
        return self.message()
