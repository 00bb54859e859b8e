"""govrl's rules for what a later revision may do to a document's metadata and catalog,
and the object comparisons every change rule uses.

pyHanko's default rules let a later revision rewrite the Info dictionary and the
XMP metadata freely and add some catalog entries. Here Info and XMP may change only
in what signing rewrites (modification date, producer), and the catalog only in the
entries signatures and validation material need. A refused change raises a
ForbiddenChange that names its kind.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import HistoricalResolver
from pyhanko.sign.diff_analysis import (
    CatalogModificationRule,
    DocInfoRule,
    MetadataUpdateRule,
    ModificationLevel,
    ReferenceUpdate,
    SuspiciousModification,
    WhitelistRule,
)

from govrl.documents.change_kinds import ChangeKind

# What signing rewrites: the modification date and the producer, in Info and in XMP
# (where pyHanko also merges the rdf:Description elements, each with its rdf:about).
INFO_MAY_CHANGE = frozenset({"/ModDate", "/Producer"})
XMP_MAY_CHANGE = frozenset(
    {
        "http://www.w3.org/1999/02/22-rdf-syntax-ns#about",
        "http://ns.adobe.com/xap/1.0/ModifyDate",
        "http://ns.adobe.com/xap/1.0/MetadataDate",
        "http://ns.adobe.com/pdf/1.3/Producer",
    }
)
# Catalog entries a signature or validation material may add or change; /AcroForm,
# /DSS and /Metadata have rules of their own.
CATALOG_MAY_CHANGE = frozenset({"/AcroForm", "/DSS", "/Extensions", "/Metadata", "/Version"})


class ForbiddenChange(SuspiciousModification):
    """A change govrl does not allow after rendering: its kind, what changed, and where."""

    def __init__(self, kind: ChangeKind, detail: str, revision: int | None = None) -> None:
        super().__init__(f"{kind.value}: {detail}")
        self.kind = kind
        self.detail = detail
        self.revision = revision
        self.signed_over = False  # True when the signature judged covers this revision


# ---------------------------------------------------------------- comparing PDF objects


def same(one: Any, other: Any) -> bool:
    """Whether two raw PDF values are equal, references compared by number, not content."""
    if isinstance(one, generic.IndirectObject) or isinstance(other, generic.IndirectObject):
        return (
            isinstance(one, generic.IndirectObject)
            and isinstance(other, generic.IndirectObject)
            and one.reference == other.reference
        )
    if isinstance(one, generic.StreamObject) or isinstance(other, generic.StreamObject):
        return (
            isinstance(one, generic.StreamObject)
            and isinstance(other, generic.StreamObject)
            and one.encoded_data == other.encoded_data
            and _same_dict(one, other)
        )
    if isinstance(one, generic.DictionaryObject) or isinstance(other, generic.DictionaryObject):
        return (
            isinstance(one, generic.DictionaryObject)
            and isinstance(other, generic.DictionaryObject)
            and _same_dict(one, other)
        )
    if isinstance(one, generic.ArrayObject) or isinstance(other, generic.ArrayObject):
        return (
            isinstance(one, generic.ArrayObject)
            and isinstance(other, generic.ArrayObject)
            and len(one) == len(other)
            and all(same(a, b) for a, b in zip(one, other, strict=True))
        )
    strings = (generic.TextStringObject, generic.ByteStringObject)
    if isinstance(one, strings) or isinstance(other, strings):
        return isinstance(one, strings) and isinstance(other, strings) and str(one) == str(other)
    return type(one) is type(other) and bool(one == other)


def _same_dict(one: generic.DictionaryObject, other: generic.DictionaryObject) -> bool:
    return not changed_keys(one, other)


def changed_keys(
    one: generic.DictionaryObject,
    other: generic.DictionaryObject,
    ignore: frozenset[str] = frozenset(),
) -> list[str]:
    """The keys whose raw values differ between two dictionaries, added and removed ones too."""
    keys = (set(one.keys()) | set(other.keys())) - ignore
    return sorted(
        key
        for key in keys
        if key not in one or key not in other or not same(one.raw_get(key), other.raw_get(key))
    )


def _show(value: Any) -> str:
    """A short, inert rendering of a value from the document for the report."""
    text = str(value) if not isinstance(value, generic.IndirectObject) else f"object {value.idnum}"
    shown = repr(text)
    return shown if len(shown) <= 80 else shown[:77] + "...'"


def _difference(was: str, now: str) -> tuple[str, str]:
    """Two texts shown from shortly before the first character where they differ."""
    start = next((i for i, (a, b) in enumerate(zip(was, now, strict=False)) if a != b), None)
    if start is None:
        start = min(len(was), len(now))
    cut = max(0, start - 20)
    prefix = "..." if cut else ""
    return _show(prefix + was[cut:]), _show(prefix + now[cut:])


def rewritten_in(view: HistoricalResolver) -> set[generic.Reference]:
    """The objects the revision ``view`` shows wrote (new ones and replaced ones)."""
    refs: set[generic.Reference] = view.explicit_refs_in_revision()  # type: ignore[no-untyped-call]
    return refs


def resolve(view: HistoricalResolver, value: Any) -> Any:
    if isinstance(value, generic.IndirectObject):
        return view.get_object(value.reference)
    return value


def type_of(obj: Any) -> str:
    if not isinstance(obj, generic.DictionaryObject):
        return type(obj).__name__
    words = [str(obj[key]) for key in ("/Type", "/Subtype") if key in obj]
    if "/FT" in obj:
        words.append(f"{obj['/FT']} field")
    if isinstance(obj, generic.StreamObject):
        words.append("stream")
    return " ".join(words) or "dictionary"


# ---------------------------------------------------------------- metadata


def _info(view: HistoricalResolver) -> generic.DictionaryObject | None:
    """Info as of ``view``: the trailer's reference resolved in that revision, not the last."""
    try:
        value = resolve(view, view.trailer_view.raw_get("/Info"))
    except KeyError:
        return None
    if not isinstance(value, generic.DictionaryObject):
        raise ForbiddenChange(ChangeKind.INFO, "the Info entry is not a dictionary")
    return value


