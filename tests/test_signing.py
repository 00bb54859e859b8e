"""Signing by each required reviewer, and verification that tampering cannot get past."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.approvals import (
    ROLES,
    THREE,
    govrl,
    render_approval,
    sign,
    sign_in_turn,
    verify,
)
from tests.support.pki import PASSPHRASE, Pki, Reviewer, make_pki, timestamp_authority
from tests.support.records import write_record

pytestmark = [pytest.mark.pdf, pytest.mark.slow]

TODAY = dt.date.today()


def pdfsig(pdf: Path) -> str:
    return subprocess.run(["pdfsig", str(pdf)], capture_output=True, text=True).stdout


# ---------------------------------------------------------------- the good path


def test_approval_has_an_empty_field_per_required_role(unsigned_approval: Path) -> None:
    from govrl.documents.pdffile import open_pdf
    from govrl.documents.signing import signature_fields

    fields = signature_fields(open_pdf(unsigned_approval))
    assert fields == dict.fromkeys(ROLES, False)


def test_three_reviewers_sign_and_verify(signed_approval: Path, pki: Pki) -> None:
    result = verify(signed_approval, "--json", trust=pki.ca.cert)
    assert result.exit_code == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert [s["role"] for s in report["signatures"]] == ROLES
    assert all(s["intact"] and s["trusted"] for s in report["signatures"])
    assert report["missing_roles"] == [] and report["ok"]
    listing = pdfsig(signed_approval)
    assert listing.count("Signature is Valid.") == 3, listing


def test_signing_order_does_not_matter(
    unsigned_approval: Path, tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    pdf = sign_in_turn(unsigned_approval, tmp_path, pki, reviewers, list(reversed(ROLES)))
    assert verify(pdf, trust=pki.ca.cert).exit_code == 0


def test_two_reviewers_at_tier_two(
    tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    record = write_record(tmp_path / "r.yaml", tier=2)
    pdf = tmp_path / "a.pdf"
    assert render_approval(record, pdf).exit_code == 0
    signed = sign_in_turn(pdf, tmp_path, pki, reviewers, ["owner", "domain-expert"])
    result = verify(signed, trust=pki.ca.cert)
    assert result.exit_code == 0, result.stderr
    assert pdfsig(signed).count("Signature is Valid.") == 2


def test_signing_keeps_pdfa_metadata_and_record(
    signed_approval: Path, unsigned_approval: Path
) -> None:
    from govrl.documents.pdffile import open_pdf

    before, after = open_pdf(unsigned_approval), open_pdf(signed_approval)
    assert after.record_json == before.record_json
    info = after.reader.trailer_view["/Info"]
    xmp = after.reader.root["/Metadata"].data.decode()
    assert "pdfaid:part" in xmp or 'pdfaid:part="3"' in xmp
    if "/Producer" in info:
        assert str(info["/Producer"]) in xmp, "Info and XMP producers disagree after signing"


def test_timestamped_signature(
    unsigned_approval: Path, tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    with timestamp_authority() as tsa:
        out = tmp_path / "ts.pdf"
        done = sign(unsigned_approval, out, reviewers["owner"], pki, "--tsa", tsa.url)
        assert done.exit_code == 0, done.stderr
    assert tsa.served, "the timestamp authority was never asked"
    tsa_root = tsa.write_cert(tmp_path / "tsa.pem")
    report = json.loads(verify(out, "--trust", str(tsa_root), "--json", trust=pki.ca.cert).stdout)
    assert report["signatures"][0]["signed_at"]
    assert report["signatures"][0]["time_proven"] is True
    assert "Signature is Valid." in pdfsig(out)


def test_dead_timestamp_authority_is_an_environment_failure(
    unsigned_approval: Path, tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    out = tmp_path / "ts.pdf"
    done = sign(unsigned_approval, out, reviewers["owner"], pki, "--tsa", "http://127.0.0.1:9/tsa")
    assert done.exit_code == 3 and "timestamp authority" in done.stderr
    assert not out.exists()


# ---------------------------------------------------------------- refusals


def test_role_the_policy_does_not_ask_for_is_refused_unless_forced(
    unsigned_approval: Path, tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    out = tmp_path / "x.pdf"
    refused = sign(unsigned_approval, out, reviewers["ethics-fairness"], pki)
    assert refused.exit_code == 1
    assert "does not ask tier 3 for role 'ethics-fairness'" in refused.stderr
    assert not out.exists()
    forced = sign(unsigned_approval, out, reviewers["ethics-fairness"], pki, "--force")
    assert forced.exit_code == 0, forced.stderr
    report = json.loads(verify(out, "--json", trust=pki.ca.cert).stdout)
    assert any("forced" in p for p in report["problems"])  # a refusal stays one (test_roles.py)
    assert report["signatures"][0]["forced"] is True


def test_record_that_fails_its_gate_is_refused(
    tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    record = write_record(tmp_path / "r.yaml", tier=3, ci_low=10.0)
    pdf = tmp_path / "a.pdf"
    assert render_approval(record, pdf).exit_code == 0
    refused = sign(pdf, tmp_path / "s.pdf", reviewers["owner"], pki)
    assert refused.exit_code == 1 and "does not pass policy three-signers@1" in refused.stderr


def test_wrong_passphrase(
    unsigned_approval: Path, tmp_path: Path, reviewers: dict[str, Reviewer]
) -> None:
    who = reviewers["owner"]
    bad = tmp_path / "pw"
    bad.write_text("not the passphrase\n")
    done = govrl(
        "sign", unsigned_approval, "--key", who.key, "--cert", who.cert, "--role", "owner",
        "--passphrase-file", bad, "--policy", THREE, "-o", tmp_path / "o.pdf",
    )  # fmt: skip
    assert done.exit_code == 1 and "wrong passphrase" in done.stderr
    assert "Traceback" not in done.stderr and "not the passphrase" not in done.stdout + done.stderr


def test_key_that_does_not_match_certificate(
    unsigned_approval: Path, tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    done = govrl(
        "sign", unsigned_approval, "--key", reviewers["owner"].key,
        "--cert", reviewers["domain-expert"].cert, "--role", "owner",
        "--passphrase-file", pki.passphrase_file, "--policy", THREE, "-o", tmp_path / "o.pdf",
    )  # fmt: skip
    assert done.exit_code == 1 and "does not match the certificate" in done.stderr


def test_expired_certificate(unsigned_approval: Path, tmp_path: Path, pki: Pki) -> None:
    old = pki.reviewer(
        "Old Owner", "owner", days=1, not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    )
    done = sign(unsigned_approval, tmp_path / "o.pdf", old, pki)
    assert done.exit_code == 1 and "the certificate expired on" in done.stderr


def test_non_pdf_input(tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]) -> None:
    fake = tmp_path / "fake.pdf"
    fake.write_text("just text\n")
    done = sign(fake, tmp_path / "o.pdf", reviewers["owner"], pki)
    assert done.exit_code == 1 and "not a PDF file" in done.stderr
    checked = verify(fake, trust=pki.ca.cert)
    assert checked.exit_code == 1 and "not a PDF file" in checked.stderr


def test_passphrase_from_environment(
    unsigned_approval: Path, tmp_path: Path, reviewers: dict[str, Reviewer]
) -> None:
    who = reviewers["owner"]
    done = govrl(
        "sign", unsigned_approval, "--key", who.key, "--cert", who.cert, "--role", "owner",
        "--policy", THREE, "-o", tmp_path / "o.pdf",
        env={"GOVRL_KEY_PASSPHRASE": PASSPHRASE.decode()},
    )  # fmt: skip
    assert done.exit_code == 0, done.stderr
    assert PASSPHRASE.decode() not in done.stdout + done.stderr


def test_no_passphrase_and_no_terminal_is_a_usage_error(
    unsigned_approval: Path, tmp_path: Path, reviewers: dict[str, Reviewer]
) -> None:
    """A real process with stdin on /dev/null, as in a CI job: it must not wait for a prompt."""
    who = reviewers["owner"]
    env = {k: v for k, v in os.environ.items() if k != "GOVRL_KEY_PASSPHRASE"}
    done = subprocess.run(
        [sys.executable, "-m", "govrl", "sign", str(unsigned_approval), "--key", str(who.key),
         "--cert", str(who.cert), "--role", "owner", "--policy", str(THREE),
         "-o", str(tmp_path / "o.pdf")],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "GOVRL_KEY_PASSPHRASE" in done.stderr


# ---------------------------------------------------------------- tampering


def _incremental(pdf: Path, out: Path, change) -> Path:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    buffer = io.BytesIO(pdf.read_bytes())
    writer = IncrementalPdfFileWriter(buffer)
    change(writer)
    writer.write_in_place()
    out.write_bytes(buffer.getvalue())
    return out


def _expect_failure(pdf: Path, words: str, *extra: str, trust: Path | None) -> None:
    result = verify(pdf, *extra, trust=trust)
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert words in result.stderr, result.stderr


def test_flipped_byte_in_signed_revision(signed_approval: Path, tmp_path: Path, pki: Pki) -> None:
    data = bytearray(signed_approval.read_bytes())
    # A byte of the first object's stream: the first revision, covered by every signature.
    where = data.index(b"stream", data.index(b"1 0 obj") if b"1 0 obj" in data else 0) + 40
    assert where < data.index(b"/Type /Sig")
    data[where] ^= 0x01
    bad = tmp_path / "flipped.pdf"
    bad.write_bytes(bytes(data))
    _expect_failure(bad, "the signed bytes were changed", trust=pki.ca.cert)


def test_a_flipped_byte_anywhere_in_the_signed_revisions_fails_cleanly(
    signed_approval: Path, tmp_path: Path
) -> None:
    """Wherever the byte falls (a stream, an xref, a dictionary), it is a finding, not a crash."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    from govrl.documents.verification import verify_pdf
    from govrl.errors import GovrlError
    from govrl.review.policy import load_policy

    data = signed_approval.read_bytes()
    with signed_approval.open("rb") as handle:
        signatures = PdfFileReader(handle).embedded_signatures
        # Bytes every signature covers: the first revision, outside the first /Contents.
        start, first, second, _ = (int(n) for n in signatures[0].sig_object["/ByteRange"])
    policy = load_policy(THREE)
    for where in range(40, first - 1, max(1, (first - 40) // 12)):
        bad = bytearray(data)
        bad[where] ^= 0x01
        path = tmp_path / f"flipped-{where}.pdf"
        path.write_bytes(bytes(bad))
        try:
            report = verify_pdf(path, policy=policy)
        except GovrlError:
            continue  # refused as a damaged PDF before any signature: also a clean failure
        assert not report.ok, f"a flipped byte at {where} went unnoticed"
        assert report.problems
    assert start == 0 and second > first


def test_update_that_draws_over_the_page(signed_approval: Path, tmp_path: Path, pki: Pki) -> None:
    from pyhanko.pdf_utils import generic

    def draw(writer) -> None:  # type: ignore[no-untyped-def]
        stream = generic.StreamObject(stream_data=b"1 1 1 rg 0 0 600 850 re f")
        writer.add_stream_to_page(0, writer.add_object(stream))

    bad = _incremental(signed_approval, tmp_path / "drawn.pdf", draw)
    assert pdfsig(bad).count("Signature is Valid.") == 3  # what a generic viewer says
    _expect_failure(bad, "changed after it was signed", trust=pki.ca.cert)


def test_update_that_swaps_the_embedded_record(
    signed_approval: Path, tmp_path: Path, pki: Pki
) -> None:
    from pyhanko.pdf_utils import generic

    from govrl.documents.pdffile import open_pdf

    original = json.loads(open_pdf(signed_approval).record_json or b"{}")
    original["evaluation"]["metrics"][0]["ci_low"] = 41.0

    def swap(writer) -> None:  # type: ignore[no-untyped-def]
        names = writer.root["/Names"]["/EmbeddedFiles"]["/Names"]
        spec = names[1]
        new = generic.StreamObject(
            {generic.NameObject("/Type"): generic.NameObject("/EmbeddedFile")},
            stream_data=json.dumps(original).encode(),
        )
        spec["/EF"][generic.NameObject("/F")] = writer.add_object(new)
        writer.update_container(spec)

    bad = _incremental(signed_approval, tmp_path / "swapped.pdf", swap)
    assert pdfsig(bad).count("Signature is Valid.") == 3
    _expect_failure(bad, "differs from the one the document shows", trust=pki.ca.cert)


def test_changed_record_rerendered_under_old_signatures(
    signed_approval: Path, unsigned_approval: Path, tmp_path: Path, pki: Pki
) -> None:
    record = write_record(tmp_path / "changed.yaml", tier=3, value=45.0, ci_high=46.0)
    rerendered = tmp_path / "rerendered.pdf"
    assert render_approval(record, rerendered).exit_code == 0
    signatures = signed_approval.read_bytes()[len(unsigned_approval.read_bytes()) :]
    spliced = tmp_path / "spliced.pdf"
    spliced.write_bytes(rerendered.read_bytes() + signatures)
    result = verify(spliced, trust=pki.ca.cert)
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "problem:" in result.stderr or "damaged PDF" in result.stderr


def test_removed_signature(
    signed_approval: Path, unsigned_approval: Path, tmp_path: Path, pki: Pki
) -> None:
    data = signed_approval.read_bytes()
    last = data.rindex(b"%%EOF", 0, len(data) - 10) + len(b"%%EOF")
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(data[: last + 1])
    _expect_failure(
        truncated, "required roles not validly signed: independent-validator", trust=pki.ca.cert
    )


def test_expired_approval(signed_approval: Path, pki: Pki) -> None:
    later = (TODAY + dt.timedelta(days=31)).isoformat()
    _expect_failure(signed_approval, "the approval expired on", "--at", later, trust=pki.ca.cert)


def test_missing_required_role(
    unsigned_approval: Path, tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    pdf = sign_in_turn(unsigned_approval, tmp_path, pki, reviewers, ["owner", "domain-expert"])
    _expect_failure(
        pdf, "required roles not validly signed: independent-validator", trust=pki.ca.cert
    )


def test_untrusted_certificate(signed_approval: Path, tmp_path: Path) -> None:
    other = make_pki(tmp_path / "other", name="Someone Else CA")
    _expect_failure(signed_approval, "does not chain to a trusted CA", trust=other.ca.cert)


# ---------------------------------------------------------------- the stamp font


def test_the_latin_cut_holds_every_character_it_is_chosen_for() -> None:
    from fontTools.ttLib import TTFont

    from govrl.documents import signing

    full = TTFont(signing.FONT, lazy=True).getBestCmap()
    latin = TTFont(signing.LATIN_FONT, lazy=True).getBestCmap()
    wanted = {c for lo, hi in signing._LATIN for c in range(lo, hi + 1) if c in full}
    assert wanted <= set(latin), sorted(wanted - set(latin))[:10]
    assert signing._stamp_font("Signed by Zoë Ødegård-Łukasiewicz…") is signing._font(
        signing.LATIN_FONT
    )
    assert signing._stamp_font("Signed by Ольга Петрова") is signing._font(signing.FONT)


@pytest.mark.parametrize("name", ["Zoë Ødegård", "Ольга Петрова"])
def test_a_stamp_draws_the_reviewers_name_in_any_script_noto_sans_has(
    unsigned_approval: Path, pki: Pki, tmp_path: Path, name: str
) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    who = pki.reviewer(name, "owner")
    out = tmp_path / "signed.pdf"
    done = sign(unsigned_approval, out, who, pki)
    assert done.exit_code == 0, done.stderr
    with out.open("rb") as handle:
        (signature,) = PdfFileReader(handle).embedded_signatures
        appearance = (
            signature.sig_field["/Kids"][0]
            if "/Kids" in signature.sig_field
            else (signature.sig_field)
        )
        stamp = appearance["/AP"]["/N"]
        fonts = _fonts_of(stamp)
        assert fonts, "the stamp draws no text"
        for font in fonts:
            descendant = font["/DescendantFonts"][0]
            assert "/FontFile2" in descendant["/FontDescriptor"]  # embedded, as PDF/A needs
            mapping = font["/ToUnicode"].data.decode("latin-1")
            for char in {c for c in name if c != " "}:
                assert f"<{ord(char):04x}>" in mapping.lower(), f"{char!r} missing from the stamp"


def _fonts_of(xobject):  # type: ignore[no-untyped-def]
    """Every font a form XObject or its nested forms use."""
    found = []
    resources = xobject.get("/Resources", {})
    found.extend(font.get_object() for font in resources.get("/Font", {}).values())
    for inner in resources.get("/XObject", {}).values():
        found.extend(_fonts_of(inner.get_object()))
    return found
