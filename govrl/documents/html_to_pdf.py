"""HTML to an archival PDF: PDF/A-3b, record attached, signature fields, same bytes each time.

Same bytes for the same record, date, govrl version and font subsetter: WeasyPrint subsets
fonts with HarfBuzz-Subset when the system has it, else with fontTools, and the two write
different (equally valid) font programs, so a machine without it says so once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from govrl.documents.pdffile import RECORD_ATTACHMENT, PdfMeta, signature_field
from govrl.errors import EnvironmentFailure, GovrlError

PX_TO_PT = 0.75  # WeasyPrint lays out in CSS pixels (96 per inch); PDF uses points (72).


class RendererUnavailable(EnvironmentFailure):
    """WeasyPrint, or the Pango and HarfBuzz libraries it needs, cannot be loaded."""


class SignatureBoxMissing(GovrlError):
    """The approval template draws no box for a role that must sign."""


@dataclass(frozen=True)
class SignatureField:
    name: str
    page: int
    rect: tuple[float, float, float, float]


@dataclass(frozen=True)
class PdfResult:
    content: bytes
    pages: int
    fields: list[SignatureField]
    refused: list[str]
    warnings: list[str]


def load_weasyprint() -> ModuleType:
    """Import WeasyPrint, turning a missing library into an environment failure (exit 3)."""
    try:
        import weasyprint  # type: ignore[import-untyped]
    except (ImportError, OSError) as exc:
        raise RendererUnavailable(
            f"cannot load the PDF renderer (WeasyPrint with Pango and HarfBuzz): {exc}",
            hint="install the system libraries (Debian: apt-get install libpango-1.0-0 "
            "libpangoft2-1.0-0 libharfbuzz0b), or render --format html or md",
        ) from None
    return weasyprint  # type: ignore[no-any-return]


def document_identifier(meta: PdfMeta) -> bytes:
    """The PDF /ID: fixed by what the document is, so equal inputs give equal bytes."""
    seed = f"{meta.digest}|{meta.kind}|{meta.date.isoformat()}|{meta.govrl_version}"
    if meta.draft:
        seed += "|draft"  # a draft and the final document are different documents
    return hashlib.sha256(seed.encode()).hexdigest()[:32].encode()


@contextlib.contextmanager
def _source_date(moment: dt.datetime) -> Iterator[None]:
    """fontTools stamps subset fonts with SOURCE_DATE_EPOCH if set, else with the clock."""
    before = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = str(int(moment.timestamp()))
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        else:
            os.environ["SOURCE_DATE_EPOCH"] = before


FONTTOOLS_FALLBACK = (
    "fonts are subset with fontTools because HarfBuzz-Subset is missing (Debian: apt-get "
    "install libharfbuzz-subset0); the PDFs are valid and the same on each run here, but "
    "their bytes differ from those rendered where HarfBuzz-Subset is installed"
)
# What this process has already said: the subsetter is the same for every document it renders.
_said_once: set[str] = set()


class _Collect(logging.Handler):
    """WeasyPrint's warnings for one document, each once; the subsetter fallback once a process."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "HarfBuzz-Subset" in message:
            # WeasyPrint says it for every font of every document; one line says it all.
            message = FONTTOOLS_FALLBACK
            if message in _said_once:
                return
            _said_once.add(message)
        if message not in self.messages:
            self.messages.append(message)


def html_to_pdf(
    html: str, root: Path, meta: PdfMeta, record_json: bytes, roles: Sequence[str]
) -> PdfResult:
    """Lay out ``html`` (resources from ``root`` only) as PDF/A-3b with the record attached."""
    weasyprint = load_weasyprint()
    from govrl.documents.fetcher import ConfinedFetcher

    fetcher = ConfinedFetcher(root)
    moment = dt.datetime.combine(meta.date, dt.time(), tzinfo=dt.UTC)
    collect = _Collect()
    logger = logging.getLogger("weasyprint")
    logger.addHandler(collect)
    try:
        with _source_date(moment):
            document = weasyprint.HTML(
                string=html, base_url=root.resolve().as_uri() + "/", url_fetcher=fetcher
            ).render()
            _set_metadata(document, meta, moment)
            fields = _signature_fields(document, roles)
            attachment = weasyprint.Attachment(
                string=record_json,
                name=RECORD_ATTACHMENT,
                description=f"The assessment record, RFC 8785 canonical JSON ({meta.digest})",
                relationship="Data",
                created=moment.replace(tzinfo=None),
                modified=moment.replace(tzinfo=None),
                url_fetcher=fetcher,
            )
            content = document.write_pdf(
                pdf_variant="pdf/a-3b",
                pdf_identifier=document_identifier(meta),
                attachments=[attachment],
                custom_metadata=True,
                # A plain cross-reference table, no object streams; _finish compresses every
                # stream again. pyHanko finds an object in an object stream by reading the
                # stream's index from its start, so verifying read those objects in time
                # quadratic in their number.
                uncompressed_pdf=True,
                finisher=lambda _doc, pdf: _finish(pdf, meta, fields),
            )
    finally:
        logger.removeHandler(collect)
    return PdfResult(content, len(document.pages), fields, fetcher.refused, collect.messages)


