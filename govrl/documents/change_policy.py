"""govrl's difference policy for pyHanko: the structural rules pyHanko vets signing with,
and govrl's rules in place of its lenient ones, every refusal named.

Of pyHanko's default policy this keeps the rules for cross-reference and object
streams, the DSS, and signature-field creation and filling (without in-place
appearance updates); it drops the generic-field rule (a govrl document has only
signature fields) and replaces the Info, XMP and catalog rules with govrl's. Object
freeing and orphaned objects are refused. pyHanko reviews each signature against the
revisions after it; for the earliest signature this policy starts at the rendered
revision instead, so the revisions up to it are judged too, at no extra cost.
"""

from __future__ import annotations

from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader
from pyhanko.sign.diff_analysis import (
    DiffResult,
    DSSCompareRule,
    ModificationLevel,
    ObjectStreamRule,
    SigFieldCreationRule,
    SigFieldModificationRule,
    StandardDiffPolicy,
    SuspiciousModification,
    XrefStreamRule,
)

from govrl.documents.change_kinds import ChangeKind
from govrl.documents.change_rules import (
    CatalogRule,
    ForbiddenChange,
    InfoRule,
    XmpRule,
    rewritten_in,
    type_of,
)
from govrl.documents.form_rules import ACROFORM_MAY_CHANGE, FormRule, OwnFieldsRule, PagesRule
from govrl.documents.pdffile import damage_errors

LTA = ModificationLevel.LTA_UPDATES
_UNREADABLE: tuple[type[BaseException], ...] = (*damage_errors(), AttributeError)
GLOBAL_RULES = [
    CatalogRule(),
    InfoRule().as_qualified(LTA),
    XmpRule().as_qualified(LTA),
    PagesRule(),
    XrefStreamRule().as_qualified(LTA),
    ObjectStreamRule().as_qualified(LTA),
    DSSCompareRule().as_qualified(LTA),
]
FORM_RULE = FormRule(
    field_rules=[
        OwnFieldsRule(),
        SigFieldCreationRule(),  # type: ignore[no-untyped-call]
        SigFieldModificationRule(allow_in_place_appearance_stream_changes=False),
    ],
    ignored_acroform_keys=ACROFORM_MAY_CHANGE,
)


def _rewritten(old: HistoricalResolver, new: HistoricalResolver) -> str:
    """The objects of the earlier revision that ``new`` replaced, beyond what signing replaces."""
    info = new.trailer_view.raw_get("/Info") if "/Info" in new.trailer_view else None
    vetted = {new.root_ref}
    if isinstance(info, generic.IndirectObject):
        vetted.add(info.reference)
    found = []
    for ref in sorted(rewritten_in(new), key=lambda r: (r.idnum, r.generation)):
        if ref in vetted or old.is_ref_unassignable(ref):
            continue  # checked by its own rule, or a new object
        label = type_of(new.get_object(ref))
        if label.startswith(("/Metadata", "/Annot /Widget /Sig")):
            continue
        found.append(f"object {ref.idnum} ({label})")
    if not found:
        return "it uses new objects where govrl allows none"
    more = f" and {len(found) - 5} more" if len(found) > 5 else ""
    return "it replaced " + ", ".join(found[:5]) + more


class GovrlDiffPolicy(StandardDiffPolicy):
    """pyHanko's standard policy with govrl's rules; every refusal is a named ForbiddenChange.

    ``first_signed`` is the revision the document's earliest signature covers: that
    signature is judged from the rendered revision on, not from its own.
    """

    def __init__(self, first_signed: int | None = None) -> None:
        super().__init__(
            global_rules=GLOBAL_RULES,
            form_rule=FORM_RULE,
            reject_object_freeing=True,
            ignore_orphaned_objects=False,
            ignore_identical_objects=True,
        )
        self.first_signed = first_signed

    def apply(
        self,
        old: HistoricalResolver,
        new: HistoricalResolver,
        field_mdp_spec: Any = None,
        doc_mdp: Any = None,
    ) -> DiffResult:
        try:
            return super().apply(old, new, field_mdp_spec, doc_mdp)
        except ForbiddenChange as finding:
            finding.revision = new.revision
            raise
        except SuspiciousModification as exc:
            raise ForbiddenChange(ChangeKind.OBJECTS, _rewritten(old, new), new.revision) from exc
        except _UNREADABLE as exc:
            raise ForbiddenChange(
                ChangeKind.UNREADABLE,
                f"it cannot be compared ({type(exc).__name__}: {exc})",
                new.revision,
            ) from exc

    def review_file(
        self,
        reader: PdfFileReader,
        base_revision: int | HistoricalResolver,
        field_mdp_spec: Any = None,
        doc_mdp: Any = None,
    ) -> DiffResult | SuspiciousModification:
        """Each revision after the signed one against it (for the earliest signature: each
        revision after the rendered one); the first refusal, named."""
        signed = base_revision if isinstance(base_revision, int) else base_revision.revision
        start = 0 if signed == self.first_signed else signed
        base = reader.get_historical_resolver(start)
        level = ModificationLevel.NONE
        fields: set[str] = set()
        for revision in range(start + 1, reader.xrefs.total_revisions):
            try:
                result = self.apply(
                    base, reader.get_historical_resolver(revision), field_mdp_spec, doc_mdp
                )
            except ForbiddenChange as finding:
                finding.signed_over = revision <= signed
                return finding
            level = max(level, result.modification_level)
            fields |= result.changed_form_fields
        return DiffResult(level, fields)


def review_revision(reader: PdfFileReader, revision: int) -> DiffResult:
    """Judge ``revision`` against the one before it; raises ForbiddenChange."""
    return GovrlDiffPolicy().apply(
        reader.get_historical_resolver(revision - 1), reader.get_historical_resolver(revision)
    )
