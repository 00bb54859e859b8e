"""Rendering: every number, gate and digest reaches the PDF, which is archival and reproducible."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from markupsafe import escape
from pypdf import PdfReader

from govrl.cli.render_cmds import render as render_command
from govrl.documents.html_to_pdf import PdfMeta, document_identifier
from govrl.documents.markdown import md_escape
from govrl.documents.numbers import format_number
from govrl.documents.render import Format, Kind, Rendered, render
from govrl.documents.view import _gate_row, _legible_reason, _marginal
from govrl.record import AssessmentRecord
from govrl.record.files import dump_yaml, load_record
from govrl.record.identity import canonical_json, record_digest
from govrl.review.checklist import ChecklistLibrary
from govrl.review.evidence import evidence_of
from govrl.review.gate import Status
from govrl.review.policy import load_policy
from govrl.review.status import status
from govrl.vocabulary import Domain, RiskTier
from tests.support.paths import EXAMPLES, ROOT

DATE = dt.date(2026, 5, 1)
SEPSIS = EXAMPLES / "sepsis-offline-rl.yaml"
GRID = EXAMPLES / "grid-frequency-control.yaml"
LIBRARY = ChecklistLibrary.discover()
POLICY = load_policy()


def with_answers(record: AssessmentRecord) -> AssessmentRecord:
    """The record with its domain's checklists attached: most items yes, some open."""
    data = record.model_dump(mode="json", exclude_none=True)
    tier = RiskTier(data["system"]["risk_tier"])
    data["checklists"] = []
    for checklist in LIBRARY.for_domain(Domain(data["system"]["domain"])):
        items = {}
        for n, item in enumerate(checklist.applicable(tier)):
            if n % 7 == 3:
                continue
            items[item.id] = {
                "answer": "no" if n % 11 == 5 else "yes",
                "evidence": [f"docs/{item.id}.md"],
                "answered_by": "Priya Raman",
                "answered_at": "2026-04-20T10:00:00Z",
            }
        data["checklists"].append(
            {"id": checklist.id, "version": checklist.version, "items": items}
        )
    return AssessmentRecord.model_validate(data)


def render_pdf(record: AssessmentRecord, kind: Kind) -> Rendered:
    return render(record, kind=kind, policy=POLICY, library=LIBRARY, on=DATE)


def pdf_text(content: bytes) -> str:
    """pdftotext's reading of the PDF, whitespace collapsed."""
    out = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=content, capture_output=True, check=True
    ).stdout.decode("utf-8")
    return re.sub(r"\s+", " ", out)


def shows(text: str, value: float | int | None, within: Any = None) -> bool:
    """``value`` appears as a whole number in ``text`` (not as part of a longer one), to the
    precision of the interval of ``within`` when given."""
    low, high = (within.ci_low, within.ci_high) if within is not None else (None, None)
    token = re.escape(format_number(value, low, high))
    return re.search(rf"(?<![\d.,]){token}(?![\d])", text) is not None


@pytest.fixture(scope="module")
def sepsis() -> AssessmentRecord:
    return load_record(SEPSIS).record


@pytest.fixture(scope="module")
def answered(sepsis: AssessmentRecord) -> AssessmentRecord:
    return with_answers(sepsis)


@pytest.fixture(scope="module")
def card(sepsis: AssessmentRecord) -> Rendered:
    return render_pdf(sepsis, Kind.MODEL_CARD)


@pytest.fixture(scope="module")
def approval(answered: AssessmentRecord) -> Rendered:
    return render_pdf(answered, Kind.APPROVAL)


@pytest.fixture(scope="module")
def card_text(card: Rendered) -> str:
    return pdf_text(card.content)


@pytest.fixture(scope="module")
def approval_text(approval: Rendered) -> str:
    return pdf_text(approval.content)


# ---------------------------------------------------------------- content


