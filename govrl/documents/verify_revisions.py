"""A signed document's revisions, each judged once for all of its signatures.

pyHanko reviews each signature on its own, comparing every later revision with the one it
signed: n signatures cost n(n+1)/2 comparisons. Here each revision is compared once, with
the revision before it, and every signature's verdict is assembled from those comparisons,
each prepared by `verify_usages`.
"""

from __future__ import annotations

from typing import Any

from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader
from pyhanko.sign.diff_analysis import DiffResult, ModificationLevel, SuspiciousModification

from govrl.documents.change_policy import GovrlDiffPolicy
from govrl.documents.change_rules import ForbiddenChange
from govrl.documents.pdffile import damage_errors
from govrl.documents.verify_usages import Usages


class RevisionJudge(GovrlDiffPolicy):
    """govrl's difference policy for one document: each revision judged against the one
    before it, once, and each signature's analysis assembled from those judgements.

    Under govrl's rules a revision may only fill empty signature fields, add validation
    material and rewrite the modification date and producer; chained, such steps stay within
    them. A field signed between a signature and a later revision is judged as signed, where
    a comparison with the signature's own revision sees it being filled, so this is at least
    as strict as pyHanko's order. The earliest signature's analysis starts at the rendered
    revision, as GovrlDiffPolicy's does.
    """

    def __init__(self, reader: PdfFileReader, first_signed: int | None) -> None:
        super().__init__(first_signed)
        self.reader = reader
        self.usages = Usages(reader)
        self.judgements: dict[int, DiffResult | ForbiddenChange] = {}

    def apply(
        self,
        old: HistoricalResolver,
        new: HistoricalResolver,
        field_mdp_spec: Any = None,
        doc_mdp: Any = None,
    ) -> DiffResult:
        self.usages.prime(old)
        return super().apply(old, new, field_mdp_spec, doc_mdp)

    def prime_all(self) -> None:
        """Give every revision that a later one is compared with its usage paths, so that
        every comparison (this policy's, or `changes.review`'s) finds them ready."""
        for revision in range(self.reader.xrefs.total_revisions - 1):
            try:
                view = self.reader.get_historical_resolver(revision)
            except damage_errors():
                return  # the comparisons meet the damage and report it
            self.usages.prime(view)

    def judged(
        self, revision: int, field_mdp_spec: Any = None, doc_mdp: Any = None
    ) -> DiffResult | ForbiddenChange:
        """``revision`` against the one before it: what it changed, or why that is refused.
        Judged once; a signature that locks fields or certifies the document is judged
        with its own constraints."""
        shared = field_mdp_spec is None and doc_mdp is None
        if shared and revision in self.judgements:
            return self.judgements[revision]
        old, new = (self.reader.get_historical_resolver(r) for r in (revision - 1, revision))
        result: DiffResult | ForbiddenChange
        try:
            result = self.apply(old, new, field_mdp_spec, doc_mdp)
        except ForbiddenChange as finding:
            result = finding
        if shared:
            self.judgements[revision] = result
        return result

    def review_file(
        self,
        reader: PdfFileReader,
        base_revision: int | HistoricalResolver,
        field_mdp_spec: Any = None,
        doc_mdp: Any = None,
    ) -> DiffResult | SuspiciousModification:
        """The revisions after the signed one (for the earliest signature: after the rendered
        one), each as judged against the one before it; the first refusal, named."""
        if reader is not self.reader:
            return super().review_file(reader, base_revision, field_mdp_spec, doc_mdp)
        signed = base_revision if isinstance(base_revision, int) else base_revision.revision
        start = 0 if signed == self.first_signed else signed
        level = ModificationLevel.NONE
        fields: set[str] = set()
        for revision in range(start + 1, reader.xrefs.total_revisions):
            result = self.judged(revision, field_mdp_spec, doc_mdp)
            if isinstance(result, ForbiddenChange):
                return _seen_from(result, signed_over=revision <= signed)
            level = max(level, result.modification_level)
            fields |= result.changed_form_fields
        return DiffResult(level, fields)


def _seen_from(finding: ForbiddenChange, *, signed_over: bool) -> ForbiddenChange:
    """The refusal as one signature reports it: every signature gets its own copy, since
    whether the signature covers the refused revision differs between them."""
    copy = ForbiddenChange(finding.kind, finding.detail, finding.revision)
    copy.signed_over = signed_over
    copy.__cause__ = finding.__cause__
    return copy
