"""govrl's rules for what a later revision may do to pages, annotations and form fields.

A page keeps its content and annotations; it may gain only the invisible widget of
a signature field filled in the same revision (a document timestamp, or a forced
signature). A field changes only by being signed (its value and a new appearance),
and a signed field, appearance included, never changes again, whichever revision a
signature's analysis starts from.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import HistoricalResolver
from pyhanko.sign.diff_analysis import (
    FieldComparisonContext,
    FieldComparisonSpec,
    FieldMDPRule,
    FormUpdate,
    FormUpdatingRule,
    ModificationLevel,
    QualifiedWhitelistRule,
    ReferenceUpdate,
)

from govrl.documents.change_kinds import ChangeKind
from govrl.documents.change_rules import (
    ForbiddenChange,
    changed_keys,
    resolve,
    rewritten_in,
    same,
)

# A field being signed gains its value and a new appearance, nothing else.
SIGNING_CHANGES = frozenset({"/V", "/AP"})
ACROFORM_MAY_CHANGE = frozenset({"/Fields", "/SigFlags"})


def _page_nodes(
    view: HistoricalResolver,
) -> list[tuple[generic.Reference, generic.DictionaryObject]]:
    """The page tree in document order: every node and page with its reference."""
    start = view.root.raw_get("/Pages")
    if not isinstance(start, generic.IndirectObject):
        raise ForbiddenChange(ChangeKind.PAGES, "the page tree is not an indirect object")
    nodes = []
    seen: set[generic.Reference] = set()
    todo = [start]
    while todo:
        raw = todo.pop()
        if not isinstance(raw, generic.IndirectObject) or raw.reference in seen:
            raise ForbiddenChange(ChangeKind.PAGES, "the page tree is malformed")
        seen.add(raw.reference)
        node = view.get_object(raw.reference)
        if not isinstance(node, generic.DictionaryObject):
            raise ForbiddenChange(ChangeKind.PAGES, "a page tree node is not a dictionary")
        nodes.append((raw.reference, node))
        if node.get("/Type") == "/Pages":
            kids = node.get("/Kids", [])
            todo.extend(reversed(list(kids if isinstance(kids, generic.ArrayObject) else [])))
    return nodes


def _refs_in(view: HistoricalResolver, value: Any) -> list[generic.Reference]:
    """The reference ``value`` is and, for an array, the references in it."""
    refs = []
    if isinstance(value, generic.IndirectObject):
        refs.append(value.reference)
        value = view.get_object(value.reference)
    if isinstance(value, generic.ArrayObject):
        refs.extend(v.reference for v in value if isinstance(v, generic.IndirectObject))
    return refs


def _annotations(page: generic.DictionaryObject, view: HistoricalResolver) -> list[Any]:
    if "/Annots" not in page:
        return []
    annots = resolve(view, page.raw_get("/Annots"))
    if not isinstance(annots, generic.ArrayObject):
        raise ForbiddenChange(ChangeKind.ANNOTATION, "a page's /Annots is not an array")
    return [a.reference if isinstance(a, generic.IndirectObject) else a for a in annots]


def _is_signature_widget(annot: Any) -> bool:
    if not isinstance(annot, generic.DictionaryObject) or annot.get("/Subtype") != "/Widget":
        return False
    field = annot
    for _ in range(8):  # a widget inherits /FT from its field, through /Parent
        if "/FT" in field:
            return field["/FT"] == "/Sig"  # type: ignore[no-any-return]
        parent = field.get("/Parent")
        if not isinstance(parent, generic.DictionaryObject):
            return False
        field = parent
    return False


def _visible(annot: generic.DictionaryObject) -> bool:
    try:
        x1, y1, x2, y2 = (float(v) for v in annot["/Rect"])
    except (KeyError, TypeError, ValueError):
        return False
    return abs(x2 - x1) * abs(y2 - y1) > 0


class PagesRule(QualifiedWhitelistRule):
    """Pages keep their number, order, content and annotations; a page may gain only the
    invisible widget of a new, filled signature field. One pass over the page tree."""

    def apply_qualified(
        self, old: HistoricalResolver, new: HistoricalResolver
    ) -> Iterable[tuple[ModificationLevel, ReferenceUpdate]]:
        changed = rewritten_in(new)
        before, after = _page_nodes(old), _page_nodes(new)
        pages_before = sum(1 for _, n in before if n.get("/Type") != "/Pages")
        pages_after = sum(1 for _, n in after if n.get("/Type") != "/Pages")
        if pages_before != pages_after:
            raise ForbiddenChange(
                ChangeKind.PAGES, f"the document has {pages_after} pages, it had {pages_before}"
            )
        if [r for r, _ in before] != [r for r, _ in after]:
            raise ForbiddenChange(ChangeKind.PAGES, "pages were replaced, moved or regrouped")
        number = 0
        for (_, old_node), (_, new_node) in zip(before, after, strict=True):
            if new_node.get("/Type") == "/Pages":
                keys = changed_keys(old_node, new_node)
                if keys:
                    raise ForbiddenChange(
                        ChangeKind.PAGE_CONTENT, f"the page tree's {', '.join(keys)} changed"
                    )
                continue
            number += 1
            self._page(number, old_node, new_node, old, new, changed)
        yield from ()

    @staticmethod
    def _page(
        number: int,
        before: generic.DictionaryObject,
        after: generic.DictionaryObject,
        old: HistoricalResolver,
        new: HistoricalResolver,
        changed: set[generic.Reference],
    ) -> None:
        keys = changed_keys(before, after, frozenset({"/Annots"}))
        if keys:
            raise ForbiddenChange(
                ChangeKind.PAGE_CONTENT, f"page {number}: {', '.join(keys)} changed"
            )
        for key, what in (("/Contents", "content stream"), ("/Resources", "resources")):
            if key in after:
                for ref in _refs_in(new, after.raw_get(key)):
                    if ref in changed and not old.is_ref_unassignable(ref):
                        raise ForbiddenChange(
                            ChangeKind.PAGE_CONTENT,
                            f"page {number}: its {what} (object {ref.idnum}) was rewritten",
                        )
        old_annots, new_annots = _annotations(before, old), _annotations(after, new)
        old_refs = {a for a in old_annots if isinstance(a, generic.Reference)}
        new_refs = {a for a in new_annots if isinstance(a, generic.Reference)}
        direct = [a for a in new_annots if not isinstance(a, generic.Reference)]
        if old_refs - new_refs or any(
            not any(same(a, b) for b in direct)
            for a in old_annots
            if not isinstance(a, generic.Reference)
        ):
            raise ForbiddenChange(
                ChangeKind.ANNOTATION, f"page {number}: an annotation was removed"
            )
        if len(direct) > len(old_annots) - len(old_refs):
            raise ForbiddenChange(
                ChangeKind.ANNOTATION, f"page {number}: a direct annotation was added"
            )
        for annot in new_refs:
            obj = new.get_object(annot)
            existed = annot in old_refs
            if _is_signature_widget(obj):
                if not existed and _visible(obj):
                    name = obj.get("/T", obj.get("/Parent", {}).get("/T", "?"))
                    raise ForbiddenChange(
                        ChangeKind.FIELD,
                        f"page {number}: a visible widget of a new signature field "
                        f"{str(name)!r} was added",
                    )
                continue  # its field's rules judge it
            subtype = obj.get("/Subtype", "?") if isinstance(obj, generic.DictionaryObject) else "?"
            if not existed:
                raise ForbiddenChange(
                    ChangeKind.ANNOTATION, f"page {number}: a {subtype} annotation was added"
                )
            if annot in changed:
                raise ForbiddenChange(
                    ChangeKind.ANNOTATION, f"page {number}: a {subtype} annotation was changed"
                )


# ---------------------------------------------------------------- form fields


def _appearance_refs(view: HistoricalResolver, widget: generic.DictionaryObject) -> Iterator[Any]:
    """The references of a widget's appearance dictionary and streams (states included)."""
    if "/AP" not in widget:
        return
    raw = widget.raw_get("/AP")
    if isinstance(raw, generic.IndirectObject):
        yield raw.reference
    appearance = resolve(view, raw)
    if not isinstance(appearance, generic.DictionaryObject):
        return
    for key in ("/N", "/R", "/D"):
        if key not in appearance:
            continue
        value = appearance.raw_get(key)
        if isinstance(value, generic.IndirectObject):
            yield value.reference
            value = view.get_object(value.reference)
        if isinstance(value, generic.DictionaryObject) and not isinstance(
            value, generic.StreamObject
        ):
            yield from (
                v.reference for v in value.values() if isinstance(v, generic.IndirectObject)
            )


