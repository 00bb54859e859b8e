"""How `govrl archive add` and `archive verify --no-signatures` scale: 10, 1,000 and 100,000
entries, each with its own document, every entry under a signed checkpoint.

Run by hand: `.venv/bin/python benchmarks/bench_archive.py [--sizes 10 1000 100000]`.
Stores are built in the archive's own format, fast: one distinct 2 kB stand-in document
per entry (so that hashing documents does not hide the log's own cost), the log, HEAD,
tree.json and one signed checkpoint per entry, as one add per entry leaves them. An add
is then timed through the archive's commit (lock, intent, objects, log, HEAD, tree state,
signed checkpoint, every fsync), without the PDF verification that precedes it in
`archive add` (about 130 ms in-process for the grid example's signed approval, 8
pages and four signatures, whatever the archive's size; 10,000 entries re-verified
with signatures would take about 21 minutes on one core).
Files are fresh in the page cache; a cold disk adds its read time.

`--real 10 100` (or `--quick`: 10 and 30) measures `archive verify` with signatures on real
approvals instead: the grid example's approval (four signature fields) signed by three
roles once, then by the fourth once per entry, so that every entry is a distinct, fully
signed approval; each is archived with `Archive.add` (verified, as `archive add` does),
and the store re-verified with every signature, interleaved with bare pyHanko validating
the same documents' signatures one after another in this process. Larger sizes are
extrapolated from the per-entry cost, and the output says so.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSPHRASE = b"benchmark passphrase"
EXAMPLE = ROOT / "examples" / "grid-frequency-control.yaml"
GRID_POLICY = ROOT / "examples" / "policies" / "grid.yaml"
DOCUMENT = 2000


def archive_signer(folder: Path) -> tuple[Any, list[Any]]:
    """An archive key issued by a fresh CA, and that CA as the trust anchor."""
    from govrl.archive.checkpoint import CheckpointSigner
    from govrl.documents import keys

    ca = keys.new_ca("Bench CA", folder / "ca", PASSPHRASE)
    issuer = keys.load_credentials(ca.key, ca.cert, PASSPHRASE)
    files = keys.new_reviewer("Bench archive", "archive", folder, PASSPHRASE, issuer=issuer)
    creds = keys.load_credentials(files.key, files.cert, PASSPHRASE)
    return CheckpointSigner.from_credentials(creds, "bench"), keys.load_certificates(ca.cert)


def entry(sequence: int, prev: str, system: str) -> tuple[Any, dict[str, bytes]]:
    """An entry for a stand-in document of DOCUMENT bytes, with a shared record and policy."""
    from govrl.archive.log import Entry, now_utc, object_key
    from govrl.record.identity import digest_of

    doc = f"%PDF-1.7 stand-in {sequence}\n".encode().ljust(DOCUMENT, b"%")
    rec, pol = b'{"record": 1}', b"policy: bench\n"
    data = {
        "sequence": sequence,
        "prev": prev,
        "added_at": now_utc(),
        "added_by": "bench@host",
        "document": {
            "digest": digest_of(doc),
            "size": len(doc),
            "kind": "approval",
            "file_name": f"approval-{sequence}.pdf",
        },
        "record": {"digest": digest_of(rec), "size": len(rec)},
        "policy": {"digest": digest_of(pol), "size": len(pol), "id": "bench", "version": "1"},
        "system": {"id": system, "name": None, "version": "1.0.0", "risk_tier": 3},
        "verdict": "approve",
        "valid_until": "2099-01-01",
        "signers": [{"role": "owner", "signer": "Olive Owner", "signed_at": None}],
        "verification": {"checked": True, "ok": True, "trust_checked": True, "problems": []},
    }
    return Entry.model_validate(data), {object_key(digest_of(d)): d for d in (doc, rec, pol)}


def build_store(store: Path, count: int, signer: Any) -> None:
    """``count`` entries written as ``count`` adds would leave them, without the adds."""
    from govrl.archive.checkpoint import CHECKPOINTS
    from govrl.archive.log import FORMAT_KEY, FORMAT_TEXT, GENESIS, HEAD, LOG, Head
    from govrl.archive.tree import TREE, Tree, new_origin
    from govrl.record.identity import digest_of

    store.mkdir(parents=True)
    (store / FORMAT_KEY).write_bytes(FORMAT_TEXT)
    tree = Tree(new_origin())
    prev, lines, checkpoints = GENESIS, [], []
    for n in range(1, count + 1):
        made, objects = entry(n, prev, f"system-{n % 7}")
        for key, data in objects.items():
            path = store / key
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        line = made.encode()
        lines.append(line + b"\n")
        tree.append(line, made.system.id)
        checkpoints.append(signer.sign(tree.body()).encode() + b"\n")
        prev = digest_of(line)
    (store / LOG).write_bytes(b"".join(lines))
    (store / HEAD).write_bytes(Head(count, prev).encode())
    (store / TREE).write_bytes(tree.encode())
    (store / CHECKPOINTS).write_bytes(b"".join(checkpoints))


def timed_verify(store: Path, trust: list[Any]) -> float:
    from govrl.archive import Archive, verify_store

    start = time.perf_counter()
    report = verify_store(Archive.at(store), signatures=False, trust=trust)
    elapsed = time.perf_counter() - start
    assert report.ok and not report.warnings, [str(f) for f in report.findings[:5]]
    return elapsed


def timed_adds(store: Path, signer: Any, adds: int) -> float:
    """Median seconds per add through the archive's commit: the same path `archive add` takes
    once the PDF has been verified."""
    from govrl.archive import Archive

    archive = Archive.at(store)
    times = []
    for _ in range(adds):
        start = time.perf_counter()
        with archive.storage.locked():
            head, _ = archive.checked_head()
            made, objects = entry(head.sequence + 1, head.hash, "system-new")
            archive._commit(made, objects, signer)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def signed_approvals(folder: Path, count: int) -> tuple[list[Path], list[Any], Any]:
    """``count`` distinct approvals of the grid example, each signed by all four roles;
    the trust anchors; the policy file."""
    import datetime as dt

    from govrl.archive import PolicyFile
    from govrl.documents import keys
    from govrl.documents.render import Kind, render
    from govrl.documents.signing import sign_pdf
    from govrl.record.files import load_record
    from govrl.review.checklist import ChecklistLibrary

    policy = PolicyFile.load(GRID_POLICY)
    library = ChecklistLibrary.discover()
    rendered = render(
        load_record(EXAMPLE).record, kind=Kind.APPROVAL, policy=policy.policy,
        library=library, on=dt.date.today(),
    )  # fmt: skip
    ca = keys.new_ca("Bench CA", folder / "ca", PASSPHRASE)
    issuer = keys.load_credentials(ca.key, ca.cert, PASSPHRASE)
    current = folder / "approval.pdf"
    current.write_bytes(rendered.content)
    roles = list(rendered.signature_fields)
    creds = {}
    for role in roles:
        files = keys.new_reviewer(f"Bench {role}", role, folder, PASSPHRASE, issuer=issuer)
        creds[role] = keys.load_credentials(files.key, files.cert, PASSPHRASE, [ca.cert])
    sign = {"policy": policy.policy, "library": library}
    for role in roles[:-1]:
        out = folder / f"approval-{role}.pdf"
        sign_pdf(current, out, creds[role], role, **sign)  # type: ignore[arg-type]
        current = out
    last, outs = roles[-1], []
    for n in range(count):
        out = folder / f"signed-{n}.pdf"
        sign_pdf(current, out, creds[last], last, **sign)  # type: ignore[arg-type]
        outs.append(out)
    return outs, keys.load_certificates(ca.cert), policy


def bare_validation(pdfs: list[Path], trust: list[Any]) -> Any:
    """pyHanko validating every signature of ``pdfs`` with the anchors, one file after
    another: the floor for re-verifying an archive's documents in one process."""
    import io

    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    roots = [asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in trust]

    def action() -> None:
        for pdf in pdfs:
            reader = PdfFileReader(io.BytesIO(pdf.read_bytes()), strict=False)
            for signature in reader.embedded_signatures:
                context = ValidationContext(
                    trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail",
                    moment=signature.self_reported_timestamp,
                )  # fmt: skip
                assert validate_pdf_signature(signature, context).intact

    return action