@pytest.mark.pdf
@pytest.mark.slow
def test_model_card_shows_every_number(sepsis: AssessmentRecord, card_text: str) -> None:
    ev = sepsis.evaluation
    missing = []
    bounded: list[Any] = [*ev.metrics, *ev.off_policy, *ev.stress_tests, *ev.subgroups]
    for item in bounded:
        for number in (item.value, item.ci_low, item.ci_high):
            if number is not None and not shows(card_text, number, item):
                missing.append((getattr(item, "id", item), number))
    for estimate in ev.off_policy:
        for number in (estimate.ess, estimate.episodes):
            if not shows(card_text, number):
                missing.append((estimate.id, number))
        if not shows(card_text, estimate.behaviour_value, estimate):
            missing.append((estimate.id, estimate.behaviour_value))
    for group in ev.subgroups:
        for number in (group.n, group.ess):
            if number is not None and not shows(card_text, number):
                missing.append((group.group, number))
    for term in sepsis.reward.terms:
        if not shows(card_text, term.weight):
            missing.append((term.name, term.weight))
    assert not missing
    assert "[0.173, 0.229] (95%)" in card_text
    assert "passed" in card_text and "failed" in card_text  # stress-test outcomes


@pytest.mark.pdf
@pytest.mark.slow
def test_model_card_has_every_section_and_the_provenance(
    sepsis: AssessmentRecord, card: Rendered, card_text: str
) -> None:
    for heading in (
        "Intended use and autonomy",
        "Model and training data",
        "Reward specification",
        "Oversight metrics kept out of the reward",
        "Off-policy estimates",
        "Stress and distribution-shift tests",
        "Per-subgroup results",
        "Out-of-distribution detection",
        "Limitations and negative results",
        "Monitoring plan",
        "Changelog",
    ):
        assert heading in card_text
    assert "Learning curves" in card_text and "training step" in card_text
    assert "86b24036c15d19bc31cccd92bfe79357" in card_text  # an MLflow run id
    assert sepsis.changelog[0].summary.split()[0] in card_text
    assert record_digest(sepsis) in card_text
    assert (
        f"Page 1 of {card.pages}" in card_text and f"Page {card.pages} of {card.pages}" in card_text
    )
    assert card.pages == len(PdfReader(io.BytesIO(card.content)).pages) > 8


@pytest.mark.pdf
@pytest.mark.slow
def test_approval_shows_every_gate_and_its_outcome(
    answered: AssessmentRecord, approval: Rendered, approval_text: str
) -> None:
    decision = status(answered, POLICY, LIBRARY, today=DATE).decision
    assert decision.gates
    assert approval.verdict == decision.verdict.value == "reject"
    # Rows are grouped by gate: each gate with its count of passes, and each failing, unjudged
    # or marginal row with the judged number (to its evidence's precision) and its margin.
    precision = {e.key: (e.ci_low, e.ci_high) for e in evidence_of(answered)}
    listed = []
    for gate in decision.gates:
        assert gate.gate in approval_text
        total = sum(g.gate == gate.gate for g in decision.gates)
        passing = sum(g.gate == gate.gate and g.status is Status.PASS for g in decision.gates)
        assert f"{gate.gate} · {passing} of {total} pass" in approval_text
        if gate.status is Status.PASS and not _marginal(gate):
            continue
        listed.append(gate)
        row = _gate_row(gate, precision)  # numbers to the precision of their evidence
        assert row.observed in approval_text and row.margin in approval_text
    outcomes = re.findall(r"\b(pass|fail|insufficient evidence)\b", approval_text)
    for state in (Status.FAIL, Status.INSUFFICIENT):
        expected = sum(g.status is state for g in listed)
        label = "insufficient evidence" if state is Status.INSUFFICIENT else state.value
        assert outcomes.count(label) >= expected, state
    # Table cells wrap, so whole reasons are checked in the HTML edition of the same document.
    html = render(
        answered, kind=Kind.APPROVAL, fmt=Format.HTML, policy=POLICY, library=LIBRARY, on=DATE
    ).content.decode()
    html = html.replace("<wbr>", "")  # where an identifier may break
    for gate in listed:
        reason = _legible_reason(gate, precision)  # its numbers to its evidence's precision
        assert escape(reason) in html and escape(gate.evidence) in html
    # pdftotext joins a line broken after a hyphen without it: compare without hyphens.
    unhyphenated = re.sub(r"[\s-]", "", approval_text)
    for blocker in decision.blockers:
        text = re.sub(r" \[[\w.-]+\]$", "", blocker)  # page one groups them by gate
        assert escape(text) in html
        assert re.sub(r"[\s-]", "", text) in unhyphenated
    assert f"until {decision.valid_until}" not in approval_text  # a rejection holds no period
    assert "Reject" in approval_text.replace("REJECT", "Reject")
    assert record_digest(answered) in approval_text