class InfoRule(WhitelistRule):
    """Info may change only in the modification date and producer that signing writes."""

    def apply(self, old: HistoricalResolver, new: HistoricalResolver) -> Iterable[ReferenceUpdate]:
        before, after = _info(old), _info(new)
        if after is None:
            if before is not None:
                raise ForbiddenChange(ChangeKind.INFO, "the Info dictionary was removed")
            return
        if before is None:
            raise ForbiddenChange(ChangeKind.INFO, "an Info dictionary was added")
        changes = []
        for key in changed_keys(before, after, INFO_MAY_CHANGE):
            if key not in after:
                changes.append(f"{key} removed (was {_show(before[key])})")
            elif key not in before:
                changes.append(f"{key} added ({_show(after[key])})")
            elif not same(before[key], after[key]):
                was, now = _difference(str(before[key]), str(after[key]))
                changes.append(f"{key} {was} became {now}")
        for key in INFO_MAY_CHANGE & set(after.keys()):
            if not isinstance(after[key], generic.TextStringObject | generic.ByteStringObject):
                changes.append(f"{key} is no longer text")
        if changes:
            raise ForbiddenChange(ChangeKind.INFO, "; ".join(changes))
        yield from DocInfoRule().apply(old, new)


def _xmp_properties(view: HistoricalResolver, ref: generic.Reference) -> list[tuple[str, Any]]:
    from pyhanko.pdf_utils.metadata.xmp_xml import parse_xmp

    stream = view.get_object(ref)
    if not isinstance(stream, generic.StreamObject):
        raise ForbiddenChange(ChangeKind.XMP, "/Metadata is not a stream")
    try:
        roots = parse_xmp(io.BytesIO(stream.data))
    except Exception as exc:  # noqa: BLE001 - lxml and pyHanko raise many kinds on bad XML
        raise ForbiddenChange(ChangeKind.XMP, f"the XMP packet does not parse ({exc})") from exc
    return [
        (str(name), value)
        for root in roots
        for name, value in root
        if str(name) not in XMP_MAY_CHANGE
    ]


