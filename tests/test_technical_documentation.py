"""The technical documentation: EU AI Act Annex IV points 1 to 9 in order, every gap named by
its record field, archival PDF/A-3b, signed by the policy's signers and accepted by the archive."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from govrl.cli import main
from govrl.documents.render import Format, Kind, Rendered, render
from govrl.record import AssessmentRecord
from govrl.record.files import load_record
from govrl.record.identity import canonical_json
from govrl.review.checklist import ChecklistLibrary
from govrl.review.policy import load_policy
from tests.support.approvals import THREE, govrl, sign, verify
from tests.support.paths import DATA, EXAMPLES
from tests.support.pki import PASSPHRASE, Pki, Reviewer
from tests.support.records import write_record

DATE = dt.date(2026, 5, 1)
LIBRARY = ChecklistLibrary.discover()
POLICY = load_policy()
EXAMPLE_FILES = {
    "grid": EXAMPLES / "grid-frequency-control.yaml",
    "sepsis": EXAMPLES / "sepsis-offline-rl.yaml",
}
ROLES = ["owner", "independent-validator"]  # a policy's technical_documentation.signers by default

# Annex IV of Regulation (EU) 2024/1689, in its order, as the document titles each point.
POINTS = [
    "General description of the AI system",
    "Elements of the AI system and its development",
    "Monitoring, functioning and control",
    "Appropriateness of the performance metrics",
    "Risk management system",
    "Changes through the lifecycle",
    "Harmonised standards and other solutions applied",
    "EU declaration of conformity",
    "Post-market monitoring",
]
SUB_POINTS = [f"1({c})" for c in "abcdefgh"] + [f"2({c})" for c in "abcdefgh"]
SUB_POINTS += [f"3({c})" for c in "abcde"]


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def page_texts(content: bytes) -> list[str]:
    """pdftotext's reading of each page, in layout mode (so a table of contents keeps its lines)."""
    out = subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", "-", "-"],
        input=content,
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    return out.split("\f")


def in_order(text: str, needles: list[str]) -> list[str]:
    """The needles not found in ``text`` in the given order (empty when all are)."""
    missing, at = [], 0
    for needle in needles:
        found = text.find(needle, at)
        if found < 0:
            missing.append(needle)
        else:
            at = found + len(needle)
    return missing


def render_kind(record: AssessmentRecord, fmt: Format = Format.PDF) -> Rendered:
    return render(
        record, kind=Kind.TECHNICAL_DOCUMENTATION, fmt=fmt, policy=POLICY, library=LIBRARY, on=DATE
    )


@pytest.fixture(scope="module", params=sorted(EXAMPLE_FILES))
def example(request: pytest.FixtureRequest) -> AssessmentRecord:
    return load_record(EXAMPLE_FILES[request.param]).record


@pytest.fixture(scope="module")
def example_pdf(example: AssessmentRecord) -> Rendered:
    return render_kind(example)


@pytest.fixture(scope="module")
def minimal() -> AssessmentRecord:
    """A record with no technical section, hazard log, reviewers or evidence register."""
    return load_record(DATA / "valid-minimal.yaml").record


# ---------------------------------------------------------------- content


@pytest.mark.pdf
@pytest.mark.slow
def test_points_1_to_9_follow_the_annex_order(example_pdf: Rendered) -> None:
    body = flat(" ".join(page_texts(example_pdf.content)[1:]))
    headings = [f"{n} {title}" for n, title in enumerate(POINTS, start=1)]
    assert in_order(body, headings) == []
    assert in_order(body, SUB_POINTS) == []
    titled = ["2(h) Cybersecurity measures", "3(a) Capabilities and limitations"]
    assert in_order(body, titled) == []


@pytest.mark.pdf
@pytest.mark.slow
def test_the_contents_give_the_page_each_point_starts_on(example_pdf: Rendered) -> None:
    pages = page_texts(example_pdf.content)
    cover = pages[0]
    assert "The technical documentation of" in flat(cover) and "Contents" in cover
    for n, title in enumerate(POINTS, start=1):
        line = re.search(rf"^\s*{n}\s+{re.escape(title)}.*?(\d+)\s*$", cover, re.MULTILINE)
        assert line is not None, title
        page = int(line.group(1))
        assert f"{n} {title}" in flat(pages[page - 1]), (title, page)
        assert all(f"{n} {title}" not in flat(p) for p in pages[1 : page - 1]), title


@pytest.mark.pdf
@pytest.mark.slow
def test_page_one_says_what_the_document_is_and_the_decision(
    example: AssessmentRecord, example_pdf: Rendered
) -> None:
    cover = flat(page_texts(example_pdf.content)[0])
    assert "Annex IV of the EU AI Act (Regulation (EU) 2024/1689)" in cover
    assert example.system.name in cover and example.system.version in cover
    label = {"approve": "Approve", "reject": "Reject"}.get(example_pdf.verdict)
    assert (label or "Approve with conditions") in cover


@pytest.mark.pdf
@pytest.mark.slow
def test_the_record_s_technical_facts_reach_the_pdf(
    example: AssessmentRecord, example_pdf: Rendered
) -> None:
    text = flat(" ".join(page_texts(example_pdf.content)))
    technical = example.technical
    assert technical is not None
    for measure in technical.cybersecurity:
        assert flat(measure) in text
    for part in technical.software:
        assert part.name in text and part.version in text
    for hazard in example.hazards:
        assert hazard.id in text
    for entry in example.changelog:
        assert entry.version in text and entry.date.isoformat() in text
    for monitored in example.monitoring.metrics:
        assert monitored.name in text
    assert "…" not in text