def measure_real(folder: Path, sizes: list[int], runs: int) -> None:
    """`archive verify` with signatures over real approvals, against bare pyHanko."""
    from govrl.archive import Archive, verify_store

    start = time.perf_counter()
    pdfs, trust, policy = signed_approvals(folder / "real", max(sizes))
    print(f"{max(sizes)} distinct signed approvals made in {time.perf_counter() - start:.0f} s")
    store = folder / "real-store"
    archive = Archive.at(store)
    signer, archive_ca = archive_signer(folder / "real-keys")
    trust = [*trust, *archive_ca]  # the documents' signers' CA and the archive key's
    added = 0
    workers = os.cpu_count() or 1
    print(
        f"archive verify with signatures ({workers} worker processes) against bare pyHanko "
        f"validating the same signatures in one process; {runs} interleaved rounds"
    )
    print(f"{'entries':>8} {'govrl s':>8} {'bare s':>8} {'min':>6} {'median':>6} {'max':>6} "
          f"{'govrl ms/entry':>15}")  # fmt: skip
    per_entry = 0.0
    for size in sorted(sizes):
        for pdf in pdfs[added:size]:
            result = archive.add(pdf, policy=policy, trust=trust, signer=signer)
            assert not result.entry.verification.problems, result.entry.verification.problems
        added = size

        def govrl_verify() -> None:
            report = verify_store(archive, trust=trust, any_policy=True)
            assert report.ok, [str(f) for f in report.findings[:5]]

        ours, bare = paired(govrl_verify, bare_validation(pdfs[:size], trust), runs=runs)
        ratios = [a / b for a, b in zip(ours, bare, strict=True)]
        per_entry = statistics.median(ours) / size
        print(f"{size:8} {statistics.median(ours):8.2f} {statistics.median(bare):8.2f} "
              f"{min(ratios):6.2f} {statistics.median(ratios):6.2f} {max(ratios):6.2f} "
              f"{per_entry * 1000:15.1f}")  # fmt: skip
    for size in (1000, 10_000):
        if size > max(sizes):
            print(f"{size:8} extrapolated from the last row: {per_entry * size / 60:.1f} min")
    print("target: 10,000 entries under 5 minutes")


