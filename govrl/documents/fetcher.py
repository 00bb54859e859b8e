"""The only way WeasyPrint may read anything: data: URIs and files inside the template folder.

Imported only by the PDF writer, so WeasyPrint loads only when a PDF is made.
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from weasyprint.urls import URLFetcher, URLFetcherResponse  # type: ignore[import-untyped]

MAX_FILE_BYTES = 16 * 1024 * 1024
# Font and stylesheet types the stdlib table may not know on every platform.
TYPES = {".otf": "font/otf", ".ttf": "font/ttf", ".woff": "font/woff", ".woff2": "font/woff2"}


class ConfinedFetcher(URLFetcher):  # type: ignore[misc]
    """Serves ``data:`` and confined ``file:`` URLs; refuses and records everything else."""

    def __init__(self, root: Path) -> None:
        super().__init__(
            timeout=1,
            allowed_protocols=("data", "file"),
            allow_redirects=False,
            fail_on_errors=False,
        )
        self.root = os.path.realpath(root)
        self.refused: list[str] = []

    def fetch(self, url: str, headers: Any = None) -> Any:
        scheme = url.split(":", 1)[0].lower()
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme == "file":
            path = self.confined_path(url)
            if path is not None:
                with open(path, "rb") as handle:
                    body = handle.read(MAX_FILE_BYTES + 1)
                if len(body) <= MAX_FILE_BYTES:
                    kind = TYPES.get(Path(path).suffix.lower()) or mimetypes.guess_type(path)[0]
                    headers_out = {"Content-Type": kind or "application/octet-stream"}
                    return URLFetcherResponse(url, body=body, headers=headers_out)
        self.refused.append(url)
        # ValueError makes WeasyPrint skip the resource and carry on.
        raise ValueError(f"govrl refused to fetch {url}: only data: URIs and template files")

    def confined_path(self, url: str) -> str | None:
        """The real path ``url`` names if it is a regular file inside the folder, else None."""
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            return None
        real = os.path.realpath(url2pathname(parts.path))
        if os.path.commonpath([real, self.root]) != self.root or not os.path.isfile(real):
            return None
        return real
