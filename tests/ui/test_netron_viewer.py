"""Open an .onnx from JupyterLab's file browser → Netron draws the graph, from this server only."""
from __future__ import annotations

from urllib.parse import urlparse

import pytest

pytestmark = pytest.mark.ui

FRAME = ".jp-edgelab-netron-frame"


def _drawn_nodes(page, frame_selector: str = FRAME) -> int:
    """Number of graph nodes Netron drew with a real on-screen size inside the viewer iframe.

    (Netron replaces window.eval, so this uses Playwright's locators, not page-side evaluate.)
    """
    nodes = page.frame_locator(frame_selector).locator("#canvas g.node")
    nodes.first.wait_for(state="visible", timeout=45_000)
    boxes = [nodes.nth(i).bounding_box() for i in range(min(nodes.count(), 20))]
    return sum(1 for b in boxes if b and b["width"] > 4 and b["height"] > 4)


def _file_item(page, name: str):
    return page.locator(f".jp-DirListing-item[title^='Name: {name}']")


def _outside_hosts(requests: list[str]) -> set[str]:
    return {urlparse(u).hostname for u in requests if urlparse(u).scheme in ("http", "https", "ws", "wss")} - {"127.0.0.1"}


@pytest.mark.parametrize("base_url", ["/", "/user/someone/"], ids=["root", "base_url"])
def test_double_click_onnx_renders_netron_graph(lab_factory, tmp_path, lab_page, page_requests,
                                               onnx_model_factory, artifacts_dir, base_url):
    model = onnx_model_factory(tmp_path)
    lab = lab_factory(root_dir=tmp_path, base_url=base_url)
    page = lab_page(lab)

    _file_item(page, model.name).dblclick()
    tab = page.locator(".jp-edgelab-netron-viewer")
    tab.wait_for(state="visible")
    assert _drawn_nodes(page) >= 3
    frame = page.frame_locator(FRAME)
    assert not frame.locator("body.alert, body.notification").count()   # no consent or error dialog
    src = page.locator(FRAME).get_attribute("src")
    assert src.startswith(f"{lab.url}edgelab/netron/index.html?url=")
    page.screenshot(path=artifacts_dir / f"netron-{'base-url' if base_url != '/' else 'root'}.png")

    # the model was fetched once, by the iframe, through edgelab's model route; no other host
    model_fetches = [u for u in page_requests if "/edgelab/api/model/" in u]
    assert len(model_fetches) == 1, model_fetches
    contents_fetches = [u for u in page_requests if f"/api/contents/{model.name}?" in u]
    assert all("content=0" in u for u in contents_fetches), contents_fetches  # no base64 download
    assert not _outside_hosts(page_requests), sorted(_outside_hosts(page_requests))


def test_open_with_netron_and_unreadable_model_message(lab, lab_page, page_requests, onnx_model_factory,
                                                       artifacts_dir):
    model = onnx_model_factory(lab.root_dir, "model copy.onnx")     # a space in the name
    (lab.root_dir / "broken.onnx").write_bytes(b"\x08\x07this is not a protobuf model\xff\xfe" * 20)
    page = lab_page(lab)

    _file_item(page, model.name).click(button="right")
    page.locator(".lm-Menu-item:has-text('Open With')").hover()
    page.locator(".lm-Menu-item:has-text('Netron (model graph)')").click()
    assert _drawn_nodes(page) >= 3

    _file_item(page, "broken.onnx").dblclick()
    page.wait_for_function("document.querySelectorAll('.jp-edgelab-netron-viewer').length === 2")
    viewer = page.locator(".jp-edgelab-netron-viewer:visible")
    netron_says = page.frame_locator(".jp-edgelab-netron-viewer:visible " + FRAME).locator("#message-text")
    netron_says.wait_for(state="visible", timeout=45_000)
    assert netron_says.inner_text().strip()
    banner = viewer.locator(".jp-edgelab-netron-error")
    banner.wait_for(state="visible")
    assert "Netron cannot read broken.onnx" in banner.inner_text()
    page.screenshot(path=artifacts_dir / "netron-unreadable.png")
    assert not _outside_hosts(page_requests), sorted(_outside_hosts(page_requests))
