"""What verifying a signed document costs, held by its structure rather than by time.

Each revision is judged once, whatever the number of signatures; the paths pyHanko's
difference analysis needs are exactly those its own walk finds, in every revision of
honest, tampered and hand-built documents; the renderer writes no object streams; a
signature carries its signer's certificate once; archive verify opens each document once.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from govrl.documents.keys import load_certificates
from govrl.documents.pdffile import open_pdf, read_pdf
from govrl.documents.trust import as_anchors, judge_signature
from govrl.documents.verification import verify_pdf
from govrl.documents.verify_revisions import RevisionJudge
from govrl.documents.verify_usages import USAGE_CACHE, UsagePaths, Usages
from govrl.review.policy import load_policy
from tests.support.approvals import THREE
from tests.support.pki import Pki

pytestmark = [pytest.mark.pdf, pytest.mark.slow]

Change = Callable[[Any], None]


# ---------------------------------------------------------------- documents to walk


def _name(text: str) -> Any:
    from pyhanko.pdf_utils.generic import NameObject

    return NameObject(text)


def _dict(**entries: Any) -> Any:
    from pyhanko.pdf_utils.generic import DictionaryObject

    return DictionaryObject({_name(f"/{key}"): value for key, value in entries.items()})


def _numbers(*values: float) -> Any:
    from pyhanko.pdf_utils.generic import ArrayObject, FloatObject

    return ArrayObject([FloatObject(v) for v in values])


def append(data: bytes, change: Change) -> bytes:
    """``data`` with one unsigned incremental update made by ``change(writer)``."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    buffer = io.BytesIO(data)
    writer = IncrementalPdfFileWriter(buffer, strict=False)
    change(writer)
    writer.write_in_place()
    return buffer.getvalue()


def _new_page(writer: Any) -> None:
    from pyhanko.pdf_utils.generic import StreamObject

    content = writer.add_object(StreamObject(stream_data=b"0 0 1 rg 72 700 200 40 re f"))
    writer.insert_page(
        _dict(
            Type=_name("/Page"),
            MediaBox=_numbers(0, 0, 595, 842),
            Contents=content,
            Resources=_dict(),
        )
    )


def _note_on_page_one(writer: Any) -> None:
    from pyhanko.pdf_utils.generic import ArrayObject, TextStringObject

    kids = writer.root["/Pages"].raw_get("/Kids")
    page_ref = kids.raw_get(0)
    page = page_ref.get_object()
    note = writer.add_object(
        _dict(
            Type=_name("/Annot"),
            Subtype=_name("/FreeText"),
            Rect=_numbers(40, 700, 560, 800),
            P=page_ref,
            Contents=TextStringObject("REJECTED"),
        )
    )
    if "/Annots" not in page:
        page[_name("/Annots")] = ArrayObject()
    page["/Annots"].append(note)
    writer.update_container(page)


def _redraw_first_field(writer: Any) -> None:
    from pyhanko.pdf_utils.generic import StreamObject

    field = writer.root["/AcroForm"]["/Fields"][0].get_object()
    cover = StreamObject(
        {
            _name("/Type"): _name("/XObject"),
            _name("/Subtype"): _name("/Form"),
            _name("/BBox"): _numbers(0, 0, 300, 100),
        },
        stream_data=b"1 1 1 rg 0 0 300 100 re f",
    )
    field[_name("/AP")] = _dict(N=writer.add_object(cover))
    writer.update_container(field)


