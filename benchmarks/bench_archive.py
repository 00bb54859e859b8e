"""How `govrl archive add` and `archive verify` scale, with and without signatures.

Run by hand: `.venv/bin/python benchmarks/bench_archive.py [--sizes 10 1000 100000]`.
Stores are built in the archive's own format, fast: one distinct 2 kB stand-in document
per entry (so that hashing documents does not hide the log's own cost), the log, HEAD,
tree.json and one signed checkpoint per entry, as one add per entry leaves them. An add
is then timed through the archive's commit (lock, intent, objects, log, HEAD, tree state,
signed checkpoint, every fsync), without the PDF verification that precedes it in
`archive add` (see --scaling for that). Files are fresh in the page cache; a cold disk
adds its read time.

`--real 10 100` (or `--quick`: 10 and 30) measures `archive verify` with signatures on real
approvals instead: the grid example's approval (15 pages, four signature fields) signed
by three roles once, then by the fourth once per entry, so that every entry is a
distinct, fully signed approval; each is archived with `Archive.add` (verified, as
`archive add` does), and the store re-verified with every signature (one worker process
per CPU), interleaved with bare pyHanko validating the same documents' signatures one
after another in this process. It prints wall and CPU milliseconds per entry, the CPU
ratio to bare pyHanko, and the wall time extrapolated to 1,000 and 10,000 entries.

`--scaling` measures `verify` of one approval in this process against its signatures
(the grid example under its policy with 1, 2, 4 and 8 signers at tier 3) and its pages
(4 signatures: the minimal record, about 8 pages; the grid example, 15; the grid example
with 120 subgroup results, 22), next to bare pyHanko validating the same file with its own
difference policy, and with govrl's rules in pyHanko's order (every later revision
compared with each signature's own), in CPU time.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from resource import RUSAGE_CHILDREN, RUSAGE_SELF
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


def bare_validation(pdfs: list[Path], trust: list[Any], policy_for: Any = None) -> Any:
    """pyHanko validating every signature of ``pdfs`` as govrl's verify asks it to (the
    anchors as the only roots, no fetching, soft-fail revocation, the chain judged at the
    claimed signing time, the same key usage), one file after another, each parsed afresh.
    ``policy_for(first signed revision)`` gives the difference policy; None: pyHanko's."""
    import io

    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.settings import KeyUsageConstraints
    from pyhanko_certvalidator import ValidationContext

    roots = [asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in trust]
    usage = KeyUsageConstraints(
        key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False
    )

    def action() -> None:
        for pdf in pdfs:
            reader = PdfFileReader(io.BytesIO(pdf.read_bytes()), strict=False)
            signatures = reader.embedded_signatures
            first = min(s.signed_revision for s in signatures)
            for signature in signatures:
                context = ValidationContext(
                    trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail",
                    moment=signature.self_reported_timestamp,
                )  # fmt: skip
                status = validate_pdf_signature(
                    signature, context, key_usage_settings=usage,
                    diff_policy=policy_for(first) if policy_for else None,
                )  # fmt: skip
                assert status.bottom_line, status.pretty_print_details()

    return action


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the archive's workers)."""
    own, children = (resource.getrusage(who) for who in (RUSAGE_SELF, RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def store_verifier(archive: Any, trust: list[Any], cpu: list[float]) -> Any:
    """`archive verify` with signatures, its CPU seconds (workers included) added to ``cpu``."""
    from govrl.archive import verify_store

    def action() -> None:
        before = cpu_seconds()
        report = verify_store(archive, trust=trust, any_policy=True)
        cpu.append(cpu_seconds() - before)
        assert report.ok, [str(f) for f in report.findings[:5]]

    return action


def measure_real(folder: Path, sizes: list[int], runs: int) -> None:
    """`archive verify` with signatures over real approvals, against bare pyHanko."""
    from govrl.archive import Archive

    start = time.perf_counter()
    pdfs, trust, policy = signed_approvals(folder / "real", max(sizes))
    print(f"{max(sizes)} distinct signed approvals made in {time.perf_counter() - start:.0f} s "
          f"({pdfs[0].stat().st_size // 1000} kB, four signatures each)")  # fmt: skip
    store = folder / "real-store"
    archive = Archive.at(store)
    signer, archive_ca = archive_signer(folder / "real-keys")
    trust = [*trust, *archive_ca]  # the documents' signers' CA and the archive key's
    added = 0
    workers = os.cpu_count() or 1
    print(
        f"archive verify with signatures ({workers} worker processes), against bare pyHanko "
        f"validating the same signatures in one process; {runs} interleaved rounds. "
        "CPU ms/entry counts the workers too; ratio: govrl CPU / bare CPU per entry"
    )
    print(f"{'entries':>8} {'govrl s':>8} {'ms/entry':>9} {'CPU ms/entry':>13} "
          f"{'bare ms/entry':>14} {'ratio':>6}")  # fmt: skip
    per_entry = cpu_entry = 0.0
    for size in sorted(sizes):
        for pdf in pdfs[added:size]:
            result = archive.add(pdf, policy=policy, trust=trust, signer=signer)
            assert not result.entry.verification.problems, result.entry.verification.problems
        added = size
        cpu: list[float] = []
        ours, bare = paired(
            store_verifier(archive, trust, cpu), bare_validation(pdfs[:size], trust), runs=runs
        )
        per_entry = statistics.median(ours) / size
        cpu_entry, bare_entry = statistics.median(cpu) / size, statistics.median(bare) / size
        print(f"{size:8} {statistics.median(ours):8.2f} {per_entry * 1000:9.1f} "
              f"{cpu_entry * 1000:13.1f} {bare_entry * 1000:14.1f} "
              f"{cpu_entry / bare_entry:6.2f}")  # fmt: skip
    for size in (1000, 10_000):
        if size > max(sizes):
            print(f"{size:8} extrapolated from the last row: {per_entry * size / 60:.1f} min; "
                  f"at its CPU cost spread over {workers} cores, "
                  f"{cpu_entry / workers * size / 60:.1f} min")  # fmt: skip
    print("target: 10,000 entries under 5 minutes (30 ms per entry)")


# ---------------------------------------------------------------- verify, one document


ROLES = ["owner", "domain-expert", "ethics-fairness", "independent-validator",
         "safety-engineer", "operations-lead", "security-reviewer", "legal-counsel"]  # fmt: skip
GRID_SIGNERS = "    signers: [owner, domain-expert, ethics-fairness, independent-validator]"
SMALL_RECORD = ROOT / "tests" / "data" / "valid-minimal.yaml"
SMALL_POLICY = b"""id: bench-small
version: "1"
description: The minimal record's gate, four signers at tier 3.
gates:
  - {id: return-floor, evidence: metrics/mean-return, comparator: ">=", threshold: 39}
tiers:
  1: {blocking: [blocker], signers: [owner], validity_days: 30}
  2: {blocking: [blocker], signers: [owner], validity_days: 30}
  3: {blocking: [blocker, major], signers: [ROLES], validity_days: 30}
"""


def small_record(library: Any) -> Any:
    """The minimal record at tier 3 with every checklist item answered: a short approval."""
    from govrl.record import AssessmentRecord
    from govrl.vocabulary import Domain, RiskTier
    from govrl.yamlio import load

    data = load(SMALL_RECORD).data
    data["system"]["risk_tier"] = 3
    data["deployment"]["fallback"] = "The heuristic ranker takes over."
    data["deployment"]["human_override"] = "Editors pin or remove any slot."
    data["evaluation"]["ood_detection"] = {
        "method": "density of session features", "evaluated_on": "held-out shifted sessions",
        "auroc": 0.91, "on_detection": "fall back to the heuristic ranker",
    }  # fmt: skip
    answer = {"answer": "yes", "answered_by": "Ada Byron", "answered_at": "2026-10-01T09:00:00Z"}
    data["checklists"] = [
        {"id": c.id, "version": c.version,
         "items": {item.id: {**answer, "evidence": [f"docs/{item.id}.md"]}
                   for item in c.applicable(RiskTier(3))}}
        for c in library.for_domain(Domain(data["system"]["domain"]))
    ]  # fmt: skip
    return AssessmentRecord.model_validate(data)


class Signed:
    """Approvals signed in every field, each by its own reviewer under one CA."""

    def __init__(self, folder: Path) -> None:
        from govrl.documents import keys
        from govrl.review.checklist import ChecklistLibrary

        self.folder = folder
        self.library = ChecklistLibrary.discover()
        ca = keys.new_ca("Bench CA", folder / "ca", PASSPHRASE)
        issuer = keys.load_credentials(ca.key, ca.cert, PASSPHRASE)
        self.trust = keys.load_certificates(ca.cert)
        self.creds = {}
        for role in ROLES:
            files = keys.new_reviewer(f"Bench {role}", role, folder, PASSPHRASE, issuer=issuer)
            self.creds[role] = keys.load_credentials(files.key, files.cert, PASSPHRASE, [ca.cert])

    def approval(self, name: str, record: Any, policy_text: bytes) -> tuple[Path, int, Any]:
        """``record`` rendered under the policy, then signed field by field: the file, its
        page count and the policy."""
        import datetime as dt

        from govrl.documents.render import Kind, render
        from govrl.documents.signing import sign_pdf
        from govrl.review.policy import parse_policy

        policy = parse_policy(policy_text, f"{name}.yaml")
        rendered = render(
            record, kind=Kind.APPROVAL, policy=policy, library=self.library, on=dt.date.today()
        )
        current = self.folder / f"{name}.pdf"
        current.write_bytes(rendered.content)
        for role in rendered.signature_fields:
            out = self.folder / f"{name}-{role}.pdf"
            sign_pdf(current, out, self.creds[role], role, policy=policy, library=self.library)
            current = out
        return current, rendered.pages, policy


def grid_policy(signers: int) -> bytes:
    text = GRID_POLICY.read_text(encoding="utf-8")
    assert GRID_SIGNERS in text, "the grid policy's tier-3 signers line moved"
    return text.replace(GRID_SIGNERS, f"    signers: [{', '.join(ROLES[:signers])}]").encode()


def measure_scaling(folder: Path, runs: int, quick: bool) -> None:
    """verify of one document against its signatures (1, 2, 4, 8) and its pages, next to
    bare pyHanko validating the same file (its own difference policy, and govrl's rules in
    pyHanko's order: every later revision compared with each signature's own)."""
    from bench_sign import grown_record  # this folder is on the path of a script run from it

    from govrl.documents.changes import change_policy
    from govrl.documents.verification import verify_pdf

    start = time.perf_counter()
    signed = Signed(folder / "scaling")
    rows: list[tuple[str, Path, int, int, Any]] = []
    for count in [1, 2, 4] if quick else [1, 2, 4, 8]:
        pdf, pages, policy = signed.approval(f"grid-{count}", grown_record(0), grid_policy(count))
        rows.append(("signatures", pdf, count, pages, policy))
    small_policy = SMALL_POLICY.replace(b"ROLES", ", ".join(ROLES[:4]).encode())
    for name, record, policy_text in (
        ("small", small_record(signed.library), small_policy),
        ("grid-long", grown_record(120), grid_policy(4)),
    )[: 1 if quick else 2]:
        pdf, pages, policy = signed.approval(name, record, policy_text)
        rows.append(("pages", pdf, 4, pages, policy))
    print(f"documents made in {time.perf_counter() - start:.0f} s")

    def govrl(pdf: Path, policy: Any) -> Any:
        def action() -> None:
            report = verify_pdf(pdf, policy=policy, trust=signed.trust)
            assert report.ok, report.problems

        return action

    print(f"verify one document in this process, CPU ms (median of {runs} interleaved "
          "rounds); bare pyHanko: its own difference policy, and govrl's rules in pyHanko's "
          "order")  # fmt: skip
    print(f"{'varied':>10} {'signatures':>10} {'pages':>5} {'kB':>5} {'govrl':>7} "
          f"{'bare':>7} {'ratio':>6} {'bare, govrl rules':>18} {'ratio':>6}")  # fmt: skip
    rows.sort(key=lambda row: (row[0] != "signatures", row[3], row[2]))
    for varied, pdf, count, pages, policy in rows:
        ours, bare, rules = paired(
            govrl(pdf, policy),
            bare_validation([pdf], signed.trust),
            bare_validation([pdf], signed.trust, change_policy),
            runs=runs, clock=time.process_time,
        )  # fmt: skip
        o, b, g = (statistics.median(t) * 1000 for t in (ours, bare, rules))
        print(f"{varied:>10} {count:10} {pages:5} {pdf.stat().st_size // 1000:5} {o:7.1f} "
              f"{b:7.1f} {o / b:6.2f} {g:18.1f} {o / g:6.2f}")  # fmt: skip


def paired(*actions: Any, runs: int, clock: Any = time.perf_counter) -> list[list[float]]:
    """Seconds of each action per round, run in turn so background load hits all alike."""
    times: list[list[float]] = [[] for _ in actions]
    for _ in range(runs):
        for action, bucket in zip(actions, times, strict=True):
            begin = clock()
            action()
            bucket.append(clock() - begin)
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
        "--scaling",
        action="store_true",
        help="measure verify of one approval against its signatures (1, 2, 4, 8) and pages",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smaller sizes: --sizes 10 1000, --real 10 30, --scaling to 4 signatures",
    )
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds for --real")
    options = parser.parse_args()
    if options.quick:
        options.sizes = [10, 1000]
        options.real = options.real and [10, 30]
    if options.real or options.scaling:
        import logging

        logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
        folder = Path(tempfile.mkdtemp(prefix="govrl-bench-archive-"))
        try:
            if options.scaling:
                measure_scaling(folder, max(options.runs, 5), options.quick)
            if options.real:
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