@pytest.mark.pdf
@pytest.mark.slow
def test_a_missing_field_is_named_where_its_point_is(minimal: AssessmentRecord) -> None:
    text = flat(" ".join(page_texts(render_kind(minimal).content)))
    for path in (
        "technical.connected_systems",
        "technical.compute",
        "technical.change_control_plan",
        "technical.cybersecurity",
        "technical.harmonised_standards",
        "technical.declaration_of_conformity",
        "hazards (the hazard log)",
    ):
        assert f"Not provided: the record has no {path}." in text, path
    body = text[text.index("2(h) Cybersecurity measures") :]
    assert body.index("no technical.cybersecurity") < body.index("3(a)")


@pytest.mark.pdf
@pytest.mark.slow
def test_a_filled_field_is_not_called_missing(example_pdf: Rendered) -> None:
    text = flat(" ".join(page_texts(example_pdf.content)))
    assert "no technical.cybersecurity" not in text
    assert "no technical.harmonised_standards" not in text
    assert "no hazards" not in text


# ---------------------------------------------------------------- archival PDF


@pytest.mark.pdf
@pytest.mark.slow
def test_the_pdf_is_pdfa_3b_with_the_record_attached(
    example: AssessmentRecord, example_pdf: Rendered
) -> None:
    reader = PdfReader(io.BytesIO(example_pdf.content))
    assert reader.attachments == {"record.json": [canonical_json(example)]}
    (filespec,) = [ref.get_object() for ref in reader.trailer["/Root"]["/AF"]]
    assert filespec["/AFRelationship"] == "/Data"
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    info = reader.metadata
    assert info is not None and info["/GovrlRecordDigest"] == example_pdf.digest
    assert "technical-documentation" in info["/Keywords"]
    assert example_pdf.signature_fields == ROLES


# ---------------------------------------------------------------- Markdown


def test_the_markdown_edition_has_the_same_points(example: AssessmentRecord) -> None:
    md = render_kind(example, Format.MD).content.decode()
    headings = [f"## {n} {title}" for n, title in enumerate(POINTS, start=1)]
    assert in_order(md, headings) == []
    assert in_order(md, [f"### {label} " for label in SUB_POINTS]) == []
    assert md.count("\n## ") == len(POINTS) + 2  # contents and sign-off


def test_the_markdown_edition_names_missing_fields(minimal: AssessmentRecord) -> None:
    md = render_kind(minimal, Format.MD).content.decode()
    # Markdown escapes the underscore, so a reader sees the field name as written.
    assert r"> Not provided: the record has no technical.change\_control\_plan." in md
    assert "> Not provided: the record has no technical.cybersecurity." in md


# ---------------------------------------------------------------- signing and archive


@pytest.fixture(scope="module")
def unsigned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("technical")
    out = folder / "technical.pdf"
    record = write_record(folder / "record.yaml", tier=3)
    done = govrl(
        "render", record, "--kind", "technical-documentation", "--policy", THREE, "-o", out
    )
    assert done.exit_code == 0, done.output
    return out


@pytest.fixture(scope="module")
def signed(
    unsigned: Path,
    tmp_path_factory: pytest.TempPathFactory,
    pki: Pki,
    reviewers: dict[str, Reviewer],
) -> Path:
    folder = tmp_path_factory.mktemp("technical-signed")
    current = unsigned
    for n, role in enumerate(ROLES):
        out = folder / f"signed-{n}.pdf"
        done = sign(current, out, reviewers[role], pki)
        assert done.exit_code == 0, done.stderr
        current = out
    return current


@pytest.mark.pdf
@pytest.mark.slow
def test_signed_by_its_signers_it_verifies(signed: Path, pki: Pki) -> None:
    result = verify(signed, "--json", trust=pki.ca.cert)
    assert result.exit_code == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] and report["verdict"] == "VERIFIED"
    assert report["required_roles"] == ROLES and report["missing_roles"] == []
    assert [s["signer"] for s in report["signatures"]] == ["Olive Owner", "Ivan Independent"]


@pytest.mark.pdf
@pytest.mark.slow
def test_signed_by_the_owner_alone_it_does_not_verify(
    unsigned: Path, tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    out = tmp_path / "owner-only.pdf"
    assert sign(unsigned, out, reviewers["owner"], pki).exit_code == 0
    result = verify(out, "--json", trust=pki.ca.cert)
    assert result.exit_code == 1
    assert json.loads(result.stdout)["missing_roles"] == ["independent-validator"]


@pytest.mark.pdf
@pytest.mark.slow
def test_pdfsig_accepts_the_signed_documentation(signed: Path) -> None:
    listing = subprocess.run(["pdfsig", str(signed)], capture_output=True, text=True).stdout
    assert listing.count("Signature is Valid.") == 2, listing
    assert "Olive Owner" in listing and "Ivan Independent" in listing


@pytest.mark.pdf
@pytest.mark.slow
def test_archive_add_accepts_the_signed_documentation(
    signed: Path, tmp_path: Path, pki: Pki
) -> None:
    key = pki.reviewer("Technical file archive key", "archive")  # a name no other test uses
    env = {
        "GOVRL_ARCHIVE_KEY": str(key.key),
        "GOVRL_ARCHIVE_CERT": str(key.cert),
        "GOVRL_KEY_PASSPHRASE": PASSPHRASE.decode(),
    }
    store = tmp_path / "store"
    args = ["archive", "add", str(signed), "--store", str(store), "--policy", str(THREE)]
    added = CliRunner().invoke(main, [*args, "--trust", str(pki.ca.cert)], env=env)
    assert added.exit_code == 0, added.output
    entries = [json.loads(line) for line in (store / "log.jsonl").read_text().splitlines()]
    assert entries[-1]["document"]["kind"] == "technical-documentation"
    assert [s["role"] for s in entries[-1]["signers"]] == ROLES
