"""`render --draft`: an unfinished record as a watermarked preview that nobody can sign."""

from __future__ import annotations

import io
import json
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from govrl.cli import main
from govrl.documents.pdffile import DraftRefused, open_pdf
from tests.support.approvals import (
    THREE,
    archive_add_unsigned,
    assert_archive_empty,
    library_refuses,
    sign,
)
from tests.support.paths import DATA
from tests.support.pki import Pki, Reviewer
from tests.support.records import write_record


@pytest.fixture
def scaffold(tmp_path: Path, runner: CliRunner) -> Path:
    """`govrl init`'s record: placeholders everywhere, so `validate` fails."""
    out = tmp_path / "new.yaml"
    args = ["init", "-o", str(out), "--domain", "energy-infrastructure", "--tier", "3"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    return out


def page_texts(pdf: Path) -> list[str]:
    """pdftotext's reading of each page in turn."""
    pages = len(PdfReader(pdf).pages)
    return [
        subprocess.run(
            ["pdftotext", "-enc", "UTF-8", "-f", str(n), "-l", str(n), str(pdf), "-"],
            capture_output=True,
            check=True,
        ).stdout.decode("utf-8")
        for n in range(1, pages + 1)
    ]


def render_draft(runner: CliRunner, record: Path, out: Path, *extra: str) -> str:
    args = ["render", str(record), "--kind", "approval", "--draft", "-o", str(out), *extra]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.pdf
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["approval", "model-card"])
def test_a_draft_says_draft_on_every_page_and_has_no_signature_field(
    scaffold: Path, runner: CliRunner, tmp_path: Path, kind: str
) -> None:
    out = tmp_path / "draft.pdf"
    result = runner.invoke(
        main, ["render", str(scaffold), "--kind", kind, "--draft", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    wrote = result.stdout.splitlines()[0]
    assert f"DRAFT {kind}" in wrote and "signature fields:" not in wrote
    pages = page_texts(out)
    assert len(pages) > 1
    for number, text in enumerate(pages, 1):
        assert "DRAFT" in text, f"page {number} does not say DRAFT"
    reader = PdfReader(out)
    assert "/AcroForm" not in reader.trailer["/Root"]
    assert all("/Annots" not in page for page in reader.pages)
    # The placeholders are shown as they are, not hidden and not crashing the renderer.
    whole = re.sub(r"\s+", " ", " ".join(pages))
    assert "TODO: system name" in whole
    validated = json.loads(runner.invoke(main, ["validate", "--json", str(scaffold)]).stdout)
    assert f"still finds {len(validated['problems'])} problems" in whole


@pytest.mark.pdf
@pytest.mark.slow
def test_the_draft_mark_is_in_info_keywords_and_xmp(
    scaffold: Path, runner: CliRunner, tmp_path: Path
) -> None:
    draft = tmp_path / "draft.pdf"
    render_draft(runner, scaffold, draft)
    reader = PdfReader(draft)
    info = reader.metadata
    assert info is not None
    assert info["/GovrlDraft"] == "true"
    assert "draft" in [k.strip() for k in str(info["/Keywords"]).split(",")]
    assert str(info["/Title"]).startswith("DRAFT ")
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data()
    assert b"<govrl:draft>true</govrl:draft>" in xmp
    assert open_pdf(draft).draft and open_pdf(draft).approved.draft
    # The final rendering of a finished record carries no draft mark.
    final = tmp_path / "final.pdf"
    record = write_record(tmp_path / "done.yaml", tier=3)
    args = ["render", str(record), "--kind", "approval", "--policy", str(THREE)]
    assert runner.invoke(main, [*args, "-o", str(final)]).exit_code == 0
    assert not open_pdf(final).draft
    assert "/GovrlDraft" not in (PdfReader(final).metadata or {})


def test_draft_html_and_markdown_mark_the_draft_and_its_placeholders(
    scaffold: Path, runner: CliRunner, tmp_path: Path
) -> None:
    html = tmp_path / "draft.html"
    render_draft(runner, scaffold, html, "--format", "html")
    page = html.read_text()
    assert '<div class="draft-watermark" aria-hidden="true"><span>DRAFT</span></div>' in page
    assert '<mark class="placeholder">TODO: system name</mark>' in page
    assert 'id="sig-owner"' not in page  # no signature boxes for the fields to sit on
    md = tmp_path / "draft.md"
    render_draft(runner, scaffold, md, "--format", "md")
    text = md.read_text()
    assert text.startswith("# DRAFT Deployment approval")
    assert "**DRAFT: not for signature or archiving.**" in text
    assert "| Valid | never: a draft approves nothing |" in text
    assert "TODO: system name" in text


def test_without_draft_an_unfinished_record_is_still_refused(
    scaffold: Path, runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "final.pdf"
    result = runner.invoke(main, ["render", str(scaffold), "--kind", "approval", "-o", str(out)])
    assert result.exit_code == 1
    assert f"run `govrl validate {scaffold}` first" in result.stderr and not out.exists()


def test_a_record_that_does_not_build_cannot_be_drafted_and_says_why(
    runner: CliRunner, tmp_path: Path
) -> None:
    bad = DATA / "invalid-value-outside-interval.yaml"
    out = tmp_path / "draft.pdf"
    result = runner.invoke(main, ["render", str(bad), "--kind", "approval", "--draft", "-o", out])
    assert result.exit_code == 1, result.output
    assert "evaluation.metrics[0].value" in result.stderr
    assert "cannot render even a draft: the record does not build (1 problem" in result.stderr
    assert f"`govrl validate {bad}` lists them" in result.stderr
    assert "Traceback" not in result.output and not out.exists()


def test_a_draft_of_a_finished_record_says_it_can_be_rendered_final(
    runner: CliRunner, tmp_path: Path
) -> None:
    record = write_record(tmp_path / "done.yaml", tier=3)
    md = tmp_path / "draft.md"
    render_draft(runner, record, md, "--format", "md", "--policy", str(THREE))
    assert "The record passes `govrl validate`: render it again without `--draft`." in (
        md.read_text()
    )


@pytest.fixture
def finished_draft(tmp_path: Path, runner: CliRunner) -> Path:
    """A draft of a record that passes validate: only the draft mark stands in the way."""
    record = write_record(tmp_path / "done.yaml", tier=3)
    out = tmp_path / "draft.pdf"
    render_draft(runner, record, out, "--policy", str(THREE))
    return out


@pytest.mark.pdf
@pytest.mark.slow
def test_sign_refuses_a_draft_even_forced(
    finished_draft: Path, tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    out = tmp_path / "signed.pdf"
    for extra in ((), ("--force",)):
        result = sign(finished_draft, out, reviewers["owner"], pki, *extra)
        assert result.exit_code == 1, result.output
        assert "is a draft (rendered with --draft) and cannot be signed" in result.stderr
        assert "without --draft once `govrl validate` passes" in result.stderr
        assert not out.exists()


@pytest.mark.pdf
@pytest.mark.slow
def test_verify_says_a_draft_is_one(finished_draft: Path, runner: CliRunner, pki: Pki) -> None:
    args = ["verify", str(finished_draft), "--policy", str(THREE), "--trust", str(pki.ca.cert)]
    result = runner.invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "this is a draft (rendered with --draft): it approves nothing" in result.output


@pytest.mark.pdf
@pytest.mark.slow
def test_archive_add_refuses_a_draft(finished_draft: Path, tmp_path: Path, pki: Pki) -> None:
    store = tmp_path / "store"
    result = archive_add_unsigned(finished_draft, store, pki)
    assert result.exit_code == 1, result.output
    assert "is a draft (rendered with --draft) and cannot be archived" in result.stderr
    assert_archive_empty(store)


@pytest.mark.pdf
@pytest.mark.slow
def test_the_library_refuses_a_draft_too(
    finished_draft: Path, tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    library_refuses(
        finished_draft,
        tmp_path,
        pki,
        reviewers["owner"],
        DraftRefused,
        sign="cannot be signed",
        archive="cannot be archived",
    )


def test_a_rendered_draft_reports_itself_as_one() -> None:
    from govrl.documents.render import Format, Kind, render
    from govrl.record import AssessmentRecord
    from govrl.review.checklist import ChecklistLibrary
    from govrl.review.policy import load_policy
    from tests.support.records import record_data

    rendered = render(
        AssessmentRecord.model_validate(record_data(3)),
        kind=Kind.APPROVAL,
        fmt=Format.HTML,
        policy=load_policy(THREE),
        library=ChecklistLibrary.discover(),
        draft=True,
    )
    assert rendered.draft and rendered.as_dict()["draft"] is True
    assert b"DRAFT: not for signature" in rendered.content
    assert io.BytesIO(rendered.content).read().count(b'class="sigbox"') == 0
