"""Serve a model file under the Jupyter server's root, for Netron's viewer to fetch.

``GET edgelab/api/model/<path>`` streams the file's bytes. The path is confined to the
server root: absolute paths, ``..`` segments, NUL bytes, hidden files (unless the contents
manager allows them) and symlinks that resolve outside the root are refused with 403; a
missing file or a folder gives 404.
"""
from __future__ import annotations

import os

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

CHUNK_BYTES = 1 << 20


def resolve(root: str, path: str, *, allow_hidden: bool = False) -> str:
    """Absolute real path of `path` under `root`; HTTPError 403/404 if it is not a file there."""
    if not path or "\x00" in path or "\\" in path or path.startswith("/") or os.path.isabs(path):
        raise web.HTTPError(403, "path must be relative to the server root")
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise web.HTTPError(403, "path must not contain empty, '.' or '..' segments")
    if not allow_hidden and any(p.startswith(".") for p in parts):
        raise web.HTTPError(403, "hidden files are not served")
    real_root = os.path.realpath(root)
    full = os.path.realpath(os.path.join(real_root, *parts))
    if os.path.commonpath([real_root, full]) != real_root:
        raise web.HTTPError(403, "path resolves outside the server root")
    if not os.path.isfile(full):
        raise web.HTTPError(404, "no such file")
    return full


class ModelHandler(APIHandler):
    """Stream a model file (confined to the server root) as application/octet-stream."""

    auth_resource = "contents"

    @web.authenticated
    @authorized
    async def get(self, path: str) -> None:
        cm = self.contents_manager
        full = resolve(cm.root_dir, path, allow_hidden=getattr(cm, "allow_hidden", False))
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Content-Length", str(os.path.getsize(full)))
        self.set_header("Cache-Control", "no-store")
        with open(full, "rb") as f:
            while chunk := f.read(CHUNK_BYTES):
                self.write(chunk)
                await self.flush()
        self.finish(set_content_type="application/octet-stream")
