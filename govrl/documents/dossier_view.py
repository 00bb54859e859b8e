"""The blocks every document kind shares beyond the evidence: hazard log, evidence register,
reviewers, glossary and document control, as plain data a template macro lays out."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from govrl.documents.numbers import format_number
from govrl.record import AssessmentRecord
from govrl.record.assessment import evidence_keys
from govrl.record.dossier import is_record_key
from govrl.review.gate import Decision, GateResult, Status

# Plain-words definitions; a document lists only those whose abbreviation it uses.
GLOSSARY = {
    "AUROC": "Area under the ROC curve: how well a detector ranks cases it should flag above "
    "those it should not; 0.5 is chance, 1 is perfect.",
    "CI": "Confidence interval: the range of values the data support at the stated level; "
    "the gates judge its bound, not the point estimate.",
    "CQL": "Conservative Q-learning: an offline RL method that keeps the policy close to "
    "actions seen in the data.",
    "DM": "Direct method: an off-policy estimate read from a learned model of outcomes alone.",
    "DR": "Doubly robust estimator: an off-policy estimate that combines a learned model of "
    "outcomes with importance weights, and stays unbiased if either one is right.",
    "ESS": "Effective sample size: how many independent cases an importance-weighted estimate "
    "is worth; a small ESS means a few cases decide the result.",
    "FQE": "Fitted Q evaluation: an off-policy estimate from a value function learned on the "
    "logged data.",
    "HCOPE": "High-confidence off-policy evaluation: a lower bound on the new policy's value "
    "that holds with a stated probability.",
    "IQM": "Interquartile mean: the mean of the middle half of the runs, less swayed by a few "
    "lucky or unlucky seeds than the plain mean.",
    "IS": "Importance sampling: reweighting logged outcomes by how much more or less often "
    "the new policy would have taken the logged actions.",
    "MAGIC": "Model and guided importance sampling combined: an off-policy estimate blending "
    "model-based and importance-weighted estimates to reduce error.",
    "MDP": "Markov decision process: the states, actions, rewards and transitions the policy "
    "is trained on.",
    "OOD": "Out of distribution: an input unlike the data the policy learned from, where its "
    "behaviour is not supported by evidence.",
    "OPE": "Off-policy evaluation: estimating how a new policy would perform from data logged "
    "under another policy, without deploying it.",
    "PDIS": "Per-decision importance sampling: importance sampling that weights each reward "
    "only by the decisions taken before it.",
    "PDF/A": "The archival form of PDF: self-contained, with fonts embedded, readable without "
    "outside resources.",
    "RL": "Reinforcement learning: a policy learned by maximising a reward over sequences of "
    "decisions.",
    "WDR": "Weighted doubly robust estimator: the doubly robust estimate with normalised weights.",
    "WIS": "Weighted importance sampling: importance sampling with the weights normalised, "
    "trading a little bias for much less variance.",
    "WPDIS": "Weighted per-decision importance sampling: per-decision importance sampling "
    "with normalised weights.",
}
# The term as a whole word; "IS" only in capitals, so the English word never matches.
_TERM = {term: re.compile(rf"(?<![\w/-]){re.escape(term)}(?![\w-])") for term in GLOSSARY}

_PATH = re.compile(r"^[\w.-]+(/[\w.-]+)+\.[A-Za-z0-9]{1,5}$")
_CITED_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Term:
    term: str
    definition: str


@dataclass(frozen=True)
class HazardControlRow:
    description: str
    constraint: str | None
    enforced_outside: bool | None  # None: the control names no safety constraint


@dataclass(frozen=True)
class VerifyingEvidence:
    """A reference a hazard's controls are verified by, and what the record says of it."""

    ref: str
    record_key: bool
    held: bool  # a record key the record holds, or a document the register fixes
    status: str  # pass, fail, insufficient, held, missing or document


@dataclass(frozen=True)
class HazardRow:
    id: str
    hazard: str
    cause: str
    failure_mode: str | None
    controls: list[HazardControlRow]
    evidence: list[VerifyingEvidence]
    residual_level: str
    residual_rationale: str
    monitoring: list[str]


@dataclass(frozen=True)
class RegisterRow:
    ref: str
    title: str | None
    version: str | None
    date: str | None
    sha256: str | None
    registered: bool
    cited_by: list[str]  # checklist items (CHECKLIST/ITEM) and hazards that cite it


@dataclass(frozen=True)
class Register:
    """Documents the record registers and those its answers cite, matched by reference."""

    rows: list[RegisterRow] = field(default_factory=list)

    @property
    def uncited(self) -> list[RegisterRow]:
        return [r for r in self.rows if r.registered and not r.cited_by]

    @property
    def unregistered(self) -> list[RegisterRow]:
        return [r for r in self.rows if not r.registered]


@dataclass(frozen=True)
class ReviewerRow:
    name: str
    role: str
    organisation: str | None
    independence: str
    conflicts: str | None
    reviewed_on: str | None


@dataclass(frozen=True)
class DocumentControl:
    document_id: str  # the record digest: what a signature approves
    policy: str
    policy_digest: str | None
    version: str
    date: str
    generator: str
    previous: str | None  # the revision before this one, as the changelog states it


