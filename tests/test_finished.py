"""A record that fails `validate` goes no further than `status`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from govrl.cli import main
from tests.support.approvals import (
    THREE,
    archive_add_unsigned,
    assert_archive_empty,
    library_refuses,
    sign,
)
from tests.support.paths import DATA
from tests.support.pki import Pki, Reviewer
from tests.support.records import record_data


@pytest.fixture
def scaffold(tmp_path: Path, runner: CliRunner) -> Path:
    out = tmp_path / "new.yaml"
    result = runner.invoke(main, ["init", "-o", str(out), "--domain", "healthcare", "--tier", "3"])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize(
    "command",
    [
        ["gate"],
        ["gate", "--json"],
        ["render", "--kind", "model-card", "--format", "md", "-o", "{out}"],
        ["render", "--kind", "approval", "--format", "html", "-o", "{out}"],
    ],
)
def test_unfinished_record_is_refused(
    scaffold: Path, runner: CliRunner, tmp_path: Path, command: list[str]
) -> None:
    out = tmp_path / "doc.out"
    args = [command[0], str(scaffold), *(a.format(out=out) for a in command[1:])]
    result = runner.invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "still a placeholder" in result.stderr
    assert f"run `govrl validate {scaffold}` first" in result.stderr
    assert result.stdout == "" and not out.exists()


def test_schema_invalid_record_is_refused_pointing_at_validate(runner: CliRunner) -> None:
    bad = DATA / "invalid-value-outside-interval.yaml"
    result = runner.invoke(main, ["gate", str(bad)])
    assert result.exit_code == 1
    assert "evaluation.metrics[0].value" in result.stderr
    assert "not finished (1 problem); run `govrl validate" in result.stderr


def test_status_works_on_an_unfinished_record_and_counts_its_problems(
    scaffold: Path, runner: CliRunner
) -> None:
    validated = runner.invoke(main, ["validate", "--json", str(scaffold)])
    count = len(json.loads(validated.stdout)["problems"])
    assert count > 0
    result = runner.invoke(main, ["status", str(scaffold)])
    assert result.exit_code == 0, result.output
    assert f"Not yet valid: {count} problems left (govrl validate {scaffold})" in result.stdout
    data = json.loads(runner.invoke(main, ["status", "--json", str(scaffold)]).stdout)
    assert data["validation"] == {"valid": False, "problems": count}


def test_status_of_a_finished_record_says_valid(runner: CliRunner) -> None:
    result = runner.invoke(main, ["status", str(DATA / "valid-minimal.yaml")])
    assert result.exit_code == 0 and "Valid: no problems left" in result.stdout


@pytest.fixture
def unfinished_approval(tmp_path: Path) -> Path:
    """An approval rendered by the library from a record with a placeholder left in it."""
    from govrl.documents.render import Format, Kind, render
    from govrl.record import AssessmentRecord
    from govrl.review.checklist import ChecklistLibrary
    from govrl.review.policy import load_policy

    data = record_data(3)
    data["intended_use"]["purpose"] = "TODO: say what the system is for"
    rendered = render(
        AssessmentRecord.model_validate(data),
        kind=Kind.APPROVAL,
        fmt=Format.PDF,
        policy=load_policy(THREE),
        library=ChecklistLibrary.discover(),
    )
    assert isinstance(rendered.content, bytes)
    pdf = tmp_path / "approval.pdf"
    pdf.write_bytes(rendered.content)
    return pdf


@pytest.mark.pdf
@pytest.mark.slow
def test_sign_refuses_a_document_whose_record_is_unfinished(
    unfinished_approval: Path, tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    out = tmp_path / "signed.pdf"
    result = sign(unfinished_approval, out, reviewers["owner"], pki)
    assert result.exit_code == 1, result.output
    assert "intended_use.purpose: still a placeholder" in result.stderr
    assert "passes `govrl validate`" in result.stderr and not out.exists()


@pytest.mark.pdf
@pytest.mark.slow
def test_archive_add_refuses_a_document_whose_record_is_unfinished(
    unfinished_approval: Path, tmp_path: Path, pki: Pki
) -> None:
    store = tmp_path / "store"
    result = archive_add_unsigned(unfinished_approval, store, pki)
    assert result.exit_code == 1, result.output
    assert "intended_use.purpose: still a placeholder" in result.stderr
    assert "passes `govrl validate`" in result.stderr
    assert_archive_empty(store)


@pytest.mark.pdf
@pytest.mark.slow
def test_the_library_refuses_an_unfinished_document_too(
    unfinished_approval: Path, tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    """The refusal lives in the core, so the demo and other callers cannot step around it."""
    from govrl.errors import RecordUnfinished

    library_refuses(
        unfinished_approval,
        tmp_path,
        pki,
        reviewers["owner"],
        RecordUnfinished,
        sign="intended_use.purpose",
        archive="intended_use.purpose",
    )
