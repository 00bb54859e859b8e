"""The tamper-evident archive: signed documents kept by content address, chained in a log.

``Archive`` adds and lists, ``verify_store`` and ``verify_bundle`` check, and
``export`` writes one system's bundle for a regulator. Storage goes through
``Storage`` (a folder, or a bundle read in place); ``replica`` keeps a copy of
the folder on the model's MLflow run.
"""

from govrl.archive.bundle import ExportResult, export
from govrl.archive.check import verify_bundle, verify_store
from govrl.archive.log import Entry, Head
from govrl.archive.policies import Pins, PolicyFile, PolicyRefused
from govrl.archive.report import ArchiveReport, Finding
from govrl.archive.storage import DirectoryStorage, Storage, ZipStorage
from govrl.archive.store import (
    DEFAULT_STORE,
    STORE_ENV,
    AddResult,
    Archive,
    ArchiveDamaged,
    DocumentRefused,
)

__all__ = [
    "DEFAULT_STORE",
    "STORE_ENV",
    "AddResult",
    "Archive",
    "ArchiveDamaged",
    "ArchiveReport",
    "DirectoryStorage",
    "DocumentRefused",
    "Entry",
    "ExportResult",
    "Finding",
    "Head",
    "Pins",
    "PolicyFile",
    "PolicyRefused",
    "Storage",
    "ZipStorage",
    "export",
    "verify_bundle",
    "verify_store",
]
