"""The paths pyHanko's difference analysis needs, found without walking a subtree once
per path to it.

Before comparing two revisions, pyHanko maps every path from the trailer to every object
of the older one (``HistoricalResolver._load_reverse_xref_cache``), walking each subtree
once per path that reaches it: the fonts and resources all pages share are read once per
page, so a comparison cost grew with the pages times the resources. ``Usages`` records
exactly the same paths (a test holds it to pyHanko's own walk) but reads a subtree once,
when what lies below it cannot depend on the way it was reached, and once per document
while no revision rewrites it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pyhanko.pdf_utils import generic, misc
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader, RawPdfPath

from govrl.documents.pdffile import damage_errors

Trail = tuple[str | int, ...]  # keys and indices from the trailer, as RawPdfPath holds them
Below = list[tuple[Trail, generic.Reference]]  # what a subtree holds, by path from its top
# pyHanko's cache of usage paths on a HistoricalResolver, filled by its own walk when empty.
USAGE_CACHE = "_indirect_object_access_cache"
_BUSY: Any = object()  # a subtree being read: reaching it again is a cycle
_PAGES = ("/Root", "/Pages")
_STRUCTURE = ("/Root", "/StructTreeRoot")


class Usages:
    """The paths from the trailer to every object of a revision, exactly as pyHanko's
    difference analysis records them (``HistoricalResolver._load_reverse_xref_cache``),
    for each revision of one reader.

    pyHanko walks a subtree once per path to it. A subtree with no page tree node, no
    structure element and no cycle in it holds the same paths below it however it is
    reached, so it is read once; and once per document while no revision rewrote it.
    """

    def __init__(self, reader: PdfFileReader) -> None:
        self.reader = reader
        # (top, in the structure tree) -> (what it holds, the newest revision that wrote it)
        self.kept: dict[tuple[generic.Reference, bool], tuple[_Held, int]] = {}
        self.entries: dict[tuple[generic.Reference, Trail, bool], _Entry] = {}
        self.changes: dict[generic.Reference, int | None] = {}

    def last_change(self, ref: generic.Reference) -> int | None:
        """The last revision that wrote ``ref``; None when no revision did."""
        if ref not in self.changes:
            try:
                self.changes[ref] = self.reader.xrefs.get_last_change(ref)
            except KeyError:
                self.changes[ref] = None
        return self.changes[ref]

    def prime(self, view: HistoricalResolver) -> None:
        """Give ``view`` its usage paths unless it has them. On a document this walk cannot
        read, pyHanko's own walk is left to meet the damage and report it as it does."""
        if view.reader is not self.reader or getattr(view, USAGE_CACHE, False) is not None:
            return
        unreadable: tuple[type[BaseException], ...] = (
            *damage_errors(),
            AttributeError,
            RecursionError,
        )
        try:
            found = _Walk(self, view).paths()
        except unreadable:
            return
        setattr(view, USAGE_CACHE, found)

    def paths(self, view: HistoricalResolver) -> UsagePaths:
        """The usage paths of every object ``view`` reaches from its trailer."""
        return _Walk(self, view).paths()


class UsagePaths(Mapping[generic.Reference, set[RawPdfPath]]):
    """Each object's usage paths, made into pyHanko's path objects when asked for (pyHanko
    asks only for the few objects a revision rewrote): the paths the walk recorded one by
    one, and the subtrees it reached whole, each with the path it was reached by."""

    def __init__(
        self, trails: dict[generic.Reference, set[Trail]], reached: list[tuple[Trail, _Held]]
    ) -> None:
        self.trails = trails
        self.reached = reached
        self.made: dict[generic.Reference, set[RawPdfPath]] = {}
        self.refs: set[generic.Reference] | None = None

    def __getitem__(self, ref: generic.Reference) -> set[RawPdfPath]:
        if ref not in self.made:
            found = set(self.trails.get(ref, ()))
            for trail, held in self.reached:
                found.update((*trail, *rest) for rest in held.paths_to(ref))
            if not found:
                raise KeyError(ref)
            self.made[ref] = {RawPdfPath(*trail) for trail in found}
        return self.made[ref]

    def __bool__(self) -> bool:
        return bool(self.trails or self.reached)

    def __iter__(self) -> Iterator[generic.Reference]:
        return iter(self._refs())

    def __len__(self) -> int:
        return len(self._refs())

    def _refs(self) -> set[generic.Reference]:
        if self.refs is None:
            self.refs = set(self.trails).union(*(held.refs for _, held in self.reached))
        return self.refs


class _Held:
    """What pyHanko's walk records below an object: each object it reaches, by the path
    from that object."""

    def __init__(self, below: Below) -> None:
        self.below = below
        self.refs = frozenset(ref for _, ref in below)
        self.by_ref: dict[generic.Reference, list[Trail]] | None = None

    def paths_to(self, ref: generic.Reference) -> list[Trail]:
        if self.by_ref is None:
            self.by_ref = defaultdict(list)
            for trail, inner in self.below:
                self.by_ref[inner].append(trail)
        return self.by_ref.get(ref, [])


