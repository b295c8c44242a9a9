"""Serve Netron's viewer (the ``netron`` package's static files) from the Jupyter server.

Same origin as Jupyter and under its base_url, so it works behind Binder's proxy and with no
second port. The page is patched so it never talks to another host: version meta ``0.0.0``
(no telemetry, no update nag), no build date, and a pre-set ``consent`` cookie (no consent
dialog, no region lookup). Its CSP allows Netron's module worker but no outside connection.
"""
from __future__ import annotations

import os
import re
import time
from functools import lru_cache

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from tornado import web

# connect-src 'self' means the browser itself refuses any request to another host.
CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "worker-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'self'",
        "form-action 'none'",
        "base-uri 'none'",
    ]
)


def netron_dir() -> str:
    """Folder of the installed netron package's viewer assets."""
    import netron

    return os.path.dirname(os.path.abspath(netron.__file__))


@lru_cache(maxsize=4)
def patched_index(folder: str) -> bytes:
    """Netron's index.html with version 0.0.0 and no date (no telemetry, no update check)."""
    with open(os.path.join(folder, "index.html"), encoding="utf-8") as f:
        html = f.read()
    html = re.sub(r'<meta name="version" content="[^"]*">', '<meta name="version" content="0.0.0">', html)
    html = re.sub(r'<meta name="date" content="[^"]*">\s*', "", html)
    return html.encode("utf-8")


class NetronHandler(JupyterHandler, web.StaticFileHandler):
    """Netron's static files; ``index.html`` is served patched (see module docstring)."""

    auth_resource = "contents"

    @property
    def content_security_policy(self) -> str:
        return CSP

    def initialize(self, path: str, default_filename: str | None = None) -> None:
        web.StaticFileHandler.initialize(self, path, default_filename)

    @web.authenticated
    @authorized
    async def get(self, path: str = "", include_body: bool = True) -> None:
        if path == "":
            self.redirect(self.base_url.rstrip("/") + "/edgelab/netron/index.html")
            return
        if path == "index.html":
            self._index()
            return
        await web.StaticFileHandler.get(self, path, include_body=include_body)

    @web.authenticated
    @authorized
    async def head(self, path: str = "") -> None:
        await self.get(path, include_body=False)

    def _index(self) -> None:
        cookie_path = self.base_url.rstrip("/") + "/edgelab/netron/"
        self.set_cookie("consent", str(int(time.time() * 1000)), path=cookie_path, samesite="Strict")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.finish(patched_index(self.root))

    def compute_etag(self) -> str | None:
        return None
