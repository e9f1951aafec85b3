"""/docs and /redoc work without internet: every asset they load is served by the api itself (issue #18)."""

from __future__ import annotations

import re

import httpx
import pytest

from packfinderz.kit.openapi import DOCS_ASSETS

# src="...", href="...", url(...) and the JS string literals the pages build requests from
_URL = re.compile(
    r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(\s*["']?([^"')]+)|["'](https?://[^"']+|//[^"']+)["']"""
)


def _urls(html: str) -> set[str]:
    return {next(group for group in match.groups() if group) for match in _URL.finditer(html)}


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}),
        ("/redoc", {"redoc.standalone.js", "favicon.png"}),
    ],
)
async def test_docs_pages_load_only_local_assets(
    client: httpx.AsyncClient, page: str, assets: set[str]
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    urls = _urls(response.text)
    assert {f"{DOCS_ASSETS}/{name}" for name in assets} <= urls
    remote = {url for url in urls if not url.startswith("/")}
    assert remote == set(), f"{page} loads from elsewhere: {remote}"
    assert "'/openapi.json'" in response.text or '"/openapi.json"' in response.text
    for url in urls:
        served = await client.get(url)
        assert served.status_code == 200, url
        assert len(served.content) > 1000, url


async def test_assets_have_their_content_types(client: httpx.AsyncClient) -> None:
    expected = {
        "swagger-ui-bundle.js": "javascript",
        "swagger-ui.css": "text/css",
        "redoc.standalone.js": "javascript",
        "favicon.png": "image/png",
    }
    for name, kind in expected.items():
        response = await client.get(f"{DOCS_ASSETS}/{name}")
        assert response.status_code == 200, name
        assert kind in response.headers["content-type"], name
    assert (await client.get(f"{DOCS_ASSETS}/nothing.js")).status_code == 404


async def test_oauth2_redirect_page_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs/oauth2-redirect")
    assert response.status_code == 200
    assert "oauth2" in response.text.lower()
