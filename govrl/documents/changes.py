"""What may change in a govrl document after it is rendered, and how a change is reported.

After rendering, a revision may only fill the document's own empty signature fields
with signatures and add PAdES validation material (DSS, VRI, document timestamps).
`change_policy` is the pyHanko difference policy that holds a document to that (its
rules live in change_rules, form_rules and change_policy, which load pyHanko); this
module names what it finds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from govrl.documents.change_kinds import ChangeKind

if TYPE_CHECKING:
    from pyhanko.pdf_utils.reader import PdfFileReader

    from govrl.documents.pdffile import GovrlPdf

ALLOWED_LATER_CHANGES = {"NONE", "LTA_UPDATES", "FORM_FILLING"}


def change_policy(first_signed: int | None = None) -> Any:
    """The pyHanko difference policy that holds a govrl document to what signing writes.

    The signature covering ``first_signed`` (the earliest) is judged from the rendered
    revision on, so the revisions up to it are judged too; pyHanko would start at it.
    """
    from govrl.documents.change_policy import GovrlDiffPolicy

    return GovrlDiffPolicy(first_signed)


def describe(finding: Any) -> str:
    """A refused revision in words: which revision, which kind of change, and what changed."""
    kind = getattr(finding, "kind", None)
    revision = getattr(finding, "revision", None)
    where = f"revision {revision}" if revision is not None else "a later revision"
    if isinstance(kind, ChangeKind):
        return f"{where} changed the {kind.value}: {finding.detail}"
    text = str(finding).strip()
    first_line = text.splitlines()[0][:300] if text else type(finding).__name__
    return f"{where} made changes govrl does not allow ({first_line})"


def later_change_problems(status: Any, role: str, signer: str) -> list[str]:
    """Why the revisions this signature's analysis judged are not acceptable, if they are not."""
    result = getattr(status, "diff_result", None)
    if isinstance(result, Exception):
        if getattr(result, "signed_over", False):
            return [f"signature {role!r} by {signer} covers a change: {describe(result)}"]
        return [
            f"signature {role!r} by {signer}: the document was changed after it was signed: "
            + describe(result)
        ]
    level = status.modification_level.name if status.modification_level else "NONE"
    if level in ALLOWED_LATER_CHANGES:
        return []
    return [
        f"signature {role!r} by {signer}: the document was changed after it was signed "
        f"beyond adding signatures (pyHanko difference analysis: {level})"
    ]


def review(reader: PdfFileReader, first_signed: int | None) -> list[str]:
    """Why the revisions no signature's analysis judges are more than signing: all of them
    when the document is unsigned, those up to the earliest signature when that signature
    is the last revision (pyHanko does not analyse a signature covering the whole file).

    With ``change_policy(first_signed)``, the earliest signature's analysis judges them
    whenever a revision follows it.
    """
    from govrl.documents.change_policy import review_revision
    from govrl.documents.change_rules import ForbiddenChange
    from govrl.documents.pdffile import damage_errors

    last = reader.xrefs.total_revisions - 1
    if first_signed is not None and first_signed < last:
        return []
    problems = []
    for revision in range(1, last + 1):
        try:
            review_revision(reader, revision)
        except ForbiddenChange as finding:
            where = (
                "the document is unsigned" if first_signed is None else "the signatures cover it"
            )
            problems.append(f"{describe(finding)} ({where})")
        except damage_errors() as exc:  # ForbiddenChange is one too: it goes first
            problems.append(f"revision {revision} cannot be read ({type(exc).__name__}: {exc})")
            break
    return problems


def record_problems(doc: GovrlPdf) -> tuple[str | None, list[str]]:
    """The digest of the record the earliest signature covers, and why the record the
    document carries, then or now, cannot be relied on."""
    from govrl.record.identity import digest_of

    facts = doc.approved
    problems = []
    digest = digest_of(facts.record_json) if facts.record_json is not None else None
    if digest is None:
        problems.append(facts.record_problem)
    elif digest != facts.digest:
        problems.append(
            f"the embedded record's digest {digest} differs from the one the document "
            f"shows ({facts.digest})"
        )
    current = digest_of(doc.record_json) if doc.record_json is not None else None
    if (current, doc.shown_digest) == (digest, facts.digest):
        return digest, problems
    where = f"revision {facts.revision}, which the earliest signature covers"
    if current is None:
        problems.append(f"{doc.record_problem}, though {where} has one")
    elif current != doc.shown_digest:
        problems.append(
            f"the embedded record's digest {current} differs from the one the document "
            f"shows ({doc.shown_digest})"
        )
    if current != digest:
        problems.append(f"the embedded record was replaced after {where}: it was {digest}")
    elif doc.shown_digest != facts.digest:
        problems.append(f"the record digest the document shows was changed after {where}")
    return digest, problems
