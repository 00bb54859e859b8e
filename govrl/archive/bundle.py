"""The regulator's bundle: one system's documents, records, log entries and chain, in a zip,
with the archive's latest signed checkpoint and the proofs that tie the entries to it."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from govrl.archive.check import verify_store
from govrl.archive.checkpoint import Checkpoint
from govrl.archive.log import LOG, Entry, now_utc
from govrl.archive.manifest import (
    CHECKPOINT,
    FORMAT,
    MANIFEST,
    PROOFS,
    README,
    SUMS,
    VERSION,
    BundleEntry,
    HeadRef,
    Manifest,
    Proofs,
)
from govrl.archive.proofs import ProofMismatch, build_proofs
from govrl.archive.store import Archive, ArchiveDamaged
from govrl.archive.tree import latest_checkpoint
from govrl.atomicfile import write_atomic
from govrl.documents.pdffile import INFO_DIGEST, RECORD_ATTACHMENT
from govrl.errors import GovrlError
from govrl.record.identity import digest_of


class NothingToExport(GovrlError):
    """The archive holds no entry for the system asked for."""


@dataclass(frozen=True)
class ExportResult:
    output: Path
    system: str
    entries: int
    files: int
    size: int


def export(archive: Archive, system: str, output: Path, *, exported_by: str) -> ExportResult:
    """Write one system's bundle to ``output`` atomically; refuse from a damaged archive."""
    archive.require()
    report = verify_store(archive, signatures=False)
    if not report.ok:
        raise ArchiveDamaged(
            f"{archive.where()}: not exporting from a damaged archive: "
            + "; ".join(str(f) for f in report.errors[:3])
            + (f" (and {len(report.errors) - 3} more)" if len(report.errors) > 3 else ""),
            hint="`govrl archive verify` lists every problem",
        )
    with archive.storage.locked():
        head, _ = archive.checked_head()
        lines = archive.lines()[: head.sequence]
        checkpoint = latest_checkpoint(archive.storage)
    named = [
        line.entry.system.id
        for line in lines
        if line.entry is not None and system in (line.entry.system.id, line.entry.system.name)
    ]
    if not named:
        known = sorted({line.entry.system.id for line in lines if line.entry is not None})
        raise NothingToExport(
            f"{archive.where()}: no archived document for system {system!r}",
            hint="archived systems: " + (", ".join(known) or "none"),
        )
    system_id = named[0]
    chosen = [
        (line.raw, line.entry)
        for line in lines
        if line.entry is not None and line.entry.system.id == system_id
    ]
    if checkpoint is None or (checkpoint.body.tree_size, checkpoint.body.head) != (
        head.sequence,
        head.hash,
    ):
        covered = f"covers {checkpoint.body.tree_size}" if checkpoint else "is missing"
        raise ArchiveDamaged(
            f"{archive.where()}: not exporting: the latest checkpoint {covered}, the log holds "
            f"{head.sequence} entries, so the bundle could not prove what it holds",
            hint="`govrl archive checkpoint --archive-key KEY --archive-cert CERT` writes one",
        )
    try:
        proofs = build_proofs([line.raw for line in lines], system_id, checkpoint)
    except ProofMismatch as exc:
        raise ArchiveDamaged(f"{archive.where()}: not exporting: {exc}") from None
    chain = [line.hash for line in lines]
    data = build_bundle(
        archive.storage.read,
        chosen,
        chain,
        system_id,
        exported_by,
        output.name,
        checkpoint=checkpoint,
        proofs=proofs,
    )
    write_atomic(output, data)
    with zipfile.ZipFile(io.BytesIO(data)) as written:
        count = len(written.namelist())
    return ExportResult(output, chosen[0][1].system.id, len(chosen), count, len(data))


def build_bundle(
    read: Callable[[str], bytes],
    lines: list[tuple[bytes, Entry]],
    chain: list[str],
    system: str,
    exported_by: str,
    file_name: str = "bundle.zip",
    *,
    checkpoint: Checkpoint,
    proofs: Proofs,
) -> bytes:
    """The zip's bytes for these log lines; ``chain`` is every entry's hash up to HEAD, which
    ``checkpoint`` covers and ``proofs`` ties the lines to."""
    files: dict[str, bytes] = {}
    for _, entry in lines:
        for key in entry.object_keys().values():
            files.setdefault(key, read(key))
    files[LOG] = b"".join(raw + b"\n" for raw, _ in lines)
    files[CHECKPOINT] = checkpoint.encode() + b"\n"
    files[PROOFS] = proofs.model_dump_json().encode() + b"\n"
    manifest_entries = [
        BundleEntry(
            sequence=e.sequence,
            version=e.system.version,
            kind=e.document.kind,
            verdict=e.verdict,
            valid_until=e.valid_until,
            **e.object_keys(),
        )
        for _, e in lines
    ]
    head = HeadRef(sequence=len(chain), hash=chain[-1])
    exported_at = now_utc()
    files[README] = readme(
        system, [e for _, e in lines], head, exported_at, file_name, checkpoint
    ).encode()
    manifest = Manifest(
        format=FORMAT,
        version=VERSION,
        system=system,
        exported_at=exported_at,
        exported_by=exported_by,
        head=head,
        chain=chain,
        entries=manifest_entries,
        files={name: digest_of(data) for name, data in sorted(files.items())},
    )
    files[MANIFEST] = manifest.model_dump_json(indent=2).encode() + b"\n"
    files[SUMS] = b"".join(
        f"{digest_of(data).removeprefix('sha256:')}  {name}\n".encode()
        for name, data in sorted(files.items())
    )
    stamp = dt.datetime.fromisoformat(exported_at.replace("Z", "+00:00")).timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        fixed = (README, MANIFEST, SUMS, LOG, CHECKPOINT, PROOFS)
        for name in (*fixed, *sorted(k for k in files if "/" in k)):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])
    return out.getvalue()


