"""Render a record as a model card or a deployment approval: PDF/A-3b, HTML or Markdown.

Both carry one signature field per role that signs them: the approval's from the decision,
the card's from the policy's ``model_card.signers``.

Jinja2, WeasyPrint and pydyf load inside the functions that use them, so
importing this package costs nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govrl import __version__
from govrl.errors import Problem, RecordInvalid

if TYPE_CHECKING:
    from govrl.record import AssessmentRecord
    from govrl.review.checklist import ChecklistLibrary
    from govrl.review.policy import Policy


class Kind(StrEnum):
    MODEL_CARD = "model-card"
    APPROVAL = "approval"
    TECHNICAL_DOCUMENTATION = "technical-documentation"
    REWARD_REPORT = "reward-report"


class Format(StrEnum):
    PDF = "pdf"
    HTML = "html"
    MD = "md"


@dataclass(frozen=True)
class Rendered:
    """One rendered document and what a caller may want to report about it."""

    content: bytes
    kind: Kind
    format: Format
    digest: str
    verdict: str
    draft: bool = False
    pages: int | None = None
    signature_fields: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "format": self.format.value,
            "digest": self.digest,
            "verdict": self.verdict,
            "draft": self.draft,
            "bytes": len(self.content),
            "pages": self.pages,
            "signature_fields": self.signature_fields,
            "refused": self.refused,
            "warnings": self.warnings,
        }


class DraftUnrenderable(RecordInvalid):
    """A record too broken to render even as a draft: it does not build as a model."""

    def __init__(self, problems: list[Problem], file: str) -> None:
        super().__init__(problems, what="record")
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        self.hint = (
            f"cannot render even a draft: the record does not build ({count} beyond "
            f"placeholders); fix these (`govrl validate {file}` lists them), then render "
            "--draft again"
        )

    def diagnostics(self) -> str:
        return f"{super().diagnostics()}\n{self.hint}"


def _problem_line(problem: object) -> str:
    """A validation problem without its file name: the document is about that file."""
    if not isinstance(problem, Problem):
        return str(problem)
    where = f"line {problem.line}" if problem.line else ""
    if problem.path:
        where = f"{problem.path} ({where})" if where else problem.path
    return f"{where}: {problem.message}" if where else problem.message


def _kind_context(kind: Kind, record: AssessmentRecord, view: Any) -> Any:
    """What a kind's template reads beyond the shared view: the technical documentation's
    Annex IV points, the reward report's sections; None for the model card and approval."""
    if kind is Kind.TECHNICAL_DOCUMENTATION:
        from govrl.documents.technical import technical_view

        return technical_view(record, view)
    if kind is Kind.REWARD_REPORT:
        from govrl.documents.reward_report import reward_report_view

        return reward_report_view(record, view)
    return None


def shipped_templates() -> Path:
    from govrl.resources import data_dir

    return data_dir("templates")


def render(
    record: AssessmentRecord,
    *,
    kind: Kind,
    fmt: Format = Format.PDF,
    policy: Policy,
    library: ChecklistLibrary,
    on: dt.date | None = None,
    template_dir: Path | None = None,
    draft: bool = False,
    draft_problems: Sequence[object] = (),
) -> Rendered:
    """Render one document for ``record``, decided under ``policy`` on date ``on``.

    A ``draft`` is watermarked DRAFT on every page, has no signature fields, is marked a
    draft in its metadata, and lists ``draft_problems`` (what `govrl validate` still finds).
    """
    from govrl.documents.markdown import md_escape
    from govrl.documents.templating import environment, render_template, template_digest
    from govrl.documents.view import build_view
    from govrl.record.identity import canonical_json, digest_of
    from govrl.review.gate import rule_for
    from govrl.review.status import status

    root = template_dir or shipped_templates()
    template = template_digest(root)
    on = on or dt.date.today()
    canonical = canonical_json(record)
    digest = digest_of(canonical)
    report = status(record, policy, library, today=on)
    rule = rule_for(policy, record)
    view = build_view(
        record,
        report,
        kind=kind.value,
        digest=digest,
        govrl_version=__version__,
        blocking=set(rule.blocking),
        policy_digest=policy.digest,
        template=template,
        draft=draft,
        draft_problems=[_problem_line(p) for p in draft_problems],
        signers=policy.statement_signers(kind.value),
    )
    verdict = report.decision.verdict.value
    context = {
        "view": view,
        "record": record,
        "pdf": fmt is Format.PDF,
        "doc": _kind_context(kind, record, view),
    }
    if fmt is Format.MD:
        env = environment(root, finalize=md_escape)
        text = render_template(env, f"{kind.value}.md", root, context)
        return Rendered(text.encode("utf-8"), kind, fmt, digest, verdict, draft)
    html = render_template(environment(root), f"{kind.value}.html", root, context)
    if fmt is Format.HTML:
        return Rendered(html.encode("utf-8"), kind, fmt, digest, verdict, draft)
    from govrl.documents.html_to_pdf import html_to_pdf
    from govrl.documents.pdffile import PdfMeta, keywords

    meta = PdfMeta(
        title=("DRAFT " if draft else "")
        + f"{view.title}: {record.system.name} {record.system.version}",
        subject=f"govrl {kind.value} for {record.system.id} {record.system.version}, "
        f"record {digest}",
        author=record.system.owner.name,
        keywords=keywords(kind.value, digest, __version__, verdict, draft=draft),
        digest=digest,
        govrl_version=__version__,
        kind=kind.value,
        decision=verdict,
        date=on,
        valid_until=report.decision.valid_until if kind is Kind.APPROVAL else None,
        policy=policy.label,
        policy_digest=policy.digest,
        template=template,
        draft=draft,
    )
    roles = [] if draft else view.signers
    result = html_to_pdf(html, root, meta, canonical, [s.role for s in roles])
    return Rendered(
        result.content,
        kind,
        fmt,
        digest,
        verdict,
        draft,
        pages=result.pages,
        signature_fields=[f.name for f in result.fields],
        refused=result.refused,
        warnings=result.warnings,
    )
