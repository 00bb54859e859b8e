"""The reward report: the six sections of the Reward Report template in order, every gap named
by its record field, the changelog as its revision history, archival PDF/A-3b, signed by the
policy's signers and accepted by the archive."""

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
from govrl.documents.reward_report import reward_report_view
from govrl.documents.view import View, build_view
from govrl.record import AssessmentRecord
from govrl.record.files import load_record
from govrl.record.identity import canonical_json
from govrl.review.checklist import ChecklistLibrary
from govrl.review.policy import load_policy
from govrl.review.status import status
from tests.support.approvals import THREE, govrl, sign, verify
from tests.support.paths import EXAMPLES
from tests.support.pki import PASSPHRASE, Pki, Reviewer
from tests.support.records import write_record

DATE = dt.date(2026, 5, 1)
LIBRARY = ChecklistLibrary.discover()
POLICY = load_policy()
EXAMPLE_FILES = {
    "grid": EXAMPLES / "grid-frequency-control.yaml",
    "sepsis": EXAMPLES / "sepsis-offline-rl.yaml",
}
REVISION = EXAMPLES / "revisions" / "grid-frequency-control-1.2.0.yaml"
ROLES = ["owner"]  # a policy's reward_report.signers by default

# The Reward Report template's sections, in its order, with a question of each as titled here.
SECTIONS = [
    ("System Details", ["System owner", "Dates", "What the system acts on"]),
    ("Optimization Intent", ["Goal of the reward design", "Oversight metrics"]),
    ("Institutional Interface", ["Deployment agency", "Stakeholders", "Recourse"]),
    ("Implementation", ["Reward details", "Measures against undesirable behaviour"]),
    ("Evaluation", ["Evaluation environment", "Offline evaluations", "Performance standards"]),
    ("System Maintenance", ["Reporting cadence", "Update triggers", "Changelog"]),
]


# A gap's words: the record field path first, then any qualification.
GAP = re.compile(r"Not provided: the record has no [a-z_]+(\.[a-z_]+|\[[^\]]+\])*( .*)?\.")


def shared_view(record: AssessmentRecord) -> View:
    """The shared view a reward report of ``record`` is rendered with."""
    report = status(record, POLICY, LIBRARY, today=DATE)
    return build_view(
        record, report, kind="reward-report", digest="sha256:x", govrl_version="0",
        blocking=set(), signers=ROLES,
    )  # fmt: skip


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def pdf_text(content: bytes) -> str:
    """pdftotext's reading of the whole PDF, whitespace collapsed."""
    done = subprocess.run(["pdftotext", "-", "-"], input=content, capture_output=True, check=True)
    return flat(done.stdout.decode())


def render_kind(record: AssessmentRecord, fmt: Format = Format.PDF) -> Rendered:
    return render(record, kind=Kind.REWARD_REPORT, fmt=fmt, policy=POLICY, library=LIBRARY, on=DATE)


def body_after_contents(text: str) -> str:
    """The text after page one's contents list, which ends with the Sign-off entry."""
    return text[text.index("Sign-off") + len("Sign-off") :]


def assert_sections_in_order(text: str, heading: str = "{n} {title}") -> None:
    """Each section's heading, then its questions, in the template's order."""
    at = 0
    for n, (title, questions) in enumerate(SECTIONS, start=1):
        at = text.index(heading.format(n=n, title=title), at)
        for question in questions:
            found = text.index(question, at)
            nxt = SECTIONS[n][0] if n < len(SECTIONS) else "Sign-off"
            assert found < text.index(nxt, at), f"{question!r} is not under {title!r}"


@pytest.fixture(scope="module", params=sorted(EXAMPLE_FILES))
def example(request: pytest.FixtureRequest) -> AssessmentRecord:
    return load_record(EXAMPLE_FILES[request.param]).record


@pytest.fixture(scope="module")
def example_pdf(example: AssessmentRecord) -> Rendered:
    return render_kind(example)


@pytest.fixture(scope="module")
def example_text(example_pdf: Rendered) -> str:
    return pdf_text(example_pdf.content)


# ---------------------------------------------------------------- the six sections