class _Walk:
    """One revision's walk; ``closed`` answers what a subtree holds, or None when the
    subtree must be walked path by path (it holds a page tree node, a structure element,
    or a cycle)."""

    def __init__(self, usages: Usages, view: HistoricalResolver) -> None:
        self.usages = usages
        self.view = view
        self.revision = view.revision
        self.pages = _page_tree(view)
        self.structure = _structure_tree(view)
        self.found: defaultdict[generic.Reference, set[Trail]] = defaultdict(set)
        self.reached: list[tuple[Trail, _Held]] = []
        self.below: dict[tuple[generic.Reference, bool], _Held | None] = {}
        self.last_change = usages.last_change

    def paths(self) -> UsagePaths:
        self.walk(self.view.trailer_view, (), frozenset(), False)
        return UsagePaths(self.found, self.reached)

    def resolve(self, ref: generic.Reference) -> Any:
        """The object as of this revision; read from the reader itself when no later
        revision rewrote it, so every revision shares one parsed copy."""
        changed = self.last_change(ref)
        if changed is not None and changed <= self.revision:
            return self.usages.reader.get_object(ref)  # type: ignore[no-untyped-call]
        return self.view.get_object(ref)

    def special(self, ref: generic.Reference) -> bool:
        return ref in self.pages or ref in self.structure

    def closed(self, ref: generic.Reference, structure: bool) -> _Held | None:
        key = (ref, structure)
        if key in self.below:
            found = self.below[key]
            return None if found is _BUSY else found
        if self.special(ref):
            self.below[key] = None
            return None
        kept = self.usages.kept.get(key)
        if kept is not None and kept[1] <= self.revision:
            held, _ = kept
            if not any(self.special(inner) for inner in held.refs):
                self.below[key] = held
                return held
        self.below[key] = _BUSY
        below: Below = []
        found = _Held(below) if self.gather(self.resolve(ref), (), structure, below) else None
        self.below[key] = found
        if found is not None:
            newest = self.newest([ref, *found.refs])
            if newest is not None and newest <= self.revision:
                self.usages.kept[key] = (found, newest)
        return found

    def newest(self, refs: list[generic.Reference]) -> int | None:
        """The last revision that wrote any of ``refs``; None when one has no known history."""
        changes = [self.last_change(ref) for ref in refs]
        known = [change for change in changes if change is not None]
        return max(known) if len(known) == len(changes) else None

    def gather(self, obj: Any, trail: Trail, structure: bool, held: Below) -> bool:
        """Add what ``obj`` holds to ``held``; False when it is not closed."""
        if isinstance(obj, generic.IndirectObject):
            ref = obj.reference
            inner = self.closed(ref, structure)
            if inner is None:
                return False
            held.append((trail, ref))
            held.extend(((*trail, *rest), deeper) for rest, deeper in inner.below)
            return True
        if isinstance(obj, generic.DictionaryObject):
            return all(
                self.gather(value, (*trail, key), structure, held)
                for key, value in obj.items()
                if not _skipped(key, structure)
            )
        if isinstance(obj, generic.ArrayObject):
            return all(
                self.gather(value, (*trail, index), structure, held)
                for index, value in enumerate(obj)
            )
        return True

    def walk(
        self, obj: Any, trail: Trail, seen: frozenset[generic.Reference], structure: bool
    ) -> None:
        """pyHanko's walk, step for step, except where what lies below an object is known:
        a closed subtree, or a page or catalog entry read in an earlier revision."""
        if isinstance(obj, generic.IndirectObject):
            ref = obj.reference
            if ref in seen:
                return
            self.found[ref].add(trail)
            if not self.known_below(ref, trail, seen, structure):
                self.enter(ref, trail, seen, structure)
        else:
            self.descend(obj, trail, seen, structure)

    def enter(
        self,
        ref: generic.Reference,
        trail: Trail,
        seen: frozenset[generic.Reference],
        structure: bool,
    ) -> None:
        if self.pages.get(ref, trail) != trail:
            return  # a page tree node is entered by its place in the tree only
        if not structure and ref in self.structure:
            return
        self.descend(self.resolve(ref), trail, seen | {ref}, structure)

    def descend(
        self, obj: Any, trail: Trail, seen: frozenset[generic.Reference], structure: bool
    ) -> None:
        if isinstance(obj, generic.DictionaryObject):
            for key, value in obj.items():
                if not _skipped(key, structure):
                    inside = structure or (key == "/K" and trail == _STRUCTURE)
                    self.walk(value, (*trail, key), seen, inside)
        elif isinstance(obj, generic.ArrayObject):
            for index, value in enumerate(obj):
                self.walk(value, (*trail, index), seen, structure)

    def known_below(
        self,
        ref: generic.Reference,
        trail: Trail,
        seen: frozenset[generic.Reference],
        structure: bool,
    ) -> bool:
        """Record at once what pyHanko's walk records below ``ref``, reached by ``trail``,
        when that is known; False to walk it."""
        if len(trail) > len(_STRUCTURE):
            inner = self.closed(ref, structure)
            if inner is not None:
                self.reached.append((trail, inner))
                return True
        page_in_place = self.pages.get(ref) == trail and trail != _PAGES
        catalog_entry = trail[:1] == ("/Root",) and len(trail) == 2
        if not page_in_place and (not catalog_entry or trail in (_PAGES, _STRUCTURE)):
            return False
        self.reached.append((trail, self.entry(ref, trail, seen, structure).held))
        return True

    def entry(
        self,
        ref: generic.Reference,
        trail: Trail,
        seen: frozenset[generic.Reference],
        structure: bool,
    ) -> _Entry:
        """What the walk records below a page or a catalog entry (the outline, the name
        trees), the same in every revision that reaches it the same way and rewrote none of
        it; read once while that holds."""
        key = (ref, trail, structure)
        kept = self.usages.entries.get(key)
        if (
            kept is not None
            and kept.seen == seen
            and kept.newest <= self.revision
            and kept.special == self.special_in(kept.held.refs | {ref})
        ):
            return kept
        outer = self.found, self.reached
        self.found, self.reached = defaultdict(set), []
        try:
            self.enter(ref, trail, seen, structure)
        finally:
            (walked, whole), (self.found, self.reached) = (self.found, self.reached), outer
        cut = len(trail)
        below = [(t[cut:], inner) for inner, ts in walked.items() for t in ts]
        below += [((*t[cut:], *rest), inner) for t, held in whole for rest, inner in held.below]
        held = _Held(below)
        newest = self.newest([ref, *held.refs])
        special = self.special_in(held.refs | {ref})
        entry = _Entry(held, seen, special, -1 if newest is None else newest)
        if newest is not None and newest <= self.revision:
            self.usages.entries[key] = entry
        return entry

    def special_in(self, refs: frozenset[generic.Reference]) -> dict[Any, Any]:
        """Where each of ``refs`` that is a page tree node sits, and which are structure
        elements: all the walk below an object depends on besides the objects themselves."""
        return {
            ref: (self.pages.get(ref), ref in self.structure) for ref in refs if self.special(ref)
        }


