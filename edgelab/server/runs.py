"""REST routes over the results store: runs, one run's report (JSON or HTML), profiles.

Handlers are thin: they call ``edgelab.store`` / ``edgelab.profiles`` and serialise.
Reads only; any write method is refused (405, and Jupyter checks XSRF before that).
"""
from __future__ import annotations

import asyncio
import json

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

# The report page is the CLI's self-contained HTML. It is served sandboxed (a unique origin,
# so its scripts cannot reach Jupyter's API) and may not load anything from anywhere.
REPORT_CSP = "; ".join(
    [
        "sandbox allow-scripts allow-popups",
        "default-src 'none'",
        "script-src 'unsafe-inline' 'unsafe-eval'",
        "style-src 'unsafe-inline'",
        "img-src data: blob:",
        "font-src data:",
        "frame-ancestors 'self'",
    ]
)


def _store():
    from edgelab.store import Store

    return Store()


def _dumps(obj) -> str:
    return json.dumps(obj, default=str)


class _Base(APIHandler):
    auth_resource = "contents"

    def _report(self, run_id: str):
        from edgelab.errors import StoreError

        try:
            return _store().get_report(run_id)
        except StoreError as e:
            raise web.HTTPError(404, f"unknown run: {e}") from e


class RunsHandler(_Base):
    """``GET`` → ``{"runs": [...], "latest_change": token}``, newest first (``?limit=``, default 100)."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        try:
            limit = max(1, min(1000, int(self.get_argument("limit", "100"))))
        except ValueError as e:
            raise web.HTTPError(400, "limit must be an integer") from e
        store = _store()
        runs = await asyncio.to_thread(store.list_runs, limit=limit)
        self.finish(_dumps({"runs": runs, "latest_change": store.latest_change()}))


class LatestChangeHandler(_Base):
    """``GET`` → ``{"token": ...}``; the token changes whenever a run is written (cheap poll)."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.finish(_dumps({"token": _store().latest_change()}))


class RunHandler(_Base):
    """``GET`` → the run's report JSON."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        report = await asyncio.to_thread(self._report, run_id)
        self.finish(_dumps(report.to_json()))


class ReportHTMLHandler(_Base):
    """``GET`` → the run's report as the CLI's HTML page (sandboxed, no outside requests)."""

    @property
    def content_security_policy(self) -> str:
        return REPORT_CSP

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        report = await asyncio.to_thread(self._report, run_id)
        html = await asyncio.to_thread(report.to_html)
        self.finish(html, set_content_type="text/html; charset=utf-8")


def _profile_dicts() -> list[dict]:
    """Every profile as a dict (list_profiles gives ids; older cores gave Profile objects)."""
    from edgelab import profiles

    list_profiles = getattr(profiles, "list_profiles", None)  # the catalog may not exist yet
    items = list_profiles() if list_profiles else []
    return [(profiles.get(p) if isinstance(p, str) else p).to_dict() for p in items]


class ProfilesHandler(_Base):
    """``GET`` → ``{"profiles": [...], "host": {...}}``: the device catalog and this machine."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        from edgelab.profiles.host import fingerprint

        items = await asyncio.to_thread(_profile_dicts)
        host = await asyncio.to_thread(fingerprint)
        self.finish(_dumps({"profiles": items, "host": host}))
