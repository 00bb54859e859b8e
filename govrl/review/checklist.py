"""Risk checklists: the questions, their severities and tiers, and where they come from."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import Field, StrictBool, model_validator
from pydantic_core import PydanticCustomError

from govrl.errors import InputError, Problem, UsageError
from govrl.record.base import Identifier, Name, StrictModel, Text, unique_by
from govrl.resources import data_dir
from govrl.vocabulary import Domain, Framework, RiskTier, Severity
from govrl.yamlio import load
from govrl.yamlmodel import validate_document

GENERAL_ID = "general-rl"
PATH_VARIABLE = "GOVRL_CHECKLIST_PATH"
SectionId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]


class FrameworkRef(StrictModel):
    """A pointer from an item into a framework, and whether the reference was checked."""

    framework: Framework
    ref: Name
    verified: StrictBool

    @property
    def label(self) -> str:
        return f"{self.framework.value} {self.ref}"


class Section(StrictModel):
    id: SectionId
    title: Name


class Item(StrictModel):
    id: Identifier
    section: SectionId
    question: Text
    evidence: Text
    severity: Severity
    severity_by_tier: dict[RiskTier, Severity] = Field(default_factory=dict)
    tiers: list[RiskTier] = Field(min_length=1)
    mappings: list[FrameworkRef] = Field(min_length=1)

    @model_validator(mode="after")
    def _overrides_within_tiers(self) -> Item:
        stray = sorted(int(t) for t in self.severity_by_tier if t not in self.tiers)
        if stray:
            raise PydanticCustomError(
                "tier_override",
                "severity_by_tier names tier(s) {stray} that the item does not apply to",
                {"stray": ", ".join(map(str, stray)), "field": "severity_by_tier"},
            )
        return self

    def applies_to(self, tier: RiskTier) -> bool:
        return tier in self.tiers

    def severity_at(self, tier: RiskTier) -> Severity:
        return self.severity_by_tier.get(tier, self.severity)


class Checklist(StrictModel):
    id: Identifier
    version: Name
    title: Name
    description: Text
    domain: Domain | None = None
    sections: Annotated[list[Section], unique_by("section ids", "id")] = Field(min_length=1)
    items: Annotated[list[Item], unique_by("item ids", "id")] = Field(min_length=1)

    @model_validator(mode="after")
    def _items_in_sections(self) -> Checklist:
        known = {s.id for s in self.sections}
        problems = [
            (f"items[{n}].section", f"unknown section {item.section!r}")
            for n, item in enumerate(self.items)
            if item.section not in known
        ]
        if problems:
            raise PydanticCustomError(
                "cross_field", "; ".join(m for _, m in problems), {"problems": problems}
            )
        return self

    def item(self, item_id: str) -> Item:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def section_title(self, section_id: str) -> str:
        return next(s.title for s in self.sections if s.id == section_id)

    def applicable(self, tier: RiskTier) -> list[Item]:
        return [item for item in self.items if item.applies_to(tier)]


def load_checklist(path: Path) -> Checklist:
    """Load and validate one checklist file."""
    checklist = validate_document(Checklist, load(path), "checklist")
    if checklist.id != path.stem:
        raise InputError(
            [
                Problem(
                    f"id {checklist.id!r} must match the file name {path.stem!r}",
                    str(path),
                    None,
                    "id",
                )
            ]
        )
    return checklist


@dataclass
class ChecklistLibrary:
    """Every checklist govrl can see: the shipped ones, then the user's folders."""

    checklists: dict[str, Checklist]
    origins: dict[str, Path]

    @classmethod
    def discover(cls, extra_dirs: Iterable[Path] = ()) -> ChecklistLibrary:
        """Shipped checklists, then ``$GOVRL_CHECKLIST_PATH``, then ``extra_dirs``.

        A later folder may not redefine an id an earlier one already has: two
        different questions under one id would make answers ambiguous.
        """
        folders = [data_dir("checklists")]
        env = os.environ.get(PATH_VARIABLE, "")
        folders += [Path(p) for p in env.split(os.pathsep) if p]
        folders += list(extra_dirs)
        checklists: dict[str, Checklist] = {}
        origins: dict[str, Path] = {}
        for folder in folders:
            if not folder.is_dir():
                raise UsageError(f"{folder}: checklist folder does not exist")
            for path in sorted(folder.glob("*.yaml")):
                checklist = load_checklist(path)
                if checklist.id in checklists:
                    raise InputError(
                        [
                            Problem(
                                f"checklist {checklist.id!r} is already defined in "
                                f"{origins[checklist.id]}",
                                str(path),
                                None,
                                "id",
                            )
                        ]
                    )
                checklists[checklist.id] = checklist
                origins[checklist.id] = path
        return cls(checklists, origins)

    def __iter__(self) -> Iterator[Checklist]:
        return iter(self.checklists.values())

    def get(self, checklist_id: str) -> Checklist:
        try:
            return self.checklists[checklist_id]
        except KeyError:
            known = ", ".join(sorted(self.checklists)) or "none"
            raise UsageError(f"no checklist {checklist_id!r} (known: {known})") from None

    def for_domain(self, domain: Domain) -> list[Checklist]:
        """The general checklist plus the domain's own pack, if there is one."""
        chosen = [self.get(GENERAL_ID)] if GENERAL_ID in self.checklists else []
        chosen += [c for c in self if c.domain is domain and c.id != GENERAL_ID]
        return chosen