@pytest.mark.pdf
@pytest.mark.slow
def test_the_six_sections_come_in_the_templates_order(example_text: str) -> None:
    contents = example_text[: example_text.index("Sign-off")]
    positions = [contents.index(title) for title, _ in SECTIONS]
    assert positions == sorted(positions), "page one lists the sections out of order"
    assert_sections_in_order(body_after_contents(example_text))


@pytest.mark.pdf
@pytest.mark.slow
def test_page_one_says_what_the_report_is(example: AssessmentRecord, example_text: str) -> None:
    page_one = example_text[: example_text.index("Sign-off")]
    assert "Reward Report template" in page_one
    assert example.system.name in page_one
    assert example.reward.terms[0].name in page_one, "the reward paragraph names its terms"
    assert "The decision" in page_one


@pytest.mark.pdf
@pytest.mark.slow
def test_the_report_shows_the_records_answers(example: AssessmentRecord, example_text: str) -> None:
    # pdftotext joins a word hyphenated at a line break without its hyphen: compare without
    body = body_after_contents(example_text).replace("-", "")
    for term in example.reward.terms:
        assert term.name.replace("-", "") in body
    for constraint in example.model.safety_constraints:
        assert flat(constraint.name).replace("-", "") in body
    for trigger in example.monitoring.update_triggers:
        assert flat(trigger).replace("-", "")[:40] in body
    assert "Not provided" not in body, "both examples answer every question"


# ---------------------------------------------------------------- gaps


def stripped(record: AssessmentRecord) -> AssessmentRecord:
    """The record without the optional answers a reward report asks for."""
    data = record.model_dump(mode="json", exclude_none=True)
    for key in ("stakeholders", "explanation", "recourse", "alternatives_considered"):
        data["intended_use"].pop(key, None)
    data["reward"].pop("oversight_metrics", None)
    data["reward"].pop("source", None)
    data["monitoring"].pop("update_triggers", None)
    data["evaluation"].pop("limitations", None)
    data.pop("technical", None)
    data.pop("documents", None)
    for monitored in data["monitoring"]["metrics"]:
        monitored.pop("oversight_metric", None)
    return AssessmentRecord.model_validate(data)


GAPS = [
    "intended_use.stakeholders",
    "intended_use.explanation",
    "intended_use.recourse",
    "intended_use.alternatives_considered",
    "reward.oversight_metrics",
    "reward.source",
    "monitoring.update_triggers",
    "evaluation.limitations",
    "technical.software",
    "technical.hardware",
]


def test_a_missing_field_says_not_provided_and_names_the_field() -> None:
    record = stripped(load_record(EXAMPLE_FILES["grid"]).record)
    md = render_kind(record, Format.MD).content.decode()
    for path in GAPS:
        escaped = path.replace("_", r"\_")
        assert f"Not provided: the record has no {escaped}." in md, path
    recourse = md[md.index("### Recourse") : md.index("## 4 Implementation")]
    assert r"Not provided: the record has no intended\_use.recourse." in recourse
    count = int(re.search(r"; (\d+) such gaps? remain", md).group(1))  # type: ignore[union-attr]
    assert count == md.count("> Not provided:")


def test_every_question_is_answered_or_marked() -> None:
    record = stripped(load_record(EXAMPLE_FILES["sepsis"]).record)
    doc = reward_report_view(record, shared_view(record))
    assert [s.title for s in doc["sections"]] == [title for title, _ in SECTIONS]
    for section in doc["sections"]:
        for q in section.questions:
            answered = q.paragraphs or q.facts or q.items or q.tables
            assert answered or q.missing, f"{section.title} / {q.title} says nothing"
            for gap in q.missing:
                assert GAP.fullmatch(gap), gap


# ---------------------------------------------------------------- revision history


def test_the_revision_history_lists_every_changelog_entry() -> None:
    record = load_record(REVISION).record
    md = render_kind(record, Format.MD).content.decode()
    history = md[md.index("### Changelog") : md.index("## Sign-off")]
    at = 0
    for entry in record.changelog:
        row = f"| {entry.version} | {entry.date} | {entry.author} |"
        at = history.index(row, at)
    assert len(record.changelog) == 4 and record.changelog[-1].version == "1.2.0"
    assert history.count("\n| ") == len(record.changelog) + 1  # the header and one row each