@pytest.mark.pdf
def test_a_rejected_approval_says_it_permits_nothing_and_cannot_be_signed(
    approval: Rendered, approval_text: str
) -> None:
    assert approval.verdict == "reject"
    words = " ".join(approval_text.split())
    signoff = words[words.rindex("Sign-off") :]
    assert "Not for signature. The record does not pass policy" in signoff
    assert "govrl sign refuses it" in signoff
    assert "A signature approves" not in words and "records review" not in words
    assert "never: the record is rejected, and a rejection approves nothing" in words


@pytest.mark.pdf
@pytest.mark.slow
def test_approval_summarises_checklists_and_coverage(
    answered: AssessmentRecord, approval_text: str
) -> None:
    report = status(answered, POLICY, LIBRARY, today=DATE)
    for section in report.sections:
        assert section.title in approval_text
        assert re.search(rf"{section.answered} ?/ ?{section.applicable}", approval_text)
    for unit in report.coverage:
        assert unit.unit in approval_text
    for item in report.decision.items:
        if item.open:
            assert item.item.id in approval_text


# ---------------------------------------------------------------- archival PDF


@pytest.mark.pdf
@pytest.mark.slow
def test_record_json_is_attached_byte_for_byte(sepsis: AssessmentRecord, card: Rendered) -> None:
    reader = PdfReader(io.BytesIO(card.content))
    assert reader.attachments == {"record.json": [canonical_json(sepsis)]}
    catalog = reader.trailer["/Root"]
    (filespec,) = [ref.get_object() for ref in catalog["/AF"]]
    assert filespec["/AFRelationship"] == "/Data"
    assert filespec["/EF"]["/F"].get_object()["/Subtype"] == "/application/json"


@pytest.mark.pdf
@pytest.mark.slow
def test_metadata_carries_the_digest_and_version(sepsis: AssessmentRecord, card: Rendered) -> None:
    from govrl import __version__

    digest = record_digest(sepsis)
    reader = PdfReader(io.BytesIO(card.content))
    info = reader.metadata
    assert info is not None
    assert info["/GovrlRecordDigest"] == digest
    assert info["/GovrlVersion"] == __version__
    assert digest in info["/Keywords"] and digest in info["/Subject"]
    assert "/Producer" not in info  # pyHanko rewrites it on signing; see pdf.py
    assert info["/CreationDate"].startswith("D:20260501")
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    assert f"<govrl:recordDigest>{digest}</govrl:recordDigest>" in xmp
    assert f"<govrl:govrlVersion>{__version__}</govrl:govrlVersion>" in xmp
    assert "pdfaExtension:schemas" in xmp and digest in xmp.split("pdf:Keywords")[1]
    meta = PdfMeta("", "", "", [], digest, __version__, "model-card", "reject", DATE)
    assert reader.trailer["/ID"][0] == document_identifier(meta).decode()


@pytest.mark.pdf
@pytest.mark.slow
def test_every_font_is_embedded(card: Rendered, tmp_path: Path) -> None:
    path = tmp_path / "card.pdf"
    path.write_bytes(card.content)
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True)
    rows = out.stdout.splitlines()[2:]
    assert rows
    for row in rows:
        emb = row.split()[-5]
        assert emb == "yes", row
    assert any("Govrl-Sans" in row for row in rows)  # the shipped font, not a system one


