"""Unsigned incremental updates appended to a signed approval: each kind of change fails
`verify` and is named, and what the signatures approve is read from what they cover.

Every update here is one pyHanko's default difference policy grades FORM_FILLING or
LTA_UPDATES (what `verify` accepted before govrl had a change policy of its own),
except where a test says that pyHanko's default refused it too.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from govrl import __version__
from govrl.documents.change_kinds import ChangeKind
from govrl.documents.pdffile import open_pdf
from tests.support.approvals import ROLES, THREE, govrl, render_approval, sign, sign_in_turn
from tests.support.pki import Pki, Reviewer, timestamp_server
from tests.support.records import write_record

pytestmark = [pytest.mark.pdf, pytest.mark.slow]

Change = Callable[[Any], None]
TAMPERED = 4  # signed_approval has revisions 0 (rendered) to 3 (the third signature)
LAST_SIGNER = "signature 'independent-validator' by Ivan Independent"


# ---------------------------------------------------------------- crafting updates


def append(pdf: Path, out: Path, change: Change) -> Path:
    """``pdf`` with one unsigned incremental update made by ``change(writer)``."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    buffer = io.BytesIO(pdf.read_bytes())
    writer = IncrementalPdfFileWriter(buffer, strict=False)
    change(writer)
    writer.write_in_place()
    out.write_bytes(buffer.getvalue())
    return out


def _name(text: str) -> Any:
    from pyhanko.pdf_utils.generic import NameObject

    return NameObject(text)


def _numbers(*values: float) -> Any:
    from pyhanko.pdf_utils.generic import ArrayObject, FloatObject

    return ArrayObject([FloatObject(v) for v in values])


def _set_info(**changes: Callable[[str], str]) -> Change:
    """Rewrite Info entries (``GovrlValidUntil=...`` for /GovrlValidUntil) from their values."""

    def change(writer: Any) -> None:
        from pyhanko.pdf_utils.generic import DictionaryObject, TextStringObject

        info = DictionaryObject(dict(writer.prev.trailer_view["/Info"].items()))
        for key, value in changes.items():
            info[_name(f"/{key}")] = TextStringObject(value(str(info.get(f"/{key}", ""))))
        writer.set_info(info)

    return change


def _reject(keywords: str) -> str:
    assert "decision approve" in keywords
    return keywords.replace("decision approve", "decision reject")


LATER_DATE = _set_info(GovrlValidUntil=lambda _: "2099-12-31")


def _cover(writer: Any, width: float, height: float) -> Any:
    """A form XObject that paints a white box with a red frame over whatever lies under it."""
    from pyhanko.pdf_utils.generic import StreamObject

    drawing = f"1 1 1 rg 0 0 {width} {height} re f 1 0 0 RG 2 w 0 0 {width} {height} re S"
    stream = StreamObject(
        {
            _name("/Type"): _name("/XObject"),
            _name("/Subtype"): _name("/Form"),
            _name("/BBox"): _numbers(0, 0, width, height),
        },
        stream_data=drawing.encode(),
    )
    return writer.add_object(stream)


def _first_page(writer: Any) -> tuple[Any, Any]:
    kids = writer.root["/Pages"].raw_get("/Kids")
    ref = kids.raw_get(0)
    return ref, ref.get_object()


def _annotate(writer: Any, annotation: dict[str, Any], *, as_field: bool) -> None:
    """Put ``annotation`` over the title of page 1; ``as_field`` also lists it as a form field."""
    from pyhanko.pdf_utils.generic import ArrayObject, DictionaryObject

    page_ref, page = _first_page(writer)
    entries = {
        "/Type": _name("/Annot"),
        "/Rect": _numbers(40, 700, 560, 800),
        "/P": page_ref,
        "/AP": DictionaryObject({_name("/N"): _cover(writer, 520, 100)}),
        **annotation,
    }
    ref = writer.add_object(DictionaryObject({_name(k): v for k, v in entries.items()}))
    if "/Annots" not in page:
        page[_name("/Annots")] = ArrayObject()
    page["/Annots"].append(ref)
    writer.update_container(page)
    if as_field:
        writer.root["/AcroForm"]["/Fields"].append(ref)
        writer.update_root()


