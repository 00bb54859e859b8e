"""The shared dossier blocks: hazard log, evidence register, reviewers, glossary and document
control, from the shipped examples and from records changed to show each case."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from govrl.documents import dossier_view
from govrl.documents.render import Format, Kind, render
from govrl.record import AssessmentRecord
from govrl.record.files import load_record
from govrl.review.checklist import ChecklistLibrary
from govrl.review.gate import decide
from govrl.review.policy import Policy, load_policy
from tests.support.paths import EXAMPLES

DATE = dt.date(2026, 5, 1)
LIBRARY = ChecklistLibrary.discover()


def _sepsis() -> tuple[AssessmentRecord, Policy]:
    record = load_record(EXAMPLES / "sepsis-offline-rl.yaml").record
    return record, load_policy(EXAMPLES / "policies" / "sepsis.yaml")


def _changed(record: AssessmentRecord, change: Any) -> AssessmentRecord:
    data = record.model_dump(mode="json", exclude_none=True)
    change(data)
    return AssessmentRecord.model_validate(data)


def test_the_register_matches_citations_to_registered_documents() -> None:
    record, _ = _sepsis()
    register = dossier_view.evidence_register(record)
    rows = {r.ref: r for r in register.rows}
    memo = rows["docs/regulatory/ai-act-classification-memo-v2.pdf"]
    assert memo.registered and memo.sha256 and memo.sha256.startswith("sha256:")
    assert "healthcare/HC-01" in memo.cited_by
    # an answer citing "REF, detail" cites REF; one stating a digest gives it
    reward = rows["configs/reward/raghu2017_plus_map.yaml"]
    assert not reward.registered and reward.sha256 == (
        "sha256:3b180e97695fa71a0e8dd9e8ccaefd48ed8c997fc51309a77e9ed4843586383c"
    )
    assert reward in register.unregistered
    # runs, URLs and the record itself are evidence, not documents
    assert not any(
        r.ref.startswith(("runs:", "http", "mlflow", "this record")) for r in rows.values()
    )


def test_a_registered_document_no_answer_cites_is_listed_as_uncited() -> None:
    record, _ = _sepsis()

    def add(data: dict[str, Any]) -> None:
        data["documents"].append({"ref": "docs/orphan-report.pdf", "title": "Orphan"})

    register = dossier_view.evidence_register(_changed(record, add))
    assert [r.ref for r in register.uncited if r.ref == "docs/orphan-report.pdf"]
    assert all(r.registered for r in register.uncited)


def test_cited_ref_reads_the_document_a_citation_names() -> None:
    registered = ["docs/a.pdf", "docs/a.pdf.sig"]
    assert dossier_view.cited_ref("docs/a.pdf", registered) == "docs/a.pdf"
    assert dossier_view.cited_ref("docs/a.pdf, section 3", registered) == "docs/a.pdf"
    assert dossier_view.cited_ref("docs/b/c-d.md (draft)", registered) == "docs/b/c-d.md"
    assert dossier_view.cited_ref("runs:/abc/model.onnx", registered) is None
    assert dossier_view.cited_ref("https://example.org/x.pdf", registered) is None
    assert dossier_view.cited_ref("this record: monitoring", registered) is None


def test_the_hazard_log_checks_each_cited_key_against_the_record() -> None:
    record, policy = _sepsis()

    def lose(data: dict[str, Any]) -> None:
        data["hazards"][0]["verified_by"].append("stress/never-run")

    changed = _changed(record, lose)
    rows = dossier_view.hazard_log(changed, decide(changed, policy, LIBRARY, today=DATE))
    first = rows[0]
    states = {e.ref: (e.held, e.status) for e in first.evidence}
    assert states["stress/never-run"] == (False, "missing")
    assert states["off_policy/dr-internal"] == (True, "fail")
    assert states["stress/shift-external-site"] == (True, "pass")
    mask = next(c for c in first.controls if c.constraint)
    assert mask.constraint == "Behaviour-support action mask" and mask.enforced_outside is True
    assert first.residual_level == "medium"
    assert any(
        m.startswith("risk_adjusted_mortality_oe_ratio (alarm when") for m in first.monitoring
    )


def test_the_glossary_lists_only_the_terms_used() -> None:
    terms = [t.term for t in dossier_view.glossary(["The WIS estimate, its ESS", "is it DR?"])]
    assert terms == ["DR", "ESS", "WIS"]
    # a word that merely contains a term, or a lowercase use, is not the term
    assert dossier_view.glossary(["this is DRY, the ciphers are ood"]) == []


def test_the_previous_revision_comes_from_the_changelog() -> None:
    record, _ = _sepsis()
    assert dossier_view.previous_revision(record) == "version 2.0.0 of 2025-12-08 by Priya Raman"

    def first_only(data: dict[str, Any]) -> None:
        data["changelog"] = data["changelog"][-1:]  # the current version's entry alone

    assert dossier_view.previous_revision(_changed(record, first_only)) is None


@pytest.mark.parametrize("kind", [Kind.MODEL_CARD, Kind.APPROVAL])
def test_the_markdown_edition_carries_the_dossier(kind: Kind) -> None:
    record, policy = _sepsis()
    md = render(record, kind=kind, fmt=Format.MD, policy=policy, library=LIBRARY, on=DATE)
    text = md.content.decode()
    headings = [
        "Summary",
        "Safety constraints",
        "Hazard log",
        "Evidence register",
        "Reviewers and independence",
        "Glossary",
        "Document control",
        "Appendix A: Provenance",
    ]
    at = [text.index(f" {h}\n") for h in headings]
    assert at[1:] == sorted(at[1:]) and at[0] < at[1]
    assert "HZ-04: Fluid advice overloads" in text
    assert "Dr. Samuel Okafor" in text and "Conflicts" in text
    assert "**ESS**: Effective sample size" in text
    assert "86b24036c15d19bc31cccd92bfe79357" in text  # a run id, in the appendix