def _metadata_ref(view: HistoricalResolver) -> generic.Reference | None:
    try:
        value = view.root.raw_get("/Metadata")
    except KeyError:
        return None
    if not isinstance(value, generic.IndirectObject):
        raise ForbiddenChange(ChangeKind.XMP, "/Metadata is not an indirect stream")
    return value.reference


class XmpRule(WhitelistRule):
    """XMP may be re-serialised, but say nothing new: every property but the modification
    date and producer keeps its value (pyHanko rewrites the packet on every signature)."""

    def apply(self, old: HistoricalResolver, new: HistoricalResolver) -> Iterable[ReferenceUpdate]:
        before, after = _metadata_ref(old), _metadata_ref(new)
        if after is None:
            if before is not None:
                raise ForbiddenChange(ChangeKind.XMP, "the XMP metadata was removed")
            return
        if before is None:
            raise ForbiddenChange(ChangeKind.XMP, "XMP metadata was added")
        if before != after or after in rewritten_in(new):
            old_props, new_props = _xmp_properties(old, before), _xmp_properties(new, after)
            differing = _differing_properties(old_props, new_props)
            if differing:
                raise ForbiddenChange(ChangeKind.XMP, differing)
        yield from MetadataUpdateRule().apply(old, new)  # type: ignore[no-untyped-call]


def _differing_properties(before: list[tuple[str, Any]], after: list[tuple[str, Any]]) -> str:
    """Which properties differ between two lists of XMP properties, duplicates counted."""
    remaining = list(after)
    removed = []
    for name, value in before:
        match = next((i for i, p in enumerate(remaining) if p == (name, value)), None)
        if match is None:
            removed.append(name)
        else:
            del remaining[match]
    names = sorted({*removed, *(name for name, _ in remaining)})
    if not names:
        return ""

    def value_of(props: list[tuple[str, Any]], name: str) -> str:
        values = [v.value for n, v in props if n == name]
        return ", ".join(_show(v) for v in values) if values else "absent"

    return "; ".join(
        f"{_short(name)} {value_of(before, name)} became {value_of(after, name)}"
        for name in names[:6]
    )


def _short(name: str) -> str:
    from govrl.documents.pdffile import XMP_NAMESPACE, XMP_PREFIX

    return name.replace(XMP_NAMESPACE, f"{XMP_PREFIX}:")


# ---------------------------------------------------------------- catalog, pages, annotations


class CatalogRule(CatalogModificationRule):
    """The catalog keeps every entry but those signing and validation material touch."""

    def __init__(self) -> None:
        super().__init__(ignored_keys=CATALOG_MAY_CHANGE)  # type: ignore[no-untyped-call]

    def apply_qualified(
        self, old: HistoricalResolver, new: HistoricalResolver
    ) -> Iterable[tuple[ModificationLevel, ReferenceUpdate]]:
        before, after = old.root, new.root
        keys = changed_keys(before, after, CATALOG_MAY_CHANGE)
        if "/Pages" in keys:
            raise ForbiddenChange(ChangeKind.PAGES, "the catalog points to another page tree")
        if keys:
            words = [f"{key} {_fate(key, before, after)}" for key in keys]
            raise ForbiddenChange(ChangeKind.CATALOG, "entry " + ", ".join(words))
        yield from super().apply_qualified(old, new)


def _fate(key: str, before: generic.DictionaryObject, after: generic.DictionaryObject) -> str:
    return "added" if key not in before else "removed" if key not in after else "changed"
