"""What an entry says about its document, beside what the document says about itself.

`archive add` writes an entry's facts from ``describe()`` and the signature check;
`archive verify` derives them again from the archived bytes the same way and
compares, so an entry rewritten under a recomputed chain and re-signed
checkpoints still disagrees with the document it names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from govrl.record.identity import digest_of
from govrl.review.policy import policy_label

if TYPE_CHECKING:
    from govrl.archive.documents import Described
    from govrl.archive.log import Entry, SignerRef

Facts = dict[str, str | None]


@dataclass(frozen=True)
class Disagreement:
    """One field on which the entry and its document differ."""

    field: str
    entry: str | None
    document: str | None

    def describe(self) -> str:
        return (
            f"{self.field}: the entry says {_shown(self.entry)}, "
            f"the document says {_shown(self.document)}"
        )


def entry_facts(entry: Entry) -> Facts:
    """The facts an entry states about its document, by field."""
    return {
        "document.kind": entry.document.kind,
        "system.id": entry.system.id,
        "system.name": entry.system.name,
        "system.version": entry.system.version,
        "system.risk_tier": _number(entry.system.risk_tier),
        "record.digest": entry.record.digest,
        "verdict": entry.verdict,
        "valid_until": entry.valid_until,
        "signers": signer_list(entry.signers),
        "policy": policy_label(entry.policy.id, entry.policy.version),
        "policy.digest": entry.policy.digest,
    }


def document_facts(about: Described, signers: list[SignerRef] | None) -> Facts:
    """The same facts as the document states them; a fact it does not state (the policy, in
    documents rendered before they carried it; signers, when verify could not run) is left
    out rather than compared."""
    facts: Facts = {
        "document.kind": about.kind,
        "system.id": about.system.id,
        "system.name": about.system.name,
        "system.version": about.system.version,
        "system.risk_tier": _number(about.system.risk_tier),
        "record.digest": digest_of(about.record_json),
        "verdict": about.verdict,
        "valid_until": about.valid_until,
    }
    if signers is not None:
        facts["signers"] = signer_list(signers)
    if about.policy is not None:
        facts["policy"] = about.policy
    if about.policy_digest is not None:
        facts["policy.digest"] = about.policy_digest
    return facts


def disagreements(
    entry: Entry, about: Described, signers: list[SignerRef] | None
) -> list[Disagreement]:
    """Every field where ``entry`` does not say what its document says."""
    said = entry_facts(entry)
    return [
        Disagreement(name, said[name], found)
        for name, found in document_facts(about, signers).items()
        if said[name] != found
    ]


def signer_list(signers: list[SignerRef]) -> str:
    """Each signature's role and signer, in signing order (its time depends on which
    timestamps the verifier's anchors accept, so it is not compared)."""
    return ", ".join(f"{s.role}: {s.signer}" for s in signers)


def _number(value: int | None) -> str | None:
    return None if value is None else str(value)


def _shown(value: str | None) -> str:
    return "nothing" if value is None else repr(value)