def _set_metadata(document: Any, meta: PdfMeta, moment: dt.datetime) -> None:
    """Replace whatever the HTML declared: metadata and attachments are govrl's alone."""
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    data = document.metadata
    data.title = meta.title
    data.authors = [meta.author]
    data.description = meta.subject
    data.keywords = meta.keywords
    data.generator = f"govrl {meta.govrl_version}"
    data.created = data.modified = stamp
    data.custom = meta.info_entries()
    # <link rel=attachment> and <a rel=attachment> would embed files: none but the record.
    data.attachments = []
    for page in document.pages:
        page.links[:] = [link for link in page.links if link[0] != "attachment"]


def _signature_fields(document: Any, roles: Sequence[str]) -> list[SignatureField]:
    """Each role's field rectangle, in PDF points, from its box's position on the page."""
    fields = []
    for role in roles:
        box_id = f"sig-{role}"
        for number, page in enumerate(document.pages):
            if box_id in page.anchors:
                x1, y1, x2, y2 = page.anchors[box_id]
                rect = (
                    round(x1 * PX_TO_PT, 2),
                    round((page.height - y2) * PX_TO_PT, 2),
                    round(x2 * PX_TO_PT, 2),
                    round((page.height - y1) * PX_TO_PT, 2),
                )
                fields.append(SignatureField(signature_field(role), number, rect))
                break
        else:
            raise SignatureBoxMissing(
                f"the approval template draws no signature box for role {role!r}",
                hint=f"give the box an element with id={box_id!r}",
            )
    return fields


def _finish(pdf: Any, meta: PdfMeta, fields: list[SignatureField]) -> None:
    """Last edits before the trailer is written: Info, XMP, the empty signature fields, and
    every stream compressed (WeasyPrint leaves them plain when told to write no object
    streams)."""
    # pyHanko rewrites /Producer when it signs; without one, Info and XMP keep agreeing.
    pdf.info.pop("Producer", None)
    # WeasyPrint lists the attachment in /AF twice (from the name tree and the filespec).
    if "AF" in pdf.catalog:
        unique = list(dict.fromkeys(pdf.catalog["AF"]))
        pdf.catalog["AF"].clear()
        pdf.catalog["AF"].extend(unique)
    _extend_xmp(pdf, meta)
    if fields:
        _add_signature_fields(pdf, fields)
    _compress_streams(pdf)


def _compress_streams(pdf: Any) -> None:
    import pydyf  # type: ignore[import-untyped]

    for item in pdf.objects:
        if isinstance(item, pydyf.Stream):
            item.compress = True


def _object(pdf: Any, reference: Any) -> Any:
    number = int(reference.split()[0]) if isinstance(reference, bytes | str) else reference
    return pdf.objects[number]


def _extend_xmp(pdf: Any, meta: PdfMeta) -> None:
    """Add govrl's properties to the XMP stream WeasyPrint wrote."""
    stream = _object(pdf, pdf.catalog["Metadata"])
    content = b"".join(stream.stream)
    stream.stream = [content.replace(b"</rdf:RDF>", meta.xmp() + b"</rdf:RDF>", 1)]


def _add_signature_fields(pdf: Any, fields: list[SignatureField]) -> None:
    """Empty /Sig fields laid over the drawn boxes, built as pyHanko builds them.

    They live in the first (and only) revision, so the file stays byte-reproducible;
    each reviewer's signature then fills its field in an incremental update.
    """
    import pydyf  # type: ignore[import-untyped,unused-ignore]

    kids = pdf.pages["Kids"]
    references = []
    for field in fields:
        page = pdf.objects[kids[3 * field.page]]
        x1, y1, x2, y2 = field.rect
        # PDF/A wants an appearance for every visible widget: an empty one will do.
        appearance = pydyf.Stream(
            [b""],
            {"Type": "/XObject", "Subtype": "/Form", "BBox": pydyf.Array([0, 0, x2 - x1, y2 - y1])},
        )
        pdf.add_object(appearance)
        widget = pydyf.Dictionary(
            {
                "FT": "/Sig",
                "T": pydyf.String(field.name),
                "TU": pydyf.String(f"Signature: {field.name}"),
                "Type": "/Annot",
                "Subtype": "/Widget",
                "F": 132,  # print + locked, as pyHanko sets for a visible field
                "Rect": pydyf.Array(field.rect),
                "P": page.reference,
                "AP": pydyf.Dictionary({"N": appearance.reference}),
            }
        )
        pdf.add_object(widget)
        if "Annots" not in page:
            page["Annots"] = pydyf.Array()
        page["Annots"].append(widget.reference)
        references.append(widget.reference)
    pdf.catalog["AcroForm"] = pydyf.Dictionary({"Fields": pydyf.Array(references), "SigFlags": 1})