@pytest.mark.pdf
@pytest.mark.slow
def test_approval_has_one_empty_signature_field_per_role(approval: Rendered) -> None:
    roles = POLICY.tiers[RiskTier.HIGH].signers
    assert approval.signature_fields == roles
    reader = PdfReader(io.BytesIO(approval.content))
    fields = reader.get_fields()
    assert fields is not None and sorted(fields) == sorted(roles)
    for role in roles:
        assert fields[role]["/FT"] == "/Sig" and "/V" not in fields[role]
    signoff = next(
        n for n, page in enumerate(reader.pages) if "Sign-off" in (page.extract_text() or "")
    )
    widgets = [a.get_object() for a in reader.pages[signoff]["/Annots"]]
    sig_widgets = {w["/T"]: w for w in widgets if w.get("/FT") == "/Sig"}
    assert set(sig_widgets) == set(roles)
    for widget in sig_widgets.values():
        x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
        # The field lies over the 84 mm x 26 mm box the template draws (plus its border).
        assert abs((x2 - x1) - 84 * 72 / 25.4) < 2.5 and abs((y2 - y1) - 26 * 72 / 25.4) < 2.5
        assert 0 < x1 < x2 < 595.3 and 0 < y1 < y2 < 841.9
        assert "/AP" in widget and int(widget["/F"]) & 4  # printable, with an appearance


@pytest.mark.pdf
@pytest.mark.slow
def test_a_reviewer_can_sign_the_owner_field_with_pyhanko(approval: Rendered) -> None:
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Owner (test)")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    certificate = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    signer = signers.SimpleSigner(
        signing_cert=certificate,
        signing_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ),
        cert_registry=None,
    )
    meta = signers.PdfSignatureMetadata(
        field_name="owner", subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256"
    )
    out = io.BytesIO()
    writer = IncrementalPdfFileWriter(io.BytesIO(approval.content))
    signers.PdfSigner(meta, signer=signer).sign_pdf(writer, output=out)
    (signature,) = PdfFileReader(out).embedded_signatures
    assert signature.field_name == "owner"
    result = validate_pdf_signature(signature, ValidationContext(trust_roots=[certificate]))
    assert result.intact and result.valid and result.bottom_line
    signed = PdfReader(io.BytesIO(out.getvalue()))
    assert (
        signed.attachments["record.json"]
        == PdfReader(io.BytesIO(approval.content)).attachments["record.json"]
    )


# ---------------------------------------------------------------- reproducibility

REPRODUCE = """
import datetime as dt, sys
from pathlib import Path
from govrl.review.checklist import ChecklistLibrary
from govrl.review.policy import load_policy
from govrl.record.files import load_record
from govrl.documents.render import Kind, render
record = load_record(Path(sys.argv[1])).record
out = render(record, kind=Kind.APPROVAL, policy=load_policy(),
             library=ChecklistLibrary.discover(), on=dt.date(2026, 5, 1))
sys.stdout.buffer.write(out.content)
"""


@pytest.mark.pdf
@pytest.mark.slow
def test_same_record_date_and_version_give_the_same_bytes(
    answered: AssessmentRecord, approval: Rendered, tmp_path: Path
) -> None:
    first = approval.content  # rendered once for this module, before the tests above ran
    assert render_pdf(answered, Kind.APPROVAL).content == first
    # Another process, another hash seed, a different clock second: still the same bytes.
    source = tmp_path / "answered.yaml"
    source.write_text(dump_yaml(answered.model_dump(mode="json", exclude_none=True)))
    assert record_digest(load_record(source).record) == record_digest(answered)
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    env.pop("SOURCE_DATE_EPOCH", None)
    other = subprocess.run(
        [sys.executable, "-c", REPRODUCE, str(source)],
        capture_output=True,
        check=True,
        cwd=ROOT,
        env=env,
    ).stdout
    assert other == first
    later = render(
        answered, kind=Kind.APPROVAL, policy=POLICY, library=LIBRARY, on=DATE.replace(day=2)
    )
    assert later.content != first