def _new_page(writer: Any) -> None:
    """A page at the end: a blue bar and nothing else."""
    from pyhanko.pdf_utils.generic import DictionaryObject, StreamObject

    content = StreamObject(stream_data=b"0 0 1 rg 72 700 200 40 re f")
    page = {
        "/Type": _name("/Page"),
        "/MediaBox": _numbers(0, 0, 595, 842),
        "/Contents": writer.add_object(content),
        "/Resources": DictionaryObject(),
    }
    writer.insert_page(DictionaryObject({_name(k): v for k, v in page.items()}))


def _redraw_owner(writer: Any) -> None:
    """Give the owner's signed widget a new appearance: a white box."""
    from pyhanko.pdf_utils.generic import DictionaryObject

    field = _signed_field(writer, "owner")
    x1, y1, x2, y2 = (float(v) for v in field["/Rect"])
    field[_name("/AP")] = DictionaryObject({_name("/N"): _cover(writer, x2 - x1, y2 - y1)})
    writer.update_container(field)


def _signed_field(writer: Any, role: str) -> Any:
    for ref in writer.root["/AcroForm"]["/Fields"]:
        field = ref.get_object()
        if str(field["/T"]) == role:
            assert "/V" in field, f"the {role} field is not signed"
            return field
    raise AssertionError(f"no {role} field")


# ---------------------------------------------------------------- judging


def verify_with(pdf: Path, pki: Pki, *extra: str) -> Result:
    return govrl("verify", pdf, "--policy", THREE, "--trust", pki.ca.cert, *extra)


def report_of(pdf: Path, pki: Pki, *extra: str) -> dict[str, Any]:
    result = verify_with(pdf, pki, "--json", *extra)
    assert result.stdout, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def refused(
    pdf: Path,
    pki: Pki,
    kind: ChangeKind,
    *details: str,
    options: tuple[str, ...] = (),
    revision: int = TAMPERED,
    last_signer: str = LAST_SIGNER,
) -> str:
    """Verify fails (exit 1, no traceback) and names the revision, the kind and the details,
    for the last signature too: its analysis covers the unsigned update after it."""
    result = verify_with(pdf, pki, *options)
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    named = f"the document was changed after it was signed: revision {revision} changed the"
    assert f"{last_signer}: {named} {kind.value}: " in result.stderr, result.stderr
    for detail in details:
        assert detail in result.stderr, result.stderr
    return result.stderr


def pdfsig(pdf: Path) -> str:
    return subprocess.run(["pdfsig", str(pdf)], capture_output=True, text=True).stdout


# ---------------------------------------------------------------- what still verifies


def test_an_honest_approval_verifies_and_pdfsig_agrees(signed_approval: Path, pki: Pki) -> None:
    result = verify_with(signed_approval, pki)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "VERIFIED" in result.stdout
    assert pdfsig(signed_approval).count("Signature is Valid.") == 3


