"""Sign and verify time of govrl next to bare pyHanko doing the same work on the same approval.

Run by hand: `.venv/bin/python benchmarks/bench_sign.py [--profile]`. The document is the
approval for examples/grid-frequency-control.yaml under examples/policies/grid.yaml
(tier 3: four signature fields). A throw-away CA and four reviewers are made with
govrl's own key functions in a temporary folder.

sign: govrl's `sign_pdf` for the owner role (open, record digest check, policy
preflight, stamp in the embedded Noto Sans font, PAdES signature, atomic synced
write) against bare pyHanko signing the same bytes into the same existing field:
a PdfSigner with a SimpleSigner and the identical stamp text in the same font file
(the Latin cut of Noto Sans govrl picks for this Latin name), the same with the
whole Noto Sans (what govrl falls back to for other scripts), and `signers.sign_pdf`
with pyHanko's default stamp (built-in Courier, nothing embedded).
Keys are loaded once, before timing, for both.

verify: govrl's `verify_pdf` on the document signed by all four roles, against bare
`validate_pdf_signature` over each embedded signature with the same difference policy
(govrl's change policy, which judges the earliest signature from the rendered revision
on) and the same trust settings (the CA as the only root, no fetching, soft-fail
revocation, the chain judged at the signature's claimed time, the same key usage), on
a freshly parsed document for both. govrl also checks the record, roles and expiry and
reads what the signatures approve from the revision the earliest one covers. A second
row compares bare pyHanko with its default policy, which govrl's rules replace.

batch: N copies of the approval signed by the owner in one `python -m govrl sign` call
(one key, one passphrase, `-o DIR`) against N separate calls, each a fresh process as a
user or a script would run them, for N = 1, 2, 4, 8, 20 (`--quick`: up to 8), and how
one call's time grows with N.

pages: `verify_pdf` on the grid approval grown with more subgroup results (more pages,
the same four signatures) against the plain one, next to the ratio linear growth in
pages would give.

Prints median times and, per row, the min/median/max over interleaved rounds of the
ratio (govrl / bare, one call / N calls); absolute times on a shared machine are noisy,
ratios less so. `--only` runs one part; `--profile` adds a cProfile breakdown of govrl's
calls.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import logging
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EXAMPLE = ROOT / "examples" / "grid-frequency-control.yaml"
POLICY = ROOT / "examples" / "policies" / "grid.yaml"
DATE = dt.date.today()  # signatures carry the real clock, so the approval starts today
CHECKED_ON = DATE + dt.timedelta(days=1)  # inside the approval's validity period
PASSPHRASE = b"bench-sign passphrase"
RUNS = 15
SIGN_ROLE = "owner"


def paired_runs(*actions: Any, runs: int = RUNS) -> list[list[float]]:
    """Seconds of each action over ``runs`` rounds, run in turn within a round, so that
    background load hits all of them alike."""
    times: list[list[float]] = [[] for _ in actions]
    for _ in range(runs):
        for action, bucket in zip(actions, times, strict=True):
            start = time.perf_counter()
            action()
            bucket.append(time.perf_counter() - start)
    return times


def ratio_line(label: str, ours: list[float], other: list[float]) -> str:
    """Median seconds of both, and min/median/max of the per-round ratio ours / other."""
    ratios = [a / b for a, b in zip(ours, other, strict=True)]
    return (
        f"{label:44} {statistics.median(ours):8.3f} {statistics.median(other):8.3f} "
        f"{min(ratios):6.2f} {statistics.median(ratios):6.2f} {max(ratios):6.2f}"
    )


HEADER = f"{'operation':44} {'govrl s':>8} {'other s':>8} {'min':>6} {'median':>6} {'max':>6}"


class Setup:
    """The approval, the keys, and a copy signed by every required role."""

    def __init__(self, folder: Path) -> None:
        from govrl.documents import keys
        from govrl.documents.render import Kind, render
        from govrl.documents.signing import sign_pdf
        from govrl.record.files import load_record
        from govrl.review.checklist import ChecklistLibrary
        from govrl.review.policy import load_policy

        self.folder = folder
        self.policy = load_policy(POLICY)
        self.library = ChecklistLibrary.discover()
        record = load_record(EXAMPLE).record
        rendered = render(
            record, kind=Kind.APPROVAL, policy=self.policy, library=self.library, on=DATE
        )
        self.roles = list(rendered.signature_fields)
        self.approval = folder / "approval.pdf"
        self.approval.write_bytes(rendered.content)
        self.pages = rendered.pages
        self.digest = rendered.digest

        ca_files = keys.new_ca("Bench Org CA", folder / "ca", PASSPHRASE)
        self.ca_cert_path = ca_files.cert
        self.trust = keys.load_certificates(ca_files.cert)
        ca = keys.load_credentials(ca_files.key, ca_files.cert, PASSPHRASE)
        self.key_files: dict[str, keys.KeyFiles] = {}
        self.creds: dict[str, keys.Credentials] = {}
        for role in self.roles:
            files = keys.new_reviewer(
                f"Reviewer {role}", role, folder / "keys", PASSPHRASE, issuer=ca
            )
            self.key_files[role] = files
            self.creds[role] = keys.load_credentials(
                files.key, files.cert, PASSPHRASE, [ca_files.cert]
            )

        current = self.approval
        for n, role in enumerate(self.roles):
            out = folder / f"signed-{n}.pdf"
            sign_pdf(
                current, out, self.creds[role], role,
                policy=self.policy, library=self.library, today=DATE,
            )  # fmt: skip
            current = out
        self.fully_signed = current


# ---------------------------------------------------------------- sign


def sign_actions(setup: Setup) -> tuple[Any, Any, Any, Any]:
    """govrl's sign; bare PdfSigner with the same stamp in the Latin cut and in the whole
    font; bare `signers.sign_pdf`."""
    from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.text import TextBoxStyle
    from pyhanko.sign import fields, signers
    from pyhanko.stamp import TextStampStyle

    from govrl.documents.keys import common_name
    from govrl.documents.signing import FONT, LATIN_FONT, sign_pdf

    role, creds = SIGN_ROLE, setup.creds[SIGN_ROLE]
    files = setup.key_files[role]
    bare_signer = signers.SimpleSigner.load(  # type: ignore[no-untyped-call]
        str(files.key), str(files.cert), ca_chain_files=[str(setup.ca_cert_path)],
        key_passphrase=PASSPHRASE,
    )  # fmt: skip
    assert bare_signer is not None
    signer_name = common_name(creds.cert)
    reason = f"govrl approval, role {role}, record {setup.digest}"
    stamp = f"Signed by %(signer)s\nRole: {role}\nTime: %(ts)s\nRecord: {setup.digest[:23]}…"

    def style(font: Path) -> Any:
        return TextStampStyle(
            stamp_text=stamp,
            text_box_style=TextBoxStyle(font=GlyphAccumulatorFactory(str(font)), font_size=7),
            border_width=1,
        )

    latin_style, full_style = style(LATIN_FONT), style(FONT)

    def meta() -> Any:
        return signers.PdfSignatureMetadata(
            field_name=role,
            md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
            reason=reason,
            name=signer_name,
            use_pades_lta=False,
        )

    source = setup.approval
    out_dir = setup.folder / "sign-out"
    out_dir.mkdir(exist_ok=True)

    def govrl_sign() -> Any:
        return sign_pdf(
            source, out_dir / "govrl.pdf", creds, role,
            policy=setup.policy, library=setup.library, today=DATE,
        )  # fmt: skip

    def bare_stamp(stamp_style: Any, name: str) -> None:
        writer = IncrementalPdfFileWriter(io.BytesIO(source.read_bytes()), strict=False)
        with open(out_dir / name, "wb") as handle:
            signers.PdfSigner(meta(), signer=bare_signer, stamp_style=stamp_style).sign_pdf(
                writer, output=handle
            )

    def bare_same_stamp() -> None:
        bare_stamp(latin_style, "bare.pdf")

    def bare_whole_font() -> None:
        bare_stamp(full_style, "bare-whole-font.pdf")

    def bare_default_stamp() -> None:
        writer = IncrementalPdfFileWriter(io.BytesIO(source.read_bytes()), strict=False)
        with open(out_dir / "bare-default.pdf", "wb") as handle:
            signers.sign_pdf(writer, meta(), signer=bare_signer, output=handle)

    return govrl_sign, bare_same_stamp, bare_whole_font, bare_default_stamp


# ---------------------------------------------------------------- verify


def verify_actions(setup: Setup) -> tuple[Any, Any, Any]:
    """govrl's verify; bare pyHanko with govrl's change policy; bare pyHanko's defaults."""
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.settings import KeyUsageConstraints
    from pyhanko_certvalidator import ValidationContext

    from govrl.documents.changes import change_policy
    from govrl.documents.verification import verify_pdf

    path = setup.fully_signed
    roots = [asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in setup.trust]
    usage = KeyUsageConstraints(
        key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False
    )

    def govrl_verify() -> Any:
        report = verify_pdf(path, policy=setup.policy, trust=setup.trust, today=CHECKED_ON)
        assert report.ok, report.problems
        return report

    def bare(policy_for: Any) -> Any:
        reader = PdfFileReader(io.BytesIO(path.read_bytes()), strict=False)
        signatures = reader.embedded_signatures
        policy = policy_for(min(s.signed_revision for s in signatures))
        statuses = []
        for signature in signatures:
            context = ValidationContext(
                trust_roots=roots,
                allow_fetching=False,
                revocation_mode="soft-fail",
                moment=signature.self_reported_timestamp,
            )
            statuses.append(
                validate_pdf_signature(
                    signature, context, diff_policy=policy, key_usage_settings=usage
                )
            )
        assert all(s.bottom_line for s in statuses), [s.summary() for s in statuses]
        return statuses

    def bare_same_policy() -> Any:
        return bare(change_policy)

    def bare_default_policy() -> Any:
        return bare(lambda _: None)

    return govrl_verify, bare_same_policy, bare_default_policy


