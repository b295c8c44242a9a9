"""edgelab's Jupyter routes against a real server: auth, XSRF, path confinement, Netron page."""
from __future__ import annotations

import re

import pytest

SECRET = b"edgelab-secret-outside-the-root"  # what tests/server/conftest.py puts outside the root

API_ROUTES = ["edgelab/api/runs", "edgelab/api/latest_change", "edgelab/api/profiles",
              "edgelab/api/runs/abc", "edgelab/api/runs/abc/report.html", "edgelab/api/model/small.onnx"]


@pytest.mark.parametrize("path", API_ROUTES)
def test_api_refuses_requests_without_token(routes_server, path):
    status, _, body = routes_server.request(path, token=False)
    assert status == 403
    assert b"ONNX" not in body and b"runs\"" not in body


@pytest.mark.parametrize("path", API_ROUTES)
def test_api_refuses_a_wrong_token(routes_server, path):
    status, _, _ = routes_server.request(path, token=False, headers={"Authorization": "token not-the-token"})
    assert status == 403


def test_netron_page_redirects_to_login_without_token(routes_server):
    status, headers, body = routes_server.request("edgelab/netron/index.html", token=False)
    assert status in (302, 403)
    assert b"Netron" not in body
    if status == 302:
        assert "/login" in headers["Location"]


def test_runs_and_latest_change_are_json(routes_server):
    status, headers, body = routes_server.request("edgelab/api/runs")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    import json

    data = json.loads(body)
    assert isinstance(data["runs"], list) and "latest_change" in data
    status, _, body = routes_server.request("edgelab/api/latest_change")
    assert status == 200 and "token" in json.loads(body)


@pytest.mark.parametrize("path", ["edgelab/api/runs/no-such-run", "edgelab/api/runs/no-such-run/report.html"])
def test_unknown_run_is_404(routes_server, path):
    status, _, _ = routes_server.request(path)
    assert status == 404


def test_profiles_route(routes_server):
    import json

    status, _, body = routes_server.request("edgelab/api/profiles")
    assert status == 200, body
    data = json.loads(body)
    assert data["profiles"] and all("id" in p or "name" in p for p in data["profiles"])
    assert "cpu" in data["host"] or data["host"]


def _cookie_session(server):
    """Log in like a browser: GET /lab?token=… → the login and _xsrf cookies."""
    status, headers, _ = server.request(f"lab?token={server.token}", token=False)
    assert status == 200
    cookies = {}
    for raw in headers.get_all("Set-Cookie") or []:
        name, _, rest = raw.partition("=")
        cookies[name] = rest.split(";", 1)[0]
    assert any(k.startswith("username-") for k in cookies), cookies
    assert "_xsrf" in cookies
    return cookies


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_writes_need_xsrf(routes_server, method):
    cookies = _cookie_session(routes_server)
    jar = "; ".join(f"{k}={v}" for k, v in cookies.items())
    # cookie-authenticated write without the XSRF token: refused
    status, _, _ = routes_server.request("edgelab/api/runs", token=False, method=method, body=b"{}",
                                         headers={"Cookie": jar})
    assert status == 403
    # with it, the request passes XSRF and meets a read-only route
    status, _, _ = routes_server.request("edgelab/api/runs", token=False, method=method, body=b"{}",
                                         headers={"Cookie": jar, "X-XSRFToken": cookies["_xsrf"]})
    assert status == 405


def test_cookie_session_reads_runs(routes_server):
    cookies = _cookie_session(routes_server)
    jar = "; ".join(f"{k}={v}" for k, v in cookies.items())
    status, _, _ = routes_server.request("edgelab/api/runs", token=False, headers={"Cookie": jar})
    assert status == 200


def test_model_route_serves_a_model_under_the_root(routes_server):
    for rel in ("small.onnx", "sub/inner.onnx"):
        status, headers, body = routes_server.request(f"edgelab/api/model/{rel}")
        assert status == 200
        assert headers["Content-Type"] == "application/octet-stream"
        assert body == (routes_server.root_dir / rel).read_bytes()