@dataclass(frozen=True)
class _Entry:
    """What pyHanko's walk records below a page or catalog entry, reached with ``seen`` on
    the path above it; where the page tree nodes and structure elements it reaches sit (the
    walk stops at them); and the newest revision that wrote any object it reaches."""

    held: _Held
    seen: frozenset[generic.Reference]
    special: dict[Any, Any]
    newest: int


def _skipped(key: str, structure: bool) -> bool:
    return key == "/Parent" or (structure and key == "/P")


def _page_tree(view: HistoricalResolver) -> dict[generic.Reference, Trail]:
    """Each page tree node and its place in the tree, as pyHanko maps them."""
    top = view.root.raw_get("/Pages")
    nodes: dict[generic.Reference, Trail] = {}
    if isinstance(top, generic.IndirectObject):
        nodes[top.reference] = _PAGES

    def kids(node: Any, trail: Trail) -> Any:
        for index, kid in enumerate(node["/Kids"]):
            place = (*trail, "/Kids", index)
            if isinstance(kid, generic.IndirectObject):
                yield kid.reference, place
            kid = kid.get_object()
            if kid.get("/Type", None) == "/Pages":
                yield from kids(kid, place)

    for ref, place in kids(top.get_object(), _PAGES):
        if ref in nodes:
            raise misc.PdfReadError("Circular reference in page tree in mapping stage")
        nodes[ref] = place
    return nodes


def _structure_tree(view: HistoricalResolver) -> set[generic.Reference]:
    """The structure elements under the structure tree root, as pyHanko collects them."""

    def elements(element: Any) -> Any:
        try:
            children = element["/K"]
        except KeyError:
            return
        if not isinstance(children, generic.ArrayObject):
            children = (children,)
        for child in children:
            ref = None
            if isinstance(child, generic.IndirectObject):
                ref = child.reference
                child = child.get_object()  # type: ignore[no-untyped-call]
            if not isinstance(child, generic.DictionaryObject):
                continue
            try:
                if child["/Type"] != "/StructElem":
                    continue
            except KeyError:
                pass
            if ref is not None:
                yield ref
            yield from elements(child)

    nodes: set[generic.Reference] = set()
    try:
        root = view.root.raw_get("/StructTreeRoot").get_object()
        for ref in elements(root):
            if ref in nodes:
                raise misc.PdfReadError("Circular reference in structure tree in mapping stage")
            nodes.add(ref)
    except KeyError:
        pass
    return nodes