# ---------------------------------------------------------------- report


def measure(setup: Setup, runs: int) -> None:
    govrl_sign, bare_sign, bare_whole, bare_default = sign_actions(setup)
    govrl_verify, bare_verify, bare_default_verify = verify_actions(setup)
    actions = (govrl_sign, bare_sign, bare_whole, bare_default, govrl_verify, bare_verify)
    for action in (*actions, bare_default_verify):
        action()  # warm-up: imports, fonts, pyHanko's lazy setup
    signatures = len(bare_verify())
    size = setup.approval.stat().st_size / 1000
    print(
        f"approval: {EXAMPLE.name}, {setup.pages} pages, {size:.0f} kB, "
        f"fields {', '.join(setup.roles)}; {runs} interleaved rounds; ratio govrl / bare"
    )
    print(HEADER)
    ours, same, whole, default = paired_runs(
        govrl_sign, bare_sign, bare_whole, bare_default, runs=runs
    )
    print(ratio_line(f"sign {SIGN_ROLE} (same stamp and font)", ours, same))
    print(ratio_line(f"sign {SIGN_ROLE} (whole Noto Sans)", ours, whole))
    print(ratio_line(f"sign {SIGN_ROLE} (pyHanko default stamp)", ours, default))
    ours, bare, default = paired_runs(govrl_verify, bare_verify, bare_default_verify, runs=runs)
    label = f"verify {signatures} signatures"
    print(ratio_line(label + " (same change policy)", ours, bare))
    print(ratio_line(label + " (pyHanko default policy)", ours, default))
    print("target: govrl within 1.20x of bare")