TRAVERSALS = [
    "../outside/secret.onnx",
    "sub/../../outside/secret.onnx",
    "%2e%2e/outside/secret.onnx",
    "%2E%2E%2Foutside%2Fsecret.onnx",
    "..%2foutside%2fsecret.onnx",
    "sub/%2e%2e/%2e%2e/outside/secret.onnx",
    "/etc/passwd",
    "%2Fetc%2Fpasswd",
    "..%5coutside%5csecret.onnx",
    "escape.onnx",                       # symlinked file pointing outside
    "outdir/secret.onnx",                # symlinked folder pointing outside
    ".hidden.onnx",                      # hidden file (allow_hidden is off)
    "small.onnx%00.txt",
    "./small.onnx",
    "sub//inner.onnx",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_model_route_refuses_paths_out_of_the_root(routes_server, path):
    status, _, body = routes_server.request(f"edgelab/api/model/{path}")
    assert status == 403, (status, body[:200])
    assert SECRET not in body and b"root:" not in body


@pytest.mark.parametrize("path", ["nope.onnx", "sub", "%252e%252e/outside/secret.onnx"])
def test_model_route_404s_what_is_not_a_file(routes_server, path):
    status, _, body = routes_server.request(f"edgelab/api/model/{path}")
    assert status == 404
    assert SECRET not in body


def test_netron_page_is_patched_for_no_outside_requests(routes_server):
    status, headers, body = routes_server.request("edgelab/netron/index.html")
    assert status == 200
    html = body.decode()
    assert '<meta name="version" content="0.0.0">' in html       # no telemetry, no update nag
    assert '<meta name="date"' not in html
    cookies = headers.get_all("Set-Cookie") or []
    assert any(c.startswith("consent=") and "Path=/edgelab/netron/" in c for c in cookies)  # no consent dialog
    csp = headers["Content-Security-Policy"]
    assert "connect-src 'self'" in csp and "worker-src 'self'" in csp and "sandbox" not in csp
    assert "frame-ancestors 'self'" in csp


def test_netron_assets_are_served_and_confined(routes_server):
    status, headers, body = routes_server.request("edgelab/netron/view.js")
    assert status == 200 and "javascript" in headers["Content-Type"]
    status, _, _ = routes_server.request("edgelab/netron/")
    assert status == 302
    for bad in ("edgelab/netron/../../../etc/passwd", "edgelab/netron/%2e%2e/%2e%2e/%2e%2e/etc/passwd"):
        status, _, body = routes_server.request(bad)
        assert status in (403, 404) and b"root:" not in body


def test_server_extension_is_enabled_on_install():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "jupyter", "server", "extension", "list"],
                         capture_output=True, text=True, timeout=120)
    text = out.stdout + out.stderr
    assert re.search(r"edgelab\s+\x1b\[32menabled|edgelab\s+enabled", text), text


def test_run_json_and_report_html_for_a_cli_run(routes_server):
    """A run written by the CLI: JSON report, and the HTML page sandboxed with the name escaped."""
    import json
    import os
    import subprocess
    import sys

    hostile = "<script>window.x=1</script>"
    model = routes_server.root_dir / f"{hostile.replace('/', '_')}.onnx"
    model.write_bytes((routes_server.root_dir / "small.onnx").read_bytes())
    env = {**os.environ, "EDGELAB_HOME": str(routes_server.edgelab_home)}
    out = subprocess.run([sys.executable, "-m", "edgelab.cli", "compare", str(model), "--recipes", "fp32",
                          "--quick", "--batch", "1"], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]

    runs = json.loads(routes_server.request("edgelab/api/runs")[2])["runs"]
    run = next(r for r in runs if r["model_name"].startswith("<script>"))
    status, _, body = routes_server.request(f"edgelab/api/runs/{run['id']}")
    assert status == 200 and json.loads(body)["model"]["name"] == run["model_name"]

    status, headers, body = routes_server.request(f"edgelab/api/runs/{run['id']}/report.html")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    csp = headers["Content-Security-Policy"]
    assert "sandbox allow-scripts" in csp and "allow-same-origin" not in csp and "default-src 'none'" in csp
    assert run["model_name"].encode() not in body                 # escaped, never raw markup