# ---------------------------------------------------------------- other formats


def test_html_and_markdown_carry_the_same_content(sepsis: AssessmentRecord) -> None:
    html = render(
        sepsis, kind=Kind.MODEL_CARD, fmt=Format.HTML, policy=POLICY, library=LIBRARY, on=DATE
    )
    md = render(
        sepsis, kind=Kind.MODEL_CARD, fmt=Format.MD, policy=POLICY, library=LIBRARY, on=DATE
    )
    html_text, md_text = html.content.decode(), md.content.decode()
    assert html_text.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in html_text
    assert "<svg" in html_text and "@font-face" not in html_text  # no file references
    assert "file:" not in html_text and "http://" not in html_text.replace("http://www.w3.org", "")
    for item in [*sepsis.evaluation.metrics, *sepsis.evaluation.off_policy]:
        assert format_number(item.value) in html_text and format_number(item.value) in md_text
    digest = record_digest(sepsis)
    assert digest in html_text and f"`{digest}`" in md_text
    assert "| Metric | Value | Confidence interval |" in md_text
    assert "\\[0.173, 0.229\\] (95%)" in md_text


def test_markdown_approval_lists_gates_and_fields(answered: AssessmentRecord) -> None:
    md = render(
        answered, kind=Kind.APPROVAL, fmt=Format.MD, policy=POLICY, library=LIBRARY, on=DATE
    )
    text = md.content.decode()
    for role in POLICY.tiers[RiskTier.HIGH].signers:
        assert f"signature field `{role}`" in text
    gates = status(answered, POLICY, LIBRARY, today=DATE).decision.gates
    # Grouped by gate as in the PDF: a head per gate with its count of passes, and a row for
    # each failing, unjudged or marginal piece of evidence.
    for gate in gates:
        total = sum(g.gate == gate.gate for g in gates)
        passing = sum(g.gate == gate.gate and g.status is Status.PASS for g in gates)
        assert f"| **{md_escape(gate.gate)}** | {passing} of {total} pass" in text
        if gate.status is not Status.PASS or _marginal(gate):
            assert f"| {md_escape(gate.evidence)} |" in text


def test_grid_example_renders_both_documents() -> None:
    record = load_record(GRID).record
    card = render(
        record, kind=Kind.MODEL_CARD, fmt=Format.HTML, policy=POLICY, library=LIBRARY, on=DATE
    )
    text = card.content.decode()
    for metric in record.evaluation.metrics:
        assert format_number(metric.value) in text
    assert text.count("<svg") >= 1  # the learning curve from the metric history


# ---------------------------------------------------------------- command line


@pytest.mark.pdf
@pytest.mark.slow
def test_cli_writes_the_pdf_and_reports_it(tmp_path: Path) -> None:
    out = tmp_path / "approval.pdf"
    args = [str(SEPSIS), "--kind", "approval", "-o", str(out), "--date", "2026-05-01"]
    result = CliRunner().invoke(render_command, args)
    assert result.exit_code == 0, result.output
    assert "signature fields: owner, domain-expert, ethics-fairness, independent-validator" in (
        result.output
    )
    assert out.read_bytes().startswith(b"%PDF-1.7")
    result = CliRunner().invoke(render_command, [*args, "--json", "--format", "md"])
    assert result.exit_code == 0 and '"format": "md"' in result.output
    assert out.read_text().startswith("# Deployment approval")


def test_cli_prints_markdown_to_stdout() -> None:
    args = [
        str(SEPSIS),
        "--kind",
        "model-card",
        "--format",
        "md",
        "-o",
        "-",
        "--date",
        "2026-05-01",
    ]
    result = CliRunner().invoke(render_command, args)
    assert result.exit_code == 0 and result.output.startswith("# Model card")