def tangled_document() -> bytes:
    """Three pages sharing one resource dictionary, an outline whose entries point at each
    other and at pages, a structure tree whose elements point at their parents (one at
    another element) and pages, a link from page 1 to page 3, and a catalog entry that
    points back at the catalog; then an update that rewrites page 2's content and the
    resources every page shares, and one that takes page 3 out of the page tree (the
    outline and the link still point at it)."""
    from pyhanko.pdf_utils.generic import (
        ArrayObject,
        IndirectObject,
        NumberObject,
        StreamObject,
        TextStringObject,
    )
    from pyhanko.pdf_utils.writer import PdfFileWriter

    writer = PdfFileWriter(stream_xrefs=False)
    widths = ArrayObject(NumberObject(500) for _ in range(200))
    font = writer.add_object(
        _dict(
            Type=_name("/Font"),
            Subtype=_name("/Type1"),
            BaseFont=_name("/Helvetica"),
            Widths=widths,
        )
    )
    shared = writer.add_object(_dict(Font=_dict(F1=font)))
    pages = []
    for number in range(3):
        text = f"BT /F1 12 Tf 72 720 Td (page {number + 1}) Tj ET".encode()
        content = writer.add_object(StreamObject(stream_data=text))
        page = _dict(
            Type=_name("/Page"),
            MediaBox=_numbers(0, 0, 595, 842),
            Contents=content,
            Resources=shared,
        )
        writer.insert_page(page)
        pages.append(writer.root["/Pages"].raw_get("/Kids").raw_get(number))
    link = writer.add_object(
        _dict(
            Type=_name("/Annot"),
            Subtype=_name("/Link"),
            Rect=_numbers(72, 700, 200, 720),
            P=pages[0],
            Dest=ArrayObject([pages[2], _name("/Fit")]),
        )
    )
    first_page = pages[0].get_object()
    first_page[_name("/Annots")] = ArrayObject([link])
    outline = writer.add_object(_dict(Type=_name("/Outlines")))
    items = [
        writer.add_object(
            _dict(
                Title=TextStringObject(f"Part {n}"),
                Parent=outline,
                Dest=ArrayObject([pages[n], _name("/Fit")]),
            )
        )
        for n in range(3)
    ]
    for n, item in enumerate(items):
        entry = item.get_object()
        if n:
            entry[_name("/Prev")] = items[n - 1]
        if n < 2:
            entry[_name("/Next")] = items[n + 1]
    child = writer.add_object(
        _dict(
            Title=TextStringObject("Part 0.1"),
            Parent=items[0],
            Dest=ArrayObject([pages[1], _name("/Fit")]),
        )
    )
    items[0].get_object()[_name("/First")] = child
    items[0].get_object()[_name("/Last")] = child
    outline.get_object().update(
        {_name("/First"): items[0], _name("/Last"): items[2], _name("/Count"): NumberObject(4)}
    )
    tree = writer.add_object(_dict(Type=_name("/StructTreeRoot")))
    elements = [
        writer.add_object(_dict(Type=_name("/StructElem"), S=_name("/P"), P=tree, Pg=page))
        for page in pages
    ]
    section = writer.add_object(
        _dict(Type=_name("/StructElem"), S=_name("/Sect"), P=tree, K=ArrayObject(elements))
    )
    for element in elements[:2]:
        element.get_object()[_name("/P")] = section
    elements[2].get_object()[_name("/P")] = elements[0]  # a parent off the path to it
    tree.get_object()[_name("/K")] = section
    writer.root[_name("/Outlines")] = outline
    writer.root[_name("/StructTreeRoot")] = tree
    catalog = IndirectObject(writer.root_ref.idnum, writer.root_ref.generation, writer)
    writer.root[_name("/Loop")] = writer.add_object(_dict(Back=catalog))
    buffer = io.BytesIO()
    writer.write(buffer)

    def rewrite_page_two(update: Any) -> None:
        page = update.root["/Pages"]["/Kids"][1].get_object()
        page[_name("/Contents")] = update.add_object(StreamObject(stream_data=b"0 g"))
        update.update_container(page)
        resources = page["/Resources"]
        resources["/Font"][_name("/F2")] = update.add_object(_dict(Type=_name("/Font")))
        update.update_container(resources)

    def drop_page_three(update: Any) -> None:
        tree = update.root["/Pages"]
        del tree["/Kids"][2]
        tree[_name("/Count")] = NumberObject(2)
        update.update_container(tree)

    return append(append(buffer.getvalue(), rewrite_page_two), drop_page_three)


def pyhankos_paths(data: bytes, revision: int) -> dict[Any, Any]:
    from pyhanko.pdf_utils.reader import PdfFileReader

    view = PdfFileReader(io.BytesIO(data), strict=False).get_historical_resolver(revision)
    view._load_reverse_xref_cache()
    found: dict[Any, Any] = getattr(view, USAGE_CACHE)
    return found


def assert_same_paths_in_every_revision(data: bytes) -> None:
    """Ours, one reader walking every revision in turn (so what it keeps between revisions
    is used), against pyHanko's, a fresh reader per revision."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(data), strict=False)
    usages = Usages(reader)
    for revision in range(reader.xrefs.total_revisions):
        ours = usages.paths(reader.get_historical_resolver(revision))
        theirs = pyhankos_paths(data, revision)
        assert {ref: ours[ref] for ref in ours} == theirs, f"revision {revision}"
        assert sum(map(len, theirs.values())) > len(theirs)  # some object has several paths


# ---------------------------------------------------------------- the paths


def test_usage_paths_are_pyhankos_in_every_revision_of_a_signed_approval(
    signed_approval: Path,
) -> None:
    assert_same_paths_in_every_revision(signed_approval.read_bytes())


@pytest.mark.parametrize("change", [_new_page, _note_on_page_one, _redraw_first_field])
def test_usage_paths_are_pyhankos_after_a_tampering_update(
    signed_approval: Path, change: Change
) -> None:
    assert_same_paths_in_every_revision(append(signed_approval.read_bytes(), change))


def test_usage_paths_are_pyhankos_with_cycles_and_a_structure_tree() -> None:
    data = tangled_document()
    assert_same_paths_in_every_revision(data)
    # the outline is reached once per path to it: twice for the entry both ends point at
    theirs = pyhankos_paths(data, 1)
    assert max(len(paths) for paths in theirs.values()) >= 3


# ---------------------------------------------------------------- each revision judged once


class CountingJudge(RevisionJudge):
    """A RevisionJudge that counts its comparisons of two revisions."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.compared: list[tuple[int, int]] = []

    def apply(self, old: Any, new: Any, field_mdp_spec: Any = None, doc_mdp: Any = None) -> Any:
        self.compared.append((old.revision, new.revision))
        return super().apply(old, new, field_mdp_spec, doc_mdp)