def readme(
    system: str,
    entries: list[Entry],
    head: HeadRef,
    exported_at: str,
    file_name: str,
    checkpoint: Checkpoint,
) -> str:
    """The receiver's instructions, with this bundle's facts filled in."""
    rows = "\n".join(
        f"  {e.sequence:>6}  {e.added_at[:10]}  {e.system.version or '?':<12} "
        f"{e.document.kind or '?':<11} {e.verdict or '?':<22} {e.valid_until or '?':<10}  "
        f"{', '.join(s.role for s in e.signers) or 'unsigned'}\n"
        f"          document {e.object_keys()['document']}  ({e.document.file_name})\n"
        f"          record   {e.object_keys()['record']}"
        + (
            f"\n          WITHDRAWS entry {e.withdraws.sequence}: {e.withdraws.reason}"
            if e.withdraws
            else ""
        )
        for e in entries
    )
    title = f"govrl archive bundle for system {system}"
    return _README.format(
        title=title,
        underline="=" * len(title),
        bundle=file_name,
        exported_at=exported_at,
        count=len(entries),
        rows=rows,
        head_sequence=head.sequence,
        head_hash=head.hash,
        tree_size=checkpoint.body.tree_size,
        root_hash=checkpoint.body.root_hash,
        attachment=RECORD_ATTACHMENT,
        digest_key=INFO_DIGEST,
    )


_README = """\
{title}
{underline}

Exported {exported_at} from a govrl archive. It holds {count} archived
document(s) for this system: the signed PDFs exactly as archived, the
assessment record embedded in each ({attachment}, RFC 8785 canonical JSON),
the policy each was checked against, and the archive log entries for them.

  entry   added       version      kind        verdict                valid until signed by
{rows}

The archive's chain head when this bundle was made: entry {head_sequence},
{head_hash}
checkpoint.json is the archive's signed statement of its Merkle tree of those
{tree_size} entries, whose root is
{root_hash}
Keep it: checking the next bundle against it (--expect-checkpoint below) proves
that nothing archived by then was removed or rewritten since. proofs.json
proves that each entry here is in that tree, and that this bundle holds every
entry of the system up to it.

Files
-----
  README.txt    this text
  manifest.json what the bundle holds: every file's SHA-256, the entries, and
                the hash of every entry of the archive up to the head ("chain")
  SHA256SUMS    the same digests in the format `sha256sum -c` reads
  log.jsonl     this system's entries from the archive log, one JSON object per
                line, exactly as the archive holds them
  checkpoint.json
                the archive's checkpoint: tree size, root hash, system index
                digest, time; signed with the archive key, whose certificate
                it carries
  proofs.json   the leaf hash of every entry up to the checkpoint, an inclusion
                proof (RFC 9162) for each entry here, and the system's row of
                the checkpoint's system index (its entry count)
  objects/sha256/ab/cdef...
                documents (PDF), records (JSON) and policies (YAML), each named
                by the SHA-256 of its content: "ab" + "cdef..." is the digest

Checking with govrl
-------------------
  govrl archive verify {bundle} --trust ORGANISATION-CA.pem \\
      --policy POLICY.yaml
  govrl archive verify {bundle} --trust ORGANISATION-CA.pem \\
      --policy POLICY.yaml --expect-checkpoint checkpoint.json-FROM-AN-EARLIER-BUNDLE

It refuses to read any member with an unsafe path or an oversized content,
checks the checkpoint's signature and every entry's inclusion proof, counts
the system's entries against the checkpoint, re-hashes every file, checks
each entry against the chain and the chain against the head, and re-verifies
every signature in every PDF: each signer's
certificate must chain to the CA certificate you trust (obtained from the
organisation by a channel other than this bundle), judged as of the time each
signature was made, and expiry as of the day each document was archived.
Without --trust ($GOVRL_TRUST, or a govrl.toml naming [trust] anchors) it
refuses to judge the signatures. Each entry must have been decided under a
policy you pin with --policy (the policy files the organisation approved,
obtained like the CA certificate); with none pinned the documents fail. It
exits 0 when all holds and 1 otherwise, naming each file or entry that is
wrong.

Checking by hand
----------------
1. Every file is intact:
     unzip {bundle} -d bundle && cd bundle && sha256sum -c SHA256SUMS
2. Every object is what its name says: for each file objects/sha256/AB/CDEF...
     sha256sum objects/sha256/AB/CDEF...    (must print ABCDEF...)
3. Every entry is the one the archive chained: the hash of an entry is the
   SHA-256 of its line in log.jsonl without the newline. For line N:
     sed -n 'Np' log.jsonl | tr -d '\\n' | sha256sum
   must equal "chain"[sequence - 1] in manifest.json (sequence is the entry's
   "sequence"), and the entry's "prev" must equal "chain"[sequence - 2]
   (or sha256:000...0 for entry 1). The last "chain" value is the head above.
4. Each record is the one that was approved: the record's file name is its
   SHA-256, which the PDF shows on its pages, stores in its metadata
   ({digest_key}) and every reviewer's signature names in its reason.
5. The signatures are valid: open each PDF in a PAdES-capable validator (for
   example `pdfsig FILE` from poppler, or Adobe Acrobat) and check every
   signature is valid and covers the document up to its last signature.
6. The tree, the proofs, the count and the checkpoint's signature: govrl's
   docs/archive.md ("Checking a bundle by hand") gives a short Python script
   and the openssl commands that check them.
"""