def _check_field(
    name: str, spec: FieldComparisonSpec, context: FieldComparisonContext, changed: set[Any]
) -> None:
    old, new = context.old, context.new
    if spec.old_field_ref is None:
        field = spec.new_field
        assert field is not None
        if spec.field_type != "/Sig":
            raise ForbiddenChange(
                ChangeKind.FIELD, f"a new {spec.field_type} field {name!r} was added"
            )
        if "/V" not in field:
            look = "visible" if _field_visible(field) else "invisible"
            raise ForbiddenChange(
                ChangeKind.FIELD, f"a new, empty, {look} signature field {name!r} was added"
            )
        if _field_visible(field):
            raise ForbiddenChange(
                ChangeKind.FIELD, f"a new signature field {name!r} with a visible widget was added"
            )
        return
    if spec.new_field_ref is None:
        raise ForbiddenChange(ChangeKind.FIELD, f"the field {name!r} was removed")
    before, after = spec.old_field, spec.new_field
    assert before is not None and after is not None
    rewritten = spec.new_field_ref != spec.old_field_ref or spec.new_field_ref in changed
    keys = changed_keys(before, after) if rewritten else []
    if "/V" in before:
        if keys:
            kind = ChangeKind.APPEARANCE if "/AP" in keys else ChangeKind.FIELD
            raise ForbiddenChange(
                kind, f"the field {name!r} was changed after it was signed: {', '.join(keys)}"
            )
    elif "/V" not in after:
        if keys:
            raise ForbiddenChange(
                ChangeKind.FIELD,
                f"the empty field {name!r} was changed without being signed: {', '.join(keys)}",
            )
    elif set(keys) - SIGNING_CHANGES:
        extra = ", ".join(sorted(set(keys) - SIGNING_CHANGES))
        raise ForbiddenChange(ChangeKind.FIELD, f"signing the field {name!r} also changed {extra}")
    for widget in _widgets(after, new):
        for ref in _appearance_refs(new, widget):
            if ref in changed and not old.is_ref_unassignable(ref):
                raise ForbiddenChange(
                    ChangeKind.APPEARANCE,
                    f"the appearance of the field {name!r} (object {ref.idnum}) was rewritten",
                )
    if "/V" in after:
        _unchanged_since_signed(name, spec.new_field_ref, after, new)


