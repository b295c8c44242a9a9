"""Jupyter server extension: edgelab's REST API and Netron's viewer, served by Jupyter itself.

Routes (all under the server's base_url, all behind Jupyter's own auth):

- ``edgelab/netron/…``              Netron's viewer from the installed ``netron`` package
- ``edgelab/api/model/<path>``      a model file under the server root (confined to it)
- ``edgelab/api/runs``              runs in the results store, newest first
- ``edgelab/api/runs/<id>``         one run's report as JSON
- ``edgelab/api/runs/<id>/report.html``  the same report as the HTML page the CLI writes
- ``edgelab/api/latest_change``     a token that changes whenever a run is written
- ``edgelab/api/profiles``          the device profile catalog
"""
from __future__ import annotations

from jupyter_server.utils import url_path_join

from .model import ModelHandler
from .netron import NetronHandler, netron_dir
from .runs import LatestChangeHandler, ProfilesHandler, ReportHTMLHandler, RunHandler, RunsHandler

_RUN_ID = r"(?P<run_id>[^/]+)"


def handlers(base_url: str) -> list[tuple]:
    """The (pattern, handler, kwargs) routes, joined to `base_url`."""
    def route(p: str) -> str:
        return url_path_join(base_url, "edgelab", p)

    return [
        (route(r"netron/?"), NetronHandler, {"path": netron_dir()}),
        (route(r"netron/(?P<path>.+)"), NetronHandler, {"path": netron_dir()}),
        (route(r"api/model/(?P<path>.*)"), ModelHandler),
        (route(r"api/runs/?"), RunsHandler),
        (route(rf"api/runs/{_RUN_ID}/report\.html"), ReportHTMLHandler),
        (route(rf"api/runs/{_RUN_ID}/?"), RunHandler),
        (route(r"api/latest_change"), LatestChangeHandler),
        (route(r"api/profiles/?"), ProfilesHandler),
    ]


def _load_jupyter_server_extension(serverapp) -> None:
    """Register edgelab's routes on a running jupyter server."""
    web_app = serverapp.web_app
    web_app.add_handlers(".*$", handlers(web_app.settings["base_url"]))
    serverapp.log.info("edgelab server extension loaded (routes under %sedgelab/)", web_app.settings["base_url"])


# jupyter_server also accepts the name without the leading underscore.
load_jupyter_server_extension = _load_jupyter_server_extension