def test_signatures_with_timestamps_still_verify(
    unsigned_approval: Path, tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    pdf = unsigned_approval
    with timestamp_server() as (url, served):
        for n, role in enumerate(ROLES):
            out = tmp_path / f"stamped-{n}.pdf"
            done = sign(pdf, out, reviewers[role], pki, "--tsa", url)
            assert done.exit_code == 0, done.stderr
            pdf = out
    assert served, "the timestamp authority was never asked"
    result = verify_with(pdf, pki)
    assert result.exit_code == 0, result.stdout + result.stderr
    report = report_of(pdf, pki)
    assert [s["later_changes"] for s in report["signatures"]] == [
        "FORM_FILLING",
        "FORM_FILLING",
        "NONE",
    ]
    assert pdfsig(pdf).count("Signature is Valid.") == len(ROLES)


def test_validation_material_after_the_signatures_is_allowed(
    signed_approval: Path, tmp_path: Path, pki: Pki
) -> None:
    """A DSS with the signers' chains, then a document timestamp: what PAdES-LTA adds."""
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import signers, timestamps
    from pyhanko.sign.validation import add_validation_info, validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from govrl.documents.changes import change_policy, later_change_problems, review
    from govrl.documents.keys import load_certificates

    (ca_cert,) = load_certificates(pki.ca.cert)
    ca = asn1_x509.Certificate.load(ca_cert.public_bytes(Encoding.DER))
    context = ValidationContext(trust_roots=[ca], allow_fetching=False, revocation_mode="soft-fail")
    data = io.BytesIO(signed_approval.read_bytes())
    last = PdfFileReader(data).embedded_signatures[-1]
    add_validation_info(last, context, in_place=True)
    with timestamp_server() as (url, _):
        stamped = io.BytesIO()
        signers.PdfTimeStamper(timestamps.HTTPTimeStamper(url)).timestamp_pdf(
            IncrementalPdfFileWriter(data, strict=False), "sha256", output=stamped
        )
    reader = PdfFileReader(stamped, strict=False)
    assert reader.xrefs.total_revisions == 6
    assert review(reader, None) == []  # every revision against the one before
    policy = change_policy(min(s.signed_revision for s in reader.embedded_signatures))
    for signature in reader.embedded_signatures:
        if signature.sig_object_type != "/Sig":
            continue  # the document timestamp itself
        status = validate_pdf_signature(signature, context, diff_policy=policy)
        assert later_change_problems(status, str(signature.field_name), "?") == []
        assert status.modification_level.name in {"LTA_UPDATES", "FORM_FILLING"}


# ---------------------------------------------------------------- one test per kind of change


def test_a_changed_valid_until_in_info_fails_and_the_signed_date_still_judges_expiry(
    signed_approval: Path, tmp_path: Path, pki: Pki
) -> None:
    signed_until = open_pdf(signed_approval).valid_until
    assert signed_until is not None
    bad = append(signed_approval, tmp_path / "a.pdf", LATER_DATE)
    assert open_pdf(bad).valid_until == "2099-12-31"  # what a reader of the last revision sees
    refused(bad, pki, ChangeKind.INFO, f"/GovrlValidUntil '{signed_until}' became '2099-12-31'")
    after = (dt.date.fromisoformat(signed_until) + dt.timedelta(days=1)).isoformat()
    report = report_of(bad, pki, "--at", after)
    assert report["valid_until"] == signed_until and report["expired"] is True
    assert f"the approval expired on {signed_until}" in report["problems"]


@pytest.fixture(scope="module")
def rejected_approval(
    tmp_path_factory: pytest.TempPathFactory, pki: Pki, reviewers: dict[str, Reviewer]
) -> Path:
    """The approval of a record its gate rejects, signed by all three roles with --force."""
    folder = tmp_path_factory.mktemp("rejected")
    pdf = folder / "rejected.pdf"
    assert render_approval(write_record(folder / "r.yaml", tier=3, ci_low=10.0), pdf).exit_code == 0
    for n, role in enumerate(ROLES):
        out = folder / f"forced-{n}.pdf"
        done = sign(pdf, out, reviewers[role], pki, "--force")
        assert done.exit_code == 0, done.stderr
        pdf = out
    return pdf


def test_a_changed_decision_keyword_in_info_fails(
    rejected_approval: Path, tmp_path: Path, pki: Pki
) -> None:
    """A rejected approval verifies only when its refusals are accepted; turning its decision
    keyword into approve must not make the rejection disappear."""
    assert verify_with(rejected_approval, pki, "--accept-forced").exit_code == 0

    def approve(keywords: str) -> str:
        assert "decision reject" in keywords
        return keywords.replace("decision reject", "decision approve")

    bad = append(rejected_approval, tmp_path / "b.pdf", _set_info(Keywords=approve))
    assert open_pdf(bad).decision == "approve"
    stderr = refused(
        bad,
        pki,
        ChangeKind.INFO,
        "decision reject' became",
        "decision approve'",
        options=("--accept-forced",),
    )
    report = report_of(bad, pki)
    assert "the document's decision is reject, not approve" in report["refusals"], stderr


def test_changed_xmp_metadata_fails(signed_approval: Path, tmp_path: Path, pki: Pki) -> None:
    def rewrite(writer: Any) -> None:
        from pyhanko.pdf_utils.metadata.xmp_xml import MetadataStream

        xmp = writer.root["/Metadata"].data
        assert b"approve" in xmp
        changed = xmp.replace(b'decision="approve"', b'decision="reject"')
        changed = changed.replace(b">approve<", b">reject<")
        writer.root[_name("/Metadata")] = writer.add_object(MetadataStream(stream_data=changed))
        writer.update_root()

    bad = append(signed_approval, tmp_path / "c.pdf", rewrite)
    refused(bad, pki, ChangeKind.XMP, "govrl:decision 'approve' became 'reject'")


def test_a_new_empty_signature_field_over_page_text_fails(
    signed_approval: Path, tmp_path: Path, pki: Pki
) -> None:
    from pyhanko.pdf_utils.generic import NumberObject, TextStringObject

    def board_field(writer: Any) -> None:
        fields = {"/Subtype": _name("/Widget"), "/FT": _name("/Sig"), "/F": NumberObject(4)}
        _annotate(writer, {**fields, "/T": TextStringObject("board")}, as_field=True)

    bad = append(signed_approval, tmp_path / "d.pdf", board_field)
    refused(bad, pki, ChangeKind.FIELD, "page 1: a visible widget of a new signature field 'board'")
    assert pdfsig(bad).count("Signature is Valid.") == 3  # what a generic viewer says


def test_an_added_annotation_fails(signed_approval: Path, tmp_path: Path, pki: Pki) -> None:
    """pyHanko's default refused this one too (OTHER), without saying what it was."""
    from pyhanko.pdf_utils.generic import TextStringObject

    def note(writer: Any) -> None:
        _annotate(
            writer,
            {"/Subtype": _name("/FreeText"), "/Contents": TextStringObject("REJECTED")},
            as_field=False,
        )

    bad = append(signed_approval, tmp_path / "e.pdf", note)
    refused(bad, pki, ChangeKind.ANNOTATION, "page 1: a /FreeText annotation was added")


def test_an_annotation_that_calls_itself_a_signature_field_fails(
    signed_approval: Path, tmp_path: Path, pki: Pki
) -> None:
    """pyHanko's default takes a /Square with /FT /Sig for a new signature field's widget."""
    from pyhanko.pdf_utils.generic import TextStringObject

    def square(writer: Any) -> None:
        _annotate(
            writer,
            {"/Subtype": _name("/Square"), "/FT": _name("/Sig"), "/T": TextStringObject("note")},
            as_field=True,
        )

    bad = append(signed_approval, tmp_path / "e2.pdf", square)
    refused(bad, pki, ChangeKind.ANNOTATION, "page 1: a /Square annotation was added")


def test_an_added_page_fails(signed_approval: Path, tmp_path: Path, pki: Pki) -> None:
    """pyHanko's default refused this one too (OTHER), without saying what it was."""
    bad = append(signed_approval, tmp_path / "f.pdf", _new_page)
    count = int(open_pdf(signed_approval).reader.root["/Pages"]["/Count"])
    refused(bad, pki, ChangeKind.PAGES, f"the document has {count + 1} pages, it had {count}")


def test_a_replaced_appearance_of_a_signed_widget_fails(
    signed_approval: Path, tmp_path: Path, pki: Pki
) -> None:
    """pyHanko's default refused this one too (OTHER), without saying what it was."""
    bad = append(signed_approval, tmp_path / "g.pdf", _redraw_owner)
    refused(
        bad, pki, ChangeKind.APPEARANCE, "the field 'owner' was changed after it was signed: /AP"
    )


def test_a_signed_widgets_appearance_rewritten_in_place_fails(
    signed_approval: Path, tmp_path: Path, pki: Pki
) -> None:
    """pyHanko's default refused this one too (OTHER), without saying what it was."""
    from pyhanko.pdf_utils.generic import StreamObject

    def overwrite(writer: Any) -> None:
        ref = _signed_field(writer, "owner")["/AP"].raw_get("/N").reference
        old = ref.get_object()
        writer.objects[(ref.generation, ref.idnum)] = StreamObject(
            {_name(k): old.raw_get(k) for k in ("/Type", "/Subtype", "/BBox")},
            stream_data=b"1 1 1 rg 0 0 300 100 re f",
        )

    bad = append(signed_approval, tmp_path / "g2.pdf", overwrite)
    refused(bad, pki, ChangeKind.APPEARANCE, "the appearance of the field 'owner'", "rewritten")


def test_the_widget_of_a_lone_signature_redrawn_after_it_fails(
    owner_signed_approval: Path, tmp_path: Path, pki: Pki
) -> None:
    """With one signature, whose analysis starts at the rendered revision, the owner's field
    looks newly filled there: it is judged against the revision that signed it instead.
    pyHanko's default refused this one too (OTHER), without saying what it was."""
    bad = append(owner_signed_approval, tmp_path / "lone.pdf", _redraw_owner)
    refused(
        bad,
        pki,
        ChangeKind.APPEARANCE,
        "the field 'owner' was changed after it was signed: /AP",
        revision=2,
        last_signer="signature 'owner' by Olive Owner",
    )


def test_the_stamp_font_of_a_lone_signature_rewritten_after_it_fails(
    owner_signed_approval: Path, tmp_path: Path, pki: Pki
) -> None:
    """pyHanko's default refused this one too (OTHER), without saying what it was."""
    from pyhanko.pdf_utils.generic import DictionaryObject

    def refont(writer: Any) -> None:
        stamp = _signed_field(writer, "owner")["/AP"]["/N"]
        font_ref = stamp["/Resources"]["/Font"].raw_get("/F1").reference
        font = font_ref.get_object()
        changed = DictionaryObject({_name(k): font.raw_get(k) for k in font})
        changed[_name("/BaseFont")] = _name("/Courier")
        writer.objects[(font_ref.generation, font_ref.idnum)] = changed

    bad = append(owner_signed_approval, tmp_path / "refont.pdf", refont)
    refused(
        bad,
        pki,
        ChangeKind.APPEARANCE,
        "the appearance of the field 'owner'",
        "rewritten after it was signed",
        revision=2,
        last_signer="signature 'owner' by Olive Owner",
    )


def test_an_update_before_a_lone_signature_fails(
    tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    """A tier-1 approval needs the owner alone. A signature covering the whole file gets no
    difference analysis from pyHanko, so the revisions under it are reviewed on their own."""
    approval = tmp_path / "tier1.pdf"
    assert render_approval(write_record(tmp_path / "r.yaml", tier=1), approval).exit_code == 0
    extended = append(approval, tmp_path / "extended.pdf", _new_page)
    signed = tmp_path / "signed.pdf"
    assert sign(extended, signed, reviewers["owner"], pki).exit_code == 0
    result = verify_with(signed, pki)
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "revision 1 changed the pages: the document has" in result.stderr, result.stderr


def test_an_added_catalog_entry_fails(signed_approval: Path, tmp_path: Path, pki: Pki) -> None:
    """/MarkInfo is one of the catalog entries pyHanko's default lets a later revision add."""
    from pyhanko.pdf_utils.generic import BooleanObject, DictionaryObject

    def mark(writer: Any) -> None:
        writer.root[_name("/MarkInfo")] = DictionaryObject({_name("/Marked"): BooleanObject(True)})
        writer.update_root()

    bad = append(signed_approval, tmp_path / "h.pdf", mark)
    refused(bad, pki, ChangeKind.CATALOG, "entry /MarkInfo added")


def test_an_added_open_action_fails(signed_approval: Path, tmp_path: Path, pki: Pki) -> None:
    """pyHanko's default refused this one too (OTHER), without saying what it was."""
    from pyhanko.pdf_utils.generic import DictionaryObject, TextStringObject

    def open_action(writer: Any) -> None:
        writer.root[_name("/OpenAction")] = DictionaryObject(
            {_name("/S"): _name("/URI"), _name("/URI"): TextStringObject("https://example.org/")}
        )
        writer.update_root()

    bad = append(signed_approval, tmp_path / "h2.pdf", open_action)
    refused(bad, pki, ChangeKind.CATALOG, "entry /OpenAction added")


# ---------------------------------------------------------------- where the analysis reaches


def test_every_signature_names_the_update_after_the_last_one(
    signed_approval: Path, tmp_path: Path, pki: Pki
) -> None:
    """pyHanko judges each signature on the revisions after it: the last signature's analysis
    is the one that reaches an update appended after it, and all three are invalidated."""
    bad = append(signed_approval, tmp_path / "late.pdf", LATER_DATE)
    report = report_of(bad, pki)
    assert not report["ok"]
    for signature in report["signatures"]:
        assert signature["later_changes"] == "OTHER"
        assert any(f"revision {TAMPERED} changed the" in p for p in signature["problems"])
    assert report["missing_roles"] == ["owner", "domain-expert", "independent-validator"]


def test_an_update_before_the_first_signature_fails(
    unsigned_approval: Path, tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    """pyHanko starts each signature's analysis at the revision it signed, so nothing judged
    the revisions up to the earliest one: a page added to the unsigned approval, then signed
    by all three, passed verify before."""
    extended = append(unsigned_approval, tmp_path / "extended.pdf", _new_page)
    signed = sign_in_turn(extended, tmp_path, pki, reviewers, ROLES)
    result = verify_with(signed, pki)
    assert result.exit_code == 1, result.stdout + result.stderr
    covered = "signature 'owner' by Olive Owner covers a change: revision 1 changed the pages"
    assert covered in result.stderr, result.stderr


def test_what_is_approved_is_read_from_the_earliest_signatures_revision(
    signed_approval: Path, tmp_path: Path
) -> None:
    honest = open_pdf(signed_approval)
    later = _set_info(GovrlValidUntil=lambda _: "2099-12-31", Keywords=_reject)
    bad = open_pdf(append(signed_approval, tmp_path / "all.pdf", later))
    assert (bad.valid_until, bad.decision) == ("2099-12-31", "reject")
    facts = bad.approved
    assert facts.revision == 1
    assert (facts.valid_until, facts.decision) == (honest.valid_until, "approve")
    assert (facts.digest, facts.kind, facts.record_json) == (
        honest.shown_digest,
        "approval",
        honest.record_json,
    )
    assert facts.govrl_version == __version__


def test_archive_add_keeps_the_signed_validity_and_decision(
    signed_approval: Path, tmp_path: Path, pki: Pki
) -> None:
    """`archive add` refuses the document, and when told to keep it anyway, describes it by
    what the signatures cover, not by the values appended after them."""
    from govrl.archive import Archive, PolicyFile
    from govrl.archive.store import DocumentRefused
    from govrl.documents.keys import load_certificates

    def conditions(keywords: str) -> str:
        return keywords.replace("decision approve", "decision approve-with-conditions")

    later = _set_info(GovrlValidUntil=lambda _: "2099-12-31", Keywords=conditions)
    bad = append(signed_approval, tmp_path / "archived.pdf", later)
    assert open_pdf(bad).valid_until == "2099-12-31"
    assert open_pdf(bad).decision == "approve-with-conditions"
    archive, policy = Archive.at(tmp_path / "store"), PolicyFile.load(THREE)
    trust = load_certificates(pki.ca.cert)
    with pytest.raises(DocumentRefused) as refusal:
        archive.add(bad, policy=policy, trust=trust)
    assert f"revision {TAMPERED} changed the {ChangeKind.INFO.value}" in refusal.value.message
    entry = archive.add(bad, policy=policy, trust=trust, allow_unverified=True).entry
    assert entry.valid_until == open_pdf(signed_approval).valid_until
    assert entry.verdict == "approve"
    assert not entry.verification.ok