@pytest.mark.pdf
@pytest.mark.slow
def test_the_pdf_revision_history_lists_every_changelog_entry() -> None:
    record = load_record(REVISION).record
    text = pdf_text(render_kind(record).content)
    history = text[text.rindex("Changelog") : text.rindex("Sign-off")]
    at = 0
    for entry in record.changelog:
        at = history.index(f"{entry.version} {entry.date} {entry.author}", at)


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
    assert "reward-report" in info["/Keywords"]
    assert example_pdf.signature_fields == ROLES


@pytest.mark.pdf
@pytest.mark.slow
def test_the_sign_off_attests_and_approves_nothing(example_text: str) -> None:
    signoff = example_text[example_text.rindex("Sign-off") :]
    assert "attesting that this reward report describes the record" in signoff
    assert "approves no deployment: it has no validity period" in signoff
    assert "The approval lapses" not in signoff


# ---------------------------------------------------------------- Markdown


def test_the_markdown_edition_has_the_same_sections(example: AssessmentRecord) -> None:
    md = render_kind(example, Format.MD).content.decode()
    headings = re.findall(r"^## (\d) (.+)$", md, flags=re.MULTILINE)
    assert headings == [(str(n), title) for n, (title, _) in enumerate(SECTIONS, start=1)]
    assert_sections_in_order(md, "## {n} {title}")
    sections = reward_report_view(example, shared_view(example))["sections"]
    assert md.count("\n### ") == sum(len(section.questions) for section in sections)


# ---------------------------------------------------------------- signing and archive


@pytest.fixture(scope="module")
def unsigned_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("reward-report")
    out = folder / "reward-report.pdf"
    record = write_record(folder / "record.yaml", tier=3)
    result = govrl("render", record, "--kind", "reward-report", "--policy", THREE, "-o", out)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def signed_report(
    unsigned_report: Path,
    tmp_path_factory: pytest.TempPathFactory,
    pki: Pki,
    reviewers: dict[str, Reviewer],
) -> Path:
    out = tmp_path_factory.mktemp("signed-reward-report") / "signed.pdf"
    done = sign(unsigned_report, out, reviewers["owner"], pki)
    assert done.exit_code == 0, done.stderr
    return out


@pytest.mark.pdf
@pytest.mark.slow
def test_a_report_signed_by_its_owner_verifies(signed_report: Path, pki: Pki) -> None:
    result = verify(signed_report, "--json", trust=pki.ca.cert)
    assert result.exit_code == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] and report["verdict"] == "VERIFIED"
    assert report["required_roles"] == ROLES and report["missing_roles"] == []
    assert report["valid_until"] is None
    assert [s["signer"] for s in report["signatures"]] == ["Olive Owner"]


@pytest.mark.pdf
@pytest.mark.slow
def test_an_unsigned_report_does_not_verify(unsigned_report: Path, pki: Pki) -> None:
    result = verify(unsigned_report, "--json", trust=pki.ca.cert)
    assert result.exit_code == 1
    assert json.loads(result.stdout)["missing_roles"] == ROLES


@pytest.mark.pdf
@pytest.mark.slow
def test_pdfsig_accepts_a_signed_report(signed_report: Path) -> None:
    listing = subprocess.run(["pdfsig", str(signed_report)], capture_output=True, text=True)
    assert listing.stdout.count("Signature is Valid.") == 1, listing.stdout
    assert "Olive Owner" in listing.stdout


@pytest.mark.pdf
@pytest.mark.slow
def test_archive_add_accepts_a_signed_report(signed_report: Path, tmp_path: Path, pki: Pki) -> None:
    key = pki.reviewer("Reward report archive key", "archive")
    env = {
        "GOVRL_ARCHIVE_KEY": str(key.key),
        "GOVRL_ARCHIVE_CERT": str(key.cert),
        "GOVRL_KEY_PASSPHRASE": PASSPHRASE.decode(),
    }
    store = tmp_path / "store"
    args = ["archive", "add", str(signed_report), "--store", str(store), "--policy", str(THREE)]
    added = CliRunner().invoke(main, [*args, "--trust", str(pki.ca.cert)], env=env)
    assert added.exit_code == 0, added.output
    entries = [json.loads(line) for line in (store / "log.jsonl").read_text().splitlines()]
    assert entries[-1]["document"]["kind"] == "reward-report"
    assert [s["role"] for s in entries[-1]["signers"]] == ROLES
