"""Reading a govrl PDF back: its embedded record, the digest it shows, its form fields."""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govrl.errors import InputError, Problem

if TYPE_CHECKING:
    from pyhanko.pdf_utils.reader import PdfFileReader

    from govrl.review.diff import Revision

RECORD_ATTACHMENT = "record.json"
DIGEST_KEY = "/GovrlRecordDigest"
VALID_UNTIL_KEY = "/GovrlValidUntil"
KIND_KEY = "/GovrlDocument"


@dataclass(frozen=True)
class GovrlPdf:
    """A govrl document as found on disk: bytes, parsed reader, and what it claims."""

    path: Path
    data: bytes
    reader: PdfFileReader
    record_json: bytes | None
    shown_digest: str | None
    valid_until: str | None
    kind: str | None
    record_damage: str | None = None

    @property
    def record_problem(self) -> str:
        """Why there is no record to read, in words for an error message."""
        if self.record_damage:
            return f"the embedded record.json cannot be read (damaged: {self.record_damage})"
        return "no embedded record.json: not a govrl document"


def damage_errors() -> tuple[type[BaseException], ...]:
    """What pyHanko raises on a damaged or tampered file, rather than on a bug."""
    from pyhanko.pdf_utils.misc import PdfError

    return (PdfError, ValueError, KeyError, TypeError, IndexError, zlib.error)


def open_pdf(path: Path) -> GovrlPdf:
    """Parse ``path`` as a PDF; a non-PDF or a broken one is a located input error."""
    from pyhanko.pdf_utils.reader import PdfFileReader


    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError([Problem(f"cannot read: {exc.strerror}", str(path))]) from None
    if not data.lstrip()[:5] == b"%PDF-":
        raise InputError([Problem("not a PDF file (no %PDF- header)", str(path))])
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        info_dict = _info(reader)
    except damage_errors() as exc:
        raise InputError([Problem(f"damaged PDF: {exc}", str(path))]) from None
    # A damaged attachment is a finding for the caller (verify still judges the signatures).
    record: bytes | None = None
    damage: str | None = None
    try:
        record = _attachment(reader, RECORD_ATTACHMENT)
    except damage_errors() as exc:
        damage = str(exc) or type(exc).__name__
    return GovrlPdf(
        path,
        data,
        reader,
        record,
        _text(info_dict, DIGEST_KEY),
        _text(info_dict, VALID_UNTIL_KEY),
        _text(info_dict, KIND_KEY),
        damage,
    )


def _info(reader: PdfFileReader) -> Any:
    try:  # indexing dereferences; .get() would hand back the bare reference
        return reader.trailer_view["/Info"]
    except KeyError:
        return {}


def _text(info: Any, key: str) -> str | None:
    value = info.get(key) if hasattr(info, "get") else None
    return str(value) if value is not None else None


def _attachment(reader: PdfFileReader, name: str) -> bytes | None:
    """The bytes of the embedded file called ``name`` in the current revision, if any."""
    names = reader.root.get("/Names")
    if names is None or "/EmbeddedFiles" not in names:
        return None
    found: bytes | None = None
    nodes = [names["/EmbeddedFiles"]]
    while nodes:
        node = nodes.pop()
        for kid in node.get("/Kids", []):
            nodes.append(kid)
        pairs = node.get("/Names", [])
        for index in range(0, len(pairs) - 1, 2):
            if str(pairs[index]) == name:
                if found is not None:
                    raise ValueError(f"two embedded files are called {name}")
                found = pairs[index + 1]["/EF"]["/F"].data
    return found


def load_revision(path: Path) -> Revision:
    """A record from YAML, or the record embedded in a govrl PDF (with its signers)."""
    import json

    from govrl.record import AssessmentRecord
    from govrl.record.files import load_record
    from govrl.review.diff import Revision

    if path.read_bytes()[:5] != b"%PDF-":
        return Revision(load_record(path).record, path)
    doc = open_pdf(path)
    if doc.record_json is None:
        raise InputError([Problem(doc.record_problem, str(path))])
    record = AssessmentRecord.model_validate(json.loads(doc.record_json))
    signers = [str(s.field_name) for s in doc.reader.embedded_signatures]
    return Revision(record, path, signers)