def glossary(texts: list[str]) -> list[Term]:
    """The terms some text of the document uses, with their definitions, in order."""
    corpus = "\n".join(texts)
    return [Term(t, GLOSSARY[t]) for t, pattern in _TERM.items() if pattern.search(corpus)]


def _key_status(ref: str, keys: set[str], gates: list[GateResult], record: AssessmentRecord) -> str:
    """The worst gate outcome on a record key; a stress test's own verdict; else held/missing."""
    if ref not in keys:
        return "missing"
    judged = [g.status for g in gates if g.evidence == ref]
    for worst in (Status.FAIL, Status.INSUFFICIENT, Status.PASS):
        if worst in judged:
            return worst.value
    if ref.startswith("stress/"):
        test = next(t for t in record.evaluation.stress_tests if f"stress/{t.id}" == ref)
        if test.passed is not None:
            return "pass" if test.passed else "fail"
    return "held"


def hazard_log(record: AssessmentRecord, decision: Decision) -> list[HazardRow]:
    """Each hazard with its controls, the constraint each relies on, and its evidence checked
    against the record, so a missing or failing verification shows where it is cited."""
    keys = evidence_keys(record)
    enforced = {c.name: c.enforced_outside_policy for c in record.model.safety_constraints}
    registered = {d.ref for d in record.documents}
    monitored = {m.name: m for m in record.monitoring.metrics}
    rows = []
    for h in record.hazards:
        evidence = []
        for ref in h.verified_by:
            if is_record_key(ref):
                status = _key_status(ref, keys, decision.gates, record)
                evidence.append(VerifyingEvidence(ref, True, ref in keys, status))
            else:
                evidence.append(VerifyingEvidence(ref, False, ref in registered, "document"))
        signals = []
        for name in h.monitoring:
            m = monitored.get(name)
            alarm = f" (alarm when {m.alarm_when.value} {format_number(m.threshold)})" if m else ""
            signals.append(f"{name}{alarm}")
        rows.append(
            HazardRow(
                id=h.id,
                hazard=h.hazard,
                cause=h.cause,
                failure_mode=h.failure_mode,
                controls=[
                    HazardControlRow(c.description, c.constraint, enforced.get(c.constraint or ""))
                    for c in h.controls
                ],
                evidence=evidence,
                residual_level=h.residual_risk.level.value,
                residual_rationale=h.residual_risk.rationale,
                monitoring=signals,
            )
        )
    return rows


def cited_ref(citation: str, registered: list[str]) -> str | None:
    """The document a checklist answer's evidence entry cites: a registered reference it is or
    starts with, else a file path standing first in it; None for runs, URLs and the record."""
    text = citation.strip()
    for ref in sorted(registered, key=len, reverse=True):
        if text == ref or text.startswith((f"{ref},", f"{ref} ")):
            return ref
    head = re.split(r"[\s,]", text, maxsplit=1)[0]
    return head if _PATH.match(head) else None


def evidence_register(record: AssessmentRecord) -> Register:
    """The registered documents in record order, then cited ones the register lacks; each
    with the checklist items and hazards citing it, and a digest where one is known."""
    refs = [d.ref for d in record.documents]
    cited: dict[str, list[str]] = defaultdict(list)
    digests: dict[str, str] = {}
    for checklist in record.checklists:
        for item_id, response in checklist.items.items():
            for citation in response.evidence:
                ref = cited_ref(citation, refs)
                if ref is None:
                    continue
                if f"{checklist.id}/{item_id}" not in cited[ref]:
                    cited[ref].append(f"{checklist.id}/{item_id}")
                digest = _CITED_DIGEST.search(citation)
                if digest:
                    digests.setdefault(ref, digest.group(0))
    for h in record.hazards:
        for ref in h.verified_by:
            if not is_record_key(ref) and (ref in refs or _PATH.match(ref)):
                cited[ref].append(f"hazard {h.id}")
    rows = [
        RegisterRow(
            ref=d.ref,
            title=d.title,
            version=d.version,
            date=d.date.isoformat() if d.date else None,
            sha256=d.sha256 or digests.get(d.ref),
            registered=True,
            cited_by=cited.get(d.ref, []),
        )
        for d in record.documents
    ]
    rows += [
        RegisterRow(ref, None, None, None, digests.get(ref), False, by)
        for ref, by in sorted(cited.items())
        if ref not in refs
    ]
    return Register(rows)


def reviewers(record: AssessmentRecord, labels: dict[str, str]) -> list[ReviewerRow]:
    return [
        ReviewerRow(
            name=r.name,
            role=labels.get(r.role, r.role),
            organisation=r.organisation,
            independence=r.independence,
            conflicts=r.conflicts,
            reviewed_on=r.reviewed_on.isoformat() if r.reviewed_on else None,
        )
        for r in record.reviewers
    ]


def previous_revision(record: AssessmentRecord) -> str | None:
    """The changelog entry before the one for this version (or before the last one)."""
    log = record.changelog
    current = next(
        (i for i, e in enumerate(log) if e.version == record.system.version), len(log) - 1
    )
    if current < 1:
        return None
    e = log[current - 1]
    return f"version {e.version} of {e.date.isoformat()} by {e.author}"