# ---------------------------------------------------------------- many documents per call


def _cli(*args: str | Path) -> None:
    """``python -m govrl ARGS`` in a fresh process, as a user runs it; fails loudly."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("GOVRL_KEY_PASSPHRASE", None)
    done = subprocess.run(
        [sys.executable, "-m", "govrl", *map(str, args)], capture_output=True, env=env
    )
    if done.returncode != 0:
        raise SystemExit(f"govrl {args[0]} failed: {done.stderr.decode(errors='replace')}")


def batch_actions(setup: Setup, count: int) -> tuple[Any, Any]:
    """``count`` approvals signed by the owner in one `govrl sign` call, and in ``count``."""
    folder = setup.folder / f"batch-{count}"
    inputs = folder / "in"
    inputs.mkdir(parents=True)
    copies = [inputs / f"approval-{n}.pdf" for n in range(count)]
    for copy in copies:
        shutil.copyfile(setup.approval, copy)
    secret = folder / "passphrase.txt"
    secret.write_bytes(PASSPHRASE)
    files = setup.key_files[SIGN_ROLE]
    common = ("--key", files.key, "--cert", files.cert, "--role", SIGN_ROLE,
              "--policy", POLICY, "--passphrase-file", secret)  # fmt: skip

    def fresh(name: str) -> Path:
        out = folder / name
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        return out

    def one_call() -> None:
        _cli("sign", *copies, *common, "-o", fresh("one"))

    def separate_calls() -> None:
        out = fresh("separate")
        for copy in copies:
            _cli("sign", copy, *common, "-o", out / copy.name)

    return one_call, separate_calls


def measure_batches(setup: Setup, counts: list[int], runs: int) -> None:
    print(
        f"\nsign N approvals: one `govrl sign` call against N calls, each a fresh process; "
        f"{runs} interleaved rounds; ratio one call / N calls"
    )
    print(HEADER.replace("govrl s", "1 call s").replace("other s", "N calls s"))
    per_document = []
    for count in counts:
        one, separate = batch_actions(setup, count)
        ones, separates = paired_runs(one, separate, runs=runs)
        print(ratio_line(f"sign {count} approval(s)", ones, separates))
        per_document.append((count, statistics.median(ones)))
    print("one call's cost as it grows (median s; s per document beyond the first):")
    (first_count, first), *rest = per_document
    for count, seconds in rest:
        extra = (seconds - first) / (count - first_count)
        print(f"  {count:3} documents {seconds:7.3f} s  {extra:6.3f} s/document")
    print("target: 20 in one call at least 5x faster than 20 calls (ratio at most 0.20)")


# ---------------------------------------------------------------- pages


def grown_record(extra: int) -> Any:
    """The example record with ``extra`` more subgroup results: more pages, same signers."""
    import copy

    from govrl.record import AssessmentRecord
    from govrl.yamlio import load

    data = copy.deepcopy(load(EXAMPLE).data)
    first = data["evaluation"]["subgroups"][0]
    data["evaluation"]["subgroups"] += [
        {**first, "attribute": "feeder", "group": f"feeder F{n:03d}", "value": 35 + n % 9,
         "ci_low": 33 + n % 9, "ci_high": 37.5 + n % 9}
        for n in range(extra)
    ]  # fmt: skip
    return AssessmentRecord.model_validate(data)


def measure_pages(setup: Setup, extras: list[int], runs: int) -> None:
    """verify's time against the page count, every approval signed by all four roles."""
    from govrl.documents.render import Kind, render
    from govrl.documents.signing import sign_pdf
    from govrl.documents.verification import verify_pdf

    signed: list[tuple[int, Path]] = []
    for extra in extras:
        rendered = render(
            grown_record(extra), kind=Kind.APPROVAL, policy=setup.policy,
            library=setup.library, on=DATE,
        )  # fmt: skip
        current = setup.folder / f"pages-{extra}.pdf"
        current.write_bytes(rendered.content)
        for n, role in enumerate(rendered.signature_fields):
            out = setup.folder / f"pages-{extra}-{n}.pdf"
            sign_pdf(
                current, out, setup.creds[role], role,
                policy=setup.policy, library=setup.library, today=DATE,
            )  # fmt: skip
            current = out
        signed.append((rendered.pages, current))

    def verifier(path: Path) -> Any:
        def action() -> None:
            report = verify_pdf(path, policy=setup.policy, trust=setup.trust, today=CHECKED_ON)
            assert report.ok, report.problems

        return action

    actions = [verifier(path) for _, path in signed]
    for action in actions:
        action()
    times = paired_runs(*actions, runs=runs)
    base_pages, base = signed[0][0], times[0]
    print(f"\nverify against pages (4 signatures; {runs} interleaved rounds):")
    print(f"{'pages':>6} {'median s':>9} {'ratio to ' + str(base_pages) + ' pages':>20} "
          f"{'min':>6} {'median':>6} {'max':>6} {'linear':>7}")  # fmt: skip
    for (pages, _), seconds in zip(signed, times, strict=True):
        ratios = [a / b for a, b in zip(seconds, base, strict=True)]
        print(f"{pages:6} {statistics.median(seconds):9.3f} {'':20} {min(ratios):6.2f} "
              f"{statistics.median(ratios):6.2f} {max(ratios):6.2f} "
              f"{pages / base_pages:7.2f}")  # fmt: skip
    print("target: each ratio within 1.5x of linear (the last column)")


