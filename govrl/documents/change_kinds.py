"""The kinds of change a later revision of a govrl document may be refused for."""

from __future__ import annotations

from enum import StrEnum


class ChangeKind(StrEnum):
    """What a refused revision changed, in words for the report."""

    INFO = "document information (Info)"
    XMP = "XMP metadata"
    CATALOG = "document catalog"
    PAGES = "pages"
    PAGE_CONTENT = "page content"
    ANNOTATION = "annotations"
    FIELD = "form fields"
    APPEARANCE = "signature appearance"
    OBJECTS = "signed objects"
    UNREADABLE = "file structure"