def judged_with(data: bytes, judge_class: type[RevisionJudge], pki: Pki) -> list[Any]:
    """Every signature of ``data`` validated with one judge of ``judge_class``; the judge
    and the pyHanko statuses."""
    from govrl.documents.verification import _key_usage

    doc = read_pdf(data, "approval.pdf")
    judge = judge_class(doc.reader, doc.approved.revision)
    anchors = as_anchors(load_certificates(pki.ca.cert))
    statuses = [
        judge_signature(
            s, anchors, key_usage=_key_usage(), reader=doc.reader, diff_policy=judge
        ).status
        for s in doc.reader.embedded_signatures
    ]
    return [judge, statuses]


def test_each_revision_is_judged_once_for_all_the_signatures(
    signed_approval: Path, pki: Pki
) -> None:
    data = signed_approval.read_bytes()
    judge, statuses = judged_with(data, CountingJudge, pki)
    last = judge.reader.xrefs.total_revisions - 1
    assert len(statuses) == last == 3
    assert judge.compared == [(revision - 1, revision) for revision in range(1, last + 1)]
    assert [s.modification_level.name for s in statuses] == [
        "FORM_FILLING",
        "FORM_FILLING",
        "NONE",
    ]
    assert all(s.bottom_line for s in statuses)


def test_a_refused_update_is_found_once_and_named_by_every_signature(
    signed_approval: Path, pki: Pki
) -> None:
    from govrl.documents.change_kinds import ChangeKind
    from govrl.documents.change_rules import ForbiddenChange

    judge, statuses = judged_with(
        append(signed_approval.read_bytes(), _new_page), CountingJudge, pki
    )
    assert len(judge.compared) == 4  # three signatures and the update, one comparison each
    findings = [s.diff_result for s in statuses]
    assert all(isinstance(f, ForbiddenChange) for f in findings)
    assert {(f.kind, f.revision, f.signed_over) for f in findings} == {(ChangeKind.PAGES, 4, False)}
    assert len({id(f) for f in findings}) == 3  # each signature reports its own copy


def test_verify_walks_each_revision_once_with_its_own_walk(signed_approval: Path, pki: Pki) -> None:
    doc = open_pdf(signed_approval)
    report = verify_pdf(
        doc,
        policy=load_policy(THREE),
        trust=load_certificates(pki.ca.cert),
        now=dt.datetime.now(dt.UTC),
    )
    assert report.ok, report.problems
    last = doc.reader.xrefs.total_revisions - 1
    for revision in range(last):  # every revision a later one was compared with
        paths = getattr(doc.reader.get_historical_resolver(revision), USAGE_CACHE)
        assert isinstance(paths, UsagePaths), revision  # pyHanko's walk never ran


# ---------------------------------------------------------------- what the files hold


def test_rendered_and_signed_documents_hold_no_object_streams(
    unsigned_approval: Path, signed_approval: Path
) -> None:
    from pyhanko.pdf_utils.generic import StreamObject
    from pyhanko.pdf_utils.reader import PdfFileReader

    for pdf in (unsigned_approval, signed_approval):
        data = pdf.read_bytes()
        assert b"/ObjStm" not in data and b"/XRef" not in data, pdf.name
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        rendered = reader.xrefs.explicit_refs_in_revision(0)
        streams = [s for s in map(reader.get_object, rendered) if isinstance(s, StreamObject)]
        assert len(streams) > 10
        plain = [s.get("/Subtype") for s in streams if "/Filter" not in s and s.encoded_data]
        assert plain == [], "every stream the renderer writes is compressed"


def test_a_signature_carries_its_signers_certificate_once(signed_approval: Path) -> None:
    signatures = open_pdf(signed_approval).reader.embedded_signatures
    assert len(signatures) == 3
    for signature in signatures:
        embedded = [c.chosen.dump() for c in signature.signed_data["certificates"]]
        assert embedded.count(signature.signer_cert.dump()) == 1
        assert len(embedded) == len(set(embedded))


# ---------------------------------------------------------------- the archive


def test_archive_verify_opens_each_document_once(
    signed_approval: Path, tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    from govrl.archive import Archive, PolicyFile, documents, verify_store

    archive = Archive.at(tmp_path / "store")
    trust = load_certificates(pki.ca.cert)
    policy = PolicyFile.load(THREE)
    archive.add(signed_approval, policy=policy, trust=trust)
    archive.add(
        signed_approval.with_name("signed-1.pdf"), policy=policy, trust=trust, allow_unverified=True
    )
    opened: list[str] = []

    def counted(data: bytes, name: str) -> Any:
        opened.append(name)
        return read_pdf(data, name)

    monkeypatch.setattr(documents, "read_pdf", counted)
    report = verify_store(archive, trust=trust, any_policy=True, jobs=1)
    assert report.signatures_checked == 2
    assert len(opened) == len(set(opened)) == 2