def _unchanged_since_signed(
    name: str, ref: Any, field: generic.DictionaryObject, new: HistoricalResolver
) -> None:
    """A signed field, with its appearance and all the appearance draws with, stays as the
    revision that signed it left it. Judged against that revision, because an analysis
    that starts earlier sees the field as being filled, which may set an appearance."""
    value = field.raw_get("/V")
    if not isinstance(value, generic.IndirectObject):
        return  # pyHanko's signature rule refuses a direct value
    xrefs = new.reader.xrefs
    signed_in = xrefs.get_introducing_revision(value.reference)
    if signed_in >= new.revision:
        return
    since: set[generic.Reference] = set()
    for revision in range(signed_in + 1, new.revision + 1):
        since |= xrefs.explicit_refs_in_revision(revision)
    if ref in since:
        then = new.reader.get_historical_resolver(signed_in)
        before = then.get_object(ref) if not then.is_ref_unassignable(ref) else None
        keys = changed_keys(before, field) if isinstance(before, generic.DictionaryObject) else []
        if keys or not isinstance(before, generic.DictionaryObject):
            kind = ChangeKind.APPEARANCE if "/AP" in keys else ChangeKind.FIELD
            what = ", ".join(keys) or "replaced"
            raise ForbiddenChange(
                kind, f"the field {name!r} was changed after it was signed: {what}"
            )
    if "/AP" in field:
        for dep in new.collect_dependencies(field.raw_get("/AP")):
            if dep in since:
                raise ForbiddenChange(
                    ChangeKind.APPEARANCE,
                    f"the appearance of the field {name!r} (object {dep.idnum}) was "
                    f"rewritten after it was signed",
                )


def _widgets(field: generic.DictionaryObject, view: HistoricalResolver) -> list[Any]:
    kids = resolve(view, field.raw_get("/Kids")) if "/Kids" in field else None
    if not isinstance(kids, generic.ArrayObject):
        return [field]
    return [
        k for k in (resolve(view, kid) for kid in kids) if isinstance(k, generic.DictionaryObject)
    ]


def _field_visible(field: generic.DictionaryObject) -> bool:
    kids = field.get("/Kids")
    widgets = [field, *(kids if isinstance(kids, generic.ArrayObject) else [])]
    return any(isinstance(w, generic.DictionaryObject) and _visible(w) for w in widgets)


class OwnFieldsRule(FieldMDPRule):
    """A field may change only by being signed; a new field must be an invisible signature
    field filled in the same revision (a document timestamp, or a forced signature)."""

    def apply(
        self, context: FieldComparisonContext
    ) -> Iterable[tuple[ModificationLevel, FormUpdate]]:
        changed = rewritten_in(context.new)
        for name, spec in context.field_specs.items():
            _check_field(name, spec, context, changed)
        yield from ()


def _acroform(view: HistoricalResolver) -> generic.DictionaryObject | None:
    if "/AcroForm" not in view.root:
        return None
    form = view.root["/AcroForm"]
    if not isinstance(form, generic.DictionaryObject):
        raise ForbiddenChange(ChangeKind.FIELD, "/AcroForm is not a dictionary")
    return form


class FormRule(FormUpdatingRule):
    """The form dictionary keeps its entries but its field list and signature flags."""

    def apply(
        self, old: HistoricalResolver, new: HistoricalResolver
    ) -> Iterable[tuple[ModificationLevel, FormUpdate]]:
        before, after = _acroform(old), _acroform(new)
        if before is not None and after is None:
            raise ForbiddenChange(ChangeKind.FIELD, "the form (AcroForm) was removed")
        if before is not None and after is not None:
            keys = changed_keys(before, after, ACROFORM_MAY_CHANGE)
            if keys:
                raise ForbiddenChange(ChangeKind.FIELD, f"the form's {', '.join(keys)} changed")
        yield from super().apply(old, new)
