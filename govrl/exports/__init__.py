"""Exports of a record for where people already look, in one table the command line loops over.

Each exporter's module loads only when it runs, so listing them costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from govrl.record import AssessmentRecord


@dataclass(frozen=True)
class Exporter:
    """One export target: its name on the command line, what it writes, and where its code is."""

    name: str
    summary: str
    output: str
    function: str  # "module:function", taking a record and returning the file's text

    def write(self, record: AssessmentRecord) -> str:
        module, _, function = self.function.partition(":")
        text: str = getattr(import_module(module), function)(record)
        return text


EXPORTERS = (
    Exporter(
        "hf",
        "A Hugging Face model card whose model-index carries the evaluation results.",
        "README.md",
        "govrl.exports.hf:hf_card",
    ),
    Exporter(
        "cyclonedx",
        "A CycloneDX 1.6 ML-BOM: the model component's modelCard, and its data sets.",
        "the BOM JSON",
        "govrl.exports.cyclonedx:cyclonedx_json",
    ),
)


def exporter(name: str) -> Exporter:
    """The exporter called ``name``."""
    return next(e for e in EXPORTERS if e.name == name)