def profile(setup: Setup, count: int = 5) -> None:
    """Where govrl's time goes: cumulative seconds per call of the functions that matter."""
    govrl_sign, *_ = sign_actions(setup)
    govrl_verify, *_ = verify_actions(setup)
    govrl_sign(), govrl_verify()
    watched = {
        "sign": [
            ("govrl/documents/signing.py", "sign_pdf"),
            ("govrl/documents/pdffile.py", "open_pdf"),
            ("pyhanko/pdf_utils/reader.py", "__init__"),
            ("govrl/documents/pdffile.py", "_attachment"),
            ("govrl/documents/signing.py", "record_of"),
            ("govrl/documents/signing.py", "preflight"),
            ("govrl/review/gate.py", "decide"),
            ("govrl/documents/signing.py", "signature_fields"),
            ("pyhanko/pdf_utils/incremental_writer.py", "__init__"),
            ("govrl/documents/signing.py", "_signer"),
            ("pyhanko/sign/signers/pdf_signer.py", "sign_pdf"),
            ("pyhanko/pdf_utils/font/opentype.py", "prepare_write"),
            ("pyhanko/pdf_utils/font/opentype.py", "_extract_subset"),
            ("govrl/atomicfile.py", "write_atomic"),
            ("~", "<built-in method posix.fsync>"),
        ],
        "verify": [
            ("govrl/documents/verification.py", "verify_pdf"),
            ("govrl/documents/pdffile.py", "open_pdf"),
            ("pyhanko/pdf_utils/reader.py", "__init__"),
            ("govrl/documents/pdffile.py", "_attachment"),
            ("govrl/documents/pdffile.py", "facts_at"),
            ("govrl/documents/changes.py", "record_problems"),
            ("govrl/documents/changes.py", "review"),
            ("govrl/documents/verification.py", "_check_signature"),
            ("govrl/documents/trust.py", "judge_signature"),
            ("pyhanko/sign/validation/__init__.py", "validate_pdf_signature"),
            ("govrl/documents/verify_revisions.py", "prime_all"),
            ("govrl/documents/verify_revisions.py", "review_file"),
            ("govrl/documents/verify_revisions.py", "judged"),
            ("govrl/documents/verify_usages.py", "paths"),
            ("govrl/documents/change_policy.py", "apply"),
            ("pyhanko/pdf_utils/reader.py", "_load_reverse_xref_cache"),
            ("pyhanko/sign/validation/pdf_embedded.py", "compute_digest"),
            ("pyhanko/pdf_utils/reader.py", "_read_object"),
        ],
    }
    for name, action in (("sign", govrl_sign), ("verify", govrl_verify)):
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(count):
            action()
        prof.disable()
        stats = pstats.Stats(prof)
        print(
            f"\ncProfile of govrl {name}, per call (mean of {count}; the profiler inflates times):"
        )
        print(f"  {'function':62} {'calls':>7} {'cum s':>7}")
        for (file, line, func), row in sorted(
            stats.stats.items(),  # type: ignore[attr-defined]
            key=lambda item: -item[1][3],
        ):
            for suffix, wanted in watched[name]:
                if func == wanted and file.endswith(suffix) and row[3] / count >= 0.0005:
                    calls, cum = row[1] / count, row[3] / count
                    where = f"{suffix.rsplit('/', 1)[-1]}:{line}" if suffix != "~" else ""
                    print(f"  {(where + ' ' + func).strip():62} {calls:7.0f} {cum:7.3f}")
        print("  top 12 by own time:")
        for (file, line, func), row in sorted(
            stats.stats.items(),  # type: ignore[attr-defined]
            key=lambda item: -item[1][2],
        )[:12]:
            short = "/".join(Path(file).parts[-2:]) if file != "~" else ""
            print(f"    {short + ':' + str(line) + ' ' + func:72} {row[1] / count:8.0f} "
                  f"{row[2] / count:7.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="add a cProfile breakdown")
    parser.add_argument(
        "--quick", action="store_true", help="fewer rounds and smaller batches (1, 2, 4, 8)"
    )
    parser.add_argument(
        "--only",
        choices=["library", "batch", "pages"],
        help="one part: govrl against bare pyHanko, one call against many, or pages",
    )
    options = parser.parse_args()
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)  # as verify_pdf sets it, for both
    folder = Path(tempfile.mkdtemp(prefix="govrl-bench-sign-"))
    runs = 5 if options.quick else RUNS
    try:
        setup = Setup(folder)
        if options.only in (None, "library"):
            measure(setup, runs)
        if options.only in (None, "batch"):
            counts = [1, 2, 4, 8] if options.quick else [1, 2, 4, 8, 20]
            measure_batches(setup, counts, runs=2 if options.quick else 3)
        if options.only in (None, "pages"):
            measure_pages(setup, [0, 60] if options.quick else [0, 60, 150], runs)
        if options.profile:
            profile(setup)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
