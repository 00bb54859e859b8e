"""Markdown output: every value escaped so record text can never become markup."""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup

from govrl.documents.numbers import format_number

# Characters that start emphasis, code, links, HTML, tables, headings or entities.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~&])")
_SPACE = re.compile(r"\s+")


def md_escape(value: Any) -> str:
    """Text that a Markdown renderer shows literally, on one line (so tables hold)."""
    if value is None:
        return "—"
    if isinstance(value, float | int) and not isinstance(value, bool):
        return format_number(value)
    if isinstance(value, Markup):
        # Charts are SVG for HTML and PDF; Markdown says where to find them instead.
        return "(chart in the PDF and HTML editions)"
    text = _SPACE.sub(" ", str(value)).strip()
    return _SPECIAL.sub(r"\\\1", text)
