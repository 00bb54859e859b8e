"""Write a decision back where the model lives: tags on its version, documents on its run."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govrl.errors import InputError, Problem, UsageError
from govrl.evidence.interface import EvidenceSource, ModelRef, PublishReceipt, PublishRequest

FOLDER = "governance"
MAX_DECISION_BYTES = 1024 * 1024
VERDICTS = ("approve", "approve-with-conditions", "reject")

# Why a document may not be published beside the record with this digest; empty if it may.
DocumentCheck = Callable[[Path, str], list[str]]


@dataclass(frozen=True)
class PublishResult:
    """What was written, and the decision and record it stands for."""

    receipt: PublishReceipt
    verdict: str
    valid_until: str
    digest: str
    decided_by: str

    def as_dict(self) -> dict[str, Any]:
        r = self.receipt
        return {
            "model": f"{r.model_name}/{r.model_version}",
            "run_id": r.run_id,
            "verdict": self.verdict,
            "valid_until": self.valid_until,
            "record_digest": self.digest,
            "decided_by": self.decided_by,
            "tags": r.tags,
            "artifacts": list(r.artifacts),
        }


def decision_from_file(path: Path, digest: str) -> tuple[str, str]:
    """(verdict, valid_until) from `govrl gate --json` output, checked against the record."""
    source = str(path)
    if path.stat().st_size > MAX_DECISION_BYTES:
        raise InputError([Problem(f"is larger than {MAX_DECISION_BYTES} bytes", source)])
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError([Problem(f"is not a JSON decision: {exc}", source)]) from None
    if not isinstance(data, dict):
        raise InputError([Problem("must be a JSON object (from `govrl gate --json`)", source)])
    verdict, valid_until = data.get("verdict"), data.get("valid_until")
    if verdict not in VERDICTS:
        raise InputError(
            [
                Problem(
                    f"must be one of {', '.join(VERDICTS)} (got {verdict!r})",
                    source,
                    None,
                    "verdict",
                )
            ]
        )
    try:
        dt.date.fromisoformat(str(valid_until))
    except ValueError:
        raise InputError(
            [
                Problem(
                    f"must be a date YYYY-MM-DD (got {valid_until!r})", source, None, "valid_until"
                )
            ]
        ) from None
    stated = data.get("record_digest")
    if stated is not None and stated != digest:
        raise InputError(
            [
                Problem(
                    f"this decision is about record {stated}, not {digest}: the record changed",
                    source,
                    None,
                    "record_digest",
                )
            ]
        )
    return str(verdict), str(valid_until)


def _check_pdfs(pdfs: Iterable[Path], digest: str, check: DocumentCheck | None) -> None:
    for pdf in pdfs:
        with pdf.open("rb") as handle:
            if handle.read(5) != b"%PDF-":
                raise InputError([Problem("is not a PDF", str(pdf))])
        if check is None:
            raise UsageError("documents are published only after verification: pass a check")
        problems = check(pdf, digest)
        if problems:
            raise InputError([Problem(f"not published: {p}", str(pdf)) for p in problems])


def publish(
    path: Path,
    source: EvidenceSource,
    model: ModelRef,
    *,
    decision_path: Path | None = None,
    pdfs: Sequence[Path] = (),
    policy_path: Path | None = None,
    checklist_dirs: Sequence[Path] = (),
    today: dt.date | None = None,
    check_document: DocumentCheck | None = None,
) -> PublishResult:
    """Tag ``model`` with the decision on the record at ``path`` and attach the documents,
    each of which ``check_document`` must pass first.

    Without ``decision_path`` the decision is computed now with the policy (the shipped
    default unless given), exactly as `govrl gate` would.
    """
    from govrl.record.files import load_record
    from govrl.record.identity import record_digest

    record = load_record(path).record
    digest = record_digest(record)
    if decision_path is not None:
        verdict, valid_until = decision_from_file(decision_path, digest)
        decided_by = f"decision file {decision_path}"
    else:
        from govrl.review.checklist import ChecklistLibrary
        from govrl.review.gate import decide
        from govrl.review.policy import load_policy

        policy = load_policy(policy_path)
        decision = decide(record, policy, ChecklistLibrary.discover(checklist_dirs), today=today)
        verdict, valid_until = decision.verdict.value, decision.valid_until.isoformat()
        decided_by = f"policy {policy.id} {policy.version}"
    _check_pdfs(pdfs, digest, check_document)
    names = [p.name for p in (path, *pdfs)]
    if len(set(names)) != len(names):
        raise InputError([Problem(f"two files share a name in {FOLDER}/: {', '.join(names)}")])
    tags = {
        "govrl.decision": verdict,
        "govrl.record_digest": digest,
        "govrl.valid_until": valid_until,
        "govrl.record": f"{FOLDER}/{path.name}",
    }
    receipt = source.publish(PublishRequest(model, tags, (path, *pdfs), FOLDER))
    return PublishResult(receipt, verdict, valid_until, digest, decided_by)
