"""The API reference at /docs: Swagger UI over /openapi.json, every file of it served by Qualify itself."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

URL_IN_PAGE = re.compile(r"""(?:src|href|url)\s*[=:]\s*["']([^"']+)["']""")


def test_the_docs_page_loads_every_asset_from_qualify_and_nothing_from_elsewhere(client: Any) -> None:
    page = client.get("/docs")
    assert (page.status_code, page.mimetype) == (200, "text/html")
    html = page.get_data(as_text=True)
    urls = URL_IN_PAGE.findall(html)
    assert len(urls) >= 4, urls  # the stylesheet, two scripts and the OpenAPI document
    assert not re.search(r"https?://|//[a-z0-9]", html, re.IGNORECASE), "the page names another host"
    for url in urls:
        target = urljoin("http://localhost/docs", url)
        assert urlsplit(target).netloc == "localhost", url
        answer = client.get(urlsplit(target).path)
        assert answer.status_code == 200, url
        assert answer.get_data(), url
    assert '"validatorUrl": null' in html  # no badge fetched from validator.swagger.io


def test_the_docs_assets_are_served_with_their_types_and_nothing_outside_them(client: Any) -> None:
    assert client.get("/docs/assets/swagger-ui-bundle.js").mimetype in ("text/javascript", "application/javascript")
    assert client.get("/docs/assets/swagger-ui.css").mimetype == "text/css"
    assert client.get("/docs/assets/../../../../etc/passwd").status_code == 404
    assert client.get("/docs/assets/no-such-file.js").status_code == 404
