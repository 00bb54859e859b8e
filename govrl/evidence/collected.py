"""One entry collected for the record, and what a collection pass yields."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from govrl.evidence.interface import Point, RunEvidence


def slug(parts: tuple[str, ...]) -> str:
    """A record id from key segments: lower case, runs of other characters as '-'."""
    return re.sub(r"[^a-z0-9.:@]+", "-", "-".join(parts).lower()).strip("-.:@")


def label(section: str, identity: tuple[str, ...]) -> str:
    return f"evaluation.{section}" + (f"[{'/'.join(identity)}]" if identity else "")


@dataclass
class Collected:
    """One entry for the record, before it meets what the record already holds."""

    section: str
    identity: tuple[str, ...]
    data: dict[str, Any]  # evidence fields, provenance, and descriptive fields the source gave
    defaults: dict[str, Any]  # descriptive fields for when neither source nor record has them
    origin: str
    points: list[Point] | None = None  # summarised once the direction is settled
    value_from: str = "last"
    sources: dict[str, str] = field(default_factory=dict)  # evidence field -> where it was read
    run: RunEvidence | None = None  # the run it was read from; None when several gave it
    samples: list[float] | None = None  # what govrl computed the value from, one per `unit`
    unit: str | None = None  # "episode" or "seed"

    @property
    def label(self) -> str:
        return label(self.section, self.identity)


@dataclass
class Harvest:
    entries: list[Collected] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