def paired(*actions: Any, runs: int) -> list[list[float]]:
    """Seconds of each action per round, run in turn so background load hits all alike."""
    times: list[list[float]] = [[] for _ in actions]
    for _ in range(runs):
        for action, bucket in zip(actions, times, strict=True):
            begin = time.perf_counter()
            action()
            bucket.append(time.perf_counter() - begin)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1000, 100_000])
    parser.add_argument("--adds", type=int, default=20)
    parser.add_argument(
        "--real",
        type=int,
        nargs="+",
        metavar="N",
        help="measure archive verify with signatures on N real approvals instead",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes: --sizes 10 1000, --real 10 30"
    )
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds for --real")
    options = parser.parse_args()
    if options.quick:
        options.sizes = [10, 1000]
        options.real = options.real and [10, 30]
    if options.real:
        import logging

        logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
        folder = Path(tempfile.mkdtemp(prefix="govrl-bench-archive-"))
        try:
            measure_real(folder, options.real, options.runs)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    folder = Path(tempfile.mkdtemp(prefix="govrl-bench-archive-"))
    try:
        signer, trust = archive_signer(folder / "keys")
        rows = []
        for count in options.sizes:
            store = folder / f"store-{count}"
            start = time.perf_counter()
            build_store(store, count, signer)
            built = time.perf_counter() - start
            os.sync()  # else the adds' fsyncs would pay for writing out the store just built
            seconds = timed_verify(store, trust)
            per_add = timed_adds(store, signer, options.adds)
            rows.append((count, seconds, per_add))
            print(
                f"{count:>7} entries: verify --no-signatures {seconds:7.2f} s "
                f"({seconds / count * 1000:.3f} ms/entry); add {per_add * 1000:6.2f} ms "
                f"(median of {options.adds}); built in {built:.1f} s"
            )
            shutil.rmtree(store)
        (n1, t1, a1), (n2, t2, a2) = rows[-2], rows[-1]
        print(
            f"  {n2 / n1:.0f}x the entries: verify took {t2 / t1:.1f}x the time, "
            f"an add {a2 / a1:.2f}x"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
