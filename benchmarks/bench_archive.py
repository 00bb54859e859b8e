"""How `govrl archive verify` scales: hashes and chain for 1,000 and 10,000 entries, and
the per-entry cost of re-verifying signatures.

Run by hand: `.venv/bin/python benchmarks/bench_archive.py [--big 10000] [--signed 100]`.
The store is built directly in the archive's format (objects, log, HEAD) from one
real approval signed by three reviewers, made distinct per entry by a trailing
comment, so every entry has its own ~110 kB document to hash. Files are fresh in
the page cache; a cold disk adds its read time.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

POLICY = ROOT / "tests" / "data" / "policy-three-signers.yaml"
ROLES = ["owner", "domain-expert", "independent-validator"]


def signed_approval(folder: Path) -> Path:
    """One tier-3 approval, rendered and signed by three reviewers, as in the tests."""
    from govrl.documents import keys
    from govrl.documents.pdffile import open_pdf
    from govrl.documents.render import Kind, render
    from govrl.documents.signing import sign_pdf
    from govrl.record import AssessmentRecord
    from govrl.review.checklist import ChecklistLibrary
    from govrl.review.policy import load_policy
    from tests.support.pki import PASSPHRASE, make_pki
    from tests.support.records import record_data
    from tests.test_archive import _with_validity

    policy, library = load_policy(POLICY), ChecklistLibrary.discover()
    record = AssessmentRecord.model_validate(record_data(3))
    current = folder / "approval.pdf"
    current.write_bytes(render(record, kind=Kind.APPROVAL, policy=policy, library=library).content)
    if open_pdf(current).valid_until is None:
        current.write_bytes(_with_validity(current.read_bytes()))
    pki = make_pki(folder / "pki")
    for n, role in enumerate(ROLES):
        reviewer = pki.reviewer(f"Reviewer {role}", role)
        creds = keys.load_credentials(reviewer.key, reviewer.cert, PASSPHRASE)
        out = folder / f"signed-{n}.pdf"
        sign_pdf(current, out, creds, role, policy=policy, library=library)
        current = out
    return current


def build_store(store: Path, approval: Path, count: int) -> None:
    """``count`` entries, each with its own document, chained as `archive add` chains them."""
    from govrl.archive import Archive, PolicyFile
    from govrl.archive.log import Head, object_key
    from govrl.record.identity import digest_of

    template = Archive.at(store).add(approval, policy=PolicyFile.load(POLICY)).entry
    base = approval.read_bytes()
    lines = [store.joinpath("log.jsonl").read_bytes().rstrip(b"\n")]
    prev = digest_of(lines[0])
    for n in range(2, count + 1):
        data = base + f"%entry {n}\n".encode()
        digest = digest_of(data)
        path = store / object_key(digest)
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        document = template.document.model_copy(
            update={"digest": digest, "size": len(data), "file_name": f"approval-{n}.pdf"}
        )
        entry = template.model_copy(update={"sequence": n, "prev": prev, "document": document})
        line = entry.encode()
        lines.append(line)
        prev = digest_of(line)
    store.joinpath("log.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    store.joinpath("HEAD").write_bytes(Head(count, prev).encode())


def timed_verify(store: Path, signatures: bool) -> float:
    from govrl.archive import Archive, verify_store

    start = time.perf_counter()
    report = verify_store(Archive.at(store), signatures=signatures)
    elapsed = time.perf_counter() - start
    assert report.ok and not report.warnings, [str(f) for f in report.findings[:5]]
    return elapsed


def timed_adds(folder: Path, approval: Path, count: int) -> float:
    """Seconds per `add` through the real path: open, verify, lock, write, fsync."""
    from govrl.archive import Archive, PolicyFile

    base = approval.read_bytes()
    paths = []
    for n in range(count):
        path = folder / f"copy-{n}.pdf"
        path.write_bytes(base + f"%copy {n}\n".encode())
        paths.append(path)
    archive, policy = Archive.at(folder / "add-store"), PolicyFile.load(POLICY)
    start = time.perf_counter()
    for path in paths:
        archive.add(path, policy=policy)
    return (time.perf_counter() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--big", type=int, default=10000)
    parser.add_argument("--signed", type=int, default=100)
    parser.add_argument("--adds", type=int, default=100)
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="govrl-bench-archive-"))
    try:
        approval = signed_approval(folder)
        print(f"document: {approval.stat().st_size / 1000:.0f} kB approval, three signatures")
        rows = []
        for count in (options.small, options.big):
            store = folder / f"store-{count}"
            start = time.perf_counter()
            build_store(store, approval, count)
            built = time.perf_counter() - start
            seconds = timed_verify(store, signatures=False)
            rows.append((count, seconds))
            print(
                f"verify --no-signatures  {count:>6} entries  {seconds:7.2f} s  "
                f"({seconds / count * 1000:.2f} ms/entry; store built in {built:.1f} s)"
            )
            shutil.rmtree(store)
        (n1, t1), (n2, t2) = rows
        print(f"  scaling: {n2 / n1:.0f}x the entries took {t2 / t1:.1f}x the time")
        store = folder / "store-signed"
        build_store(store, approval, options.signed)
        seconds = timed_verify(store, signatures=True)
        per = seconds / options.signed
        print(
            f"verify (signatures)     {options.signed:>6} entries  {seconds:7.2f} s  "
            f"({per * 1000:.1f} ms/entry; {options.big} entries ~ {per * options.big / 60:.1f} min)"
        )
        per_add = timed_adds(folder, approval, options.adds)
        print(f"add (verify + fsync)    {options.adds:>6} documents {per_add * 1000:6.1f} ms/add")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
