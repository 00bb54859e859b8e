"""A copy of the archive on the MLflow run of the model it approves, and its check.

The archive itself stays a folder: its log needs an append and its writers a
lock, and artifact stores (local, S3, Azure, GCS behind MLflow) offer neither.
`push` brings the copy under ``govrl-archive/`` on the model version's source
run up to date with the folder, so the signed approvals and their chain sit
next to the model wherever the organisation keeps its artifacts; `pull`
fetches the copy so that `archive verify` can check it as it checks a folder.

A push only ever extends the copy. Objects go first, then the log, then HEAD, then the
tree's state and its checkpoints, so a push cut short leaves a copy whose newest entries
are not yet under its HEAD or checkpoint (which verify reports) and which the next push
completes. A copy whose log
is not the beginning of the folder's log was changed, or pushed from another
archive, and is refused.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govrl.archive.checkpoint import CHECKPOINTS
from govrl.archive.log import FORMAT_KEY, HEAD, LOG, Head, Line, split_log
from govrl.archive.store import Archive
from govrl.archive.tree import TREE
from govrl.errors import GovrlError

if TYPE_CHECKING:
    from govrl.evidence.interface import ModelRef
    from govrl.evidence.mlflow import MlflowSource

FOLDER = "govrl-archive"


class ReplicaDiverged(GovrlError):
    """The copy on MLflow is not an earlier state of this archive."""


@dataclass(frozen=True)
class PushResult:
    run_id: str
    entries: int  # in the copy after the push
    new_entries: int
    objects: int  # uploaded by this push
    head: str  # SEQ:sha256:HEX, as `archive verify --expect-head` takes it

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "folder": FOLDER,
            "entries": self.entries,
            "new_entries": self.new_entries,
            "objects_uploaded": self.objects,
            "head": self.head,
        }


def _remote_log(source: MlflowSource, run_id: str) -> bytes:
    if LOG not in source.artifact_names(run_id, FOLDER):
        return b""
    with tempfile.TemporaryDirectory() as tmp:
        return source.download(run_id, f"{FOLDER}/{LOG}", Path(tmp)).read_bytes()


def _objects(line: Line) -> list[str]:
    return list(line.entry.object_keys().values()) if line.entry is not None else []


def push(archive: Archive, source: MlflowSource, model: ModelRef) -> PushResult:
    """Extend the copy on ``model``'s source run to match ``archive``; refuse a damaged one."""
    from govrl.archive.check import verify_store

    report = verify_store(archive, signatures=False)  # hashes, chain and head
    if not report.ok:
        raise ReplicaDiverged(
            f"{archive.where()}: the archive does not verify, so it is not copied",
            hint="run `govrl archive verify` to see what is wrong",
        )
    storage = archive.storage
    run_id = source.source_run(model)
    with storage.locked():  # no add may move the log while it is copied
        log, head = storage.read(LOG), storage.read(HEAD)
        kept = {key: storage.read(key) for key in (TREE, CHECKPOINTS) if storage.exists(key)}
        remote = _remote_log(source, run_id)
        if not log.startswith(remote):
            raise ReplicaDiverged(
                f"the archive copy on run {run_id} ({FOLDER}/{LOG}) is not an earlier state "
                f"of {archive.where()}: it was changed, or pushed from another archive",
                hint="verify it with `govrl archive verify --tracking-uri ... --model ...`",
            )
        lines = split_log(log)
        old = len(split_log(remote))
        copied = {key for line in lines[:old] for key in _objects(line)}
        # A record or policy shared by several entries goes up once.
        keys = [key for line in lines[old:] for key in _objects(line) if key not in copied]
        keys = list(dict.fromkeys(keys))
        if not remote and storage.exists(FORMAT_KEY):
            keys.insert(0, FORMAT_KEY)
        with tempfile.TemporaryDirectory() as tmp:
            files = []
            for key in [*keys, LOG, HEAD, *kept]:
                folder, _, name = f"{FOLDER}/{key}".rpartition("/")
                local = Path(tmp) / key
                local.parent.mkdir(parents=True, exist_ok=True)
                fixed = {LOG: log, HEAD: head, **kept}
                local.write_bytes(fixed[key] if key in fixed else storage.read(key))
                files.append((local, folder))
            source.upload(run_id, files)
    recorded = Head.decode(head)
    return PushResult(
        run_id, len(lines), len(lines) - old, len(keys), f"{recorded.sequence}:{recorded.hash}"
    )


def pull(source: MlflowSource, model: ModelRef, into: Path) -> tuple[str, Archive]:
    """Download the copy on ``model``'s source run into ``into``, as an archive to verify."""
    from govrl.errors import InputError, Problem

    run_id = source.source_run(model)
    if not source.artifact_names(run_id, FOLDER):
        raise InputError(
            [Problem(f"run {run_id} of model {model} holds no archive copy", f"{FOLDER}/")]
        )
    folder = source.download(run_id, FOLDER, into)
    return run_id, Archive.at(folder)