def test_cli_usage_errors_exit_2(tmp_path: Path) -> None:
    base = [str(SEPSIS), "-o", str(tmp_path / "x.pdf")]
    assert CliRunner().invoke(render_command, [*base, "--kind", "poster"]).exit_code == 2
    bad_date = [*base, "--kind", "approval", "--date", "01/05/2026"]
    assert CliRunner().invoke(render_command, bad_date).exit_code == 2
    assert not (tmp_path / "x.pdf").exists()


def copy_templates(tmp_path: Path) -> Path:
    import shutil

    from govrl.documents.render import shipped_templates

    folder = tmp_path / "templates"
    shutil.copytree(shipped_templates(), folder)
    return folder


def invoke_main(args: list[str]) -> Any:
    """Through govrl's root group, where errors become messages and exit codes."""
    import click

    from govrl.cli import GovrlGroup

    @click.group(cls=GovrlGroup)
    def root() -> None:
        pass

    root.add_command(render_command)
    return CliRunner().invoke(root, ["render", *args])


def test_a_broken_template_names_the_template_and_line(tmp_path: Path) -> None:
    folder = copy_templates(tmp_path)
    lines = (folder / "approval.html").read_text().splitlines()
    lines[9] = "{% if view.verdict %}<p>never closed"
    (folder / "approval.html").write_text("\n".join(lines))
    out = tmp_path / "approval.pdf"
    out.write_bytes(b"the previous approval")
    args = [str(SEPSIS), "--kind", "approval", "-o", str(out), "--template-dir", str(folder)]
    result = invoke_main(args)
    assert result.exit_code == 1
    assert "approval.html:" in result.output and "template error" in result.output
    assert out.read_bytes() == b"the previous approval"  # nothing half-written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["approval.pdf", "templates"]


def test_a_failing_template_expression_names_its_line(tmp_path: Path) -> None:
    folder = copy_templates(tmp_path)
    text = (folder / "model-card.html").read_text()
    (folder / "model-card.html").write_text(
        text.replace("{{ s.description }}", "{{ s.nonexistent }}")
    )
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "{{ s.description }}" in t)
    args = [
        str(SEPSIS),
        "--kind",
        "model-card",
        "-o",
        str(tmp_path / "c.pdf"),
        "--template-dir",
        str(folder),
    ]
    result = invoke_main(args)
    assert result.exit_code == 1
    assert f"model-card.html:{line}" in result.output and "nonexistent" in result.output
    (folder / "model-card.html").unlink()
    result = invoke_main(args)
    assert result.exit_code == 1 and "'model-card.html' not found" in result.output


@pytest.mark.pdf
@pytest.mark.slow
def test_an_approval_template_without_a_signature_box_is_refused(tmp_path: Path) -> None:
    folder = copy_templates(tmp_path)
    page = (folder / "macros.html").read_text()
    (folder / "macros.html").write_text(page.replace('id="{{ signer.box_id }}"', ""))
    out = tmp_path / "approval.pdf"
    result = invoke_main(
        [str(SEPSIS), "--kind", "approval", "-o", str(out), "--template-dir", str(folder)]
    )
    assert result.exit_code == 1 and "no signature box for role 'owner'" in result.output
    assert not out.exists()


def test_missing_weasyprint_exits_3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import now raises ImportError
    out = tmp_path / "card.pdf"
    result = invoke_main([str(SEPSIS), "--kind", "model-card", "-o", str(out)])
    assert result.exit_code == 3
    assert "cannot load the PDF renderer" in result.output and not out.exists()


def test_importing_the_renderer_loads_no_heavy_library() -> None:
    code = (
        "import sys, govrl.documents.render, govrl.documents.view, govrl.cli.render_cmds;"
        "print(sorted(m for m in ('weasyprint', 'pyhanko', 'jinja2', 'pydyf') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
