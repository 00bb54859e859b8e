"""Trust on by default, and signatures judged as of the time they were made.

One test (or a few) per attack: a forgery signed under a self-made CA, trust
configured by flag, environment or govrl.toml, an explicit --no-trust-check, the
archive, an approval verified years after its signers' certificates expired
(with the clock moved by libfaketime), and a policy that demands timestamps.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result

from tests.support.approvals import ROLES, THREE, govrl, render_approval, sign, sign_in_turn
from tests.support.pki import PASSPHRASE, Pki, Reviewer, make_pki, timestamp_authority
from tests.support.records import write_record

pytestmark = [pytest.mark.pdf, pytest.mark.slow]

NO_TRUST: dict[str, str | None] = {"GOVRL_TRUST": None}
TWO_YEARS = dt.timedelta(days=730)


def verify(
    pdf: Path, *extra: str | Path, policy: Path = THREE, env: Mapping[str, str] | None = None
) -> Result:
    """`govrl verify` with nothing but what the test gives: no $GOVRL_TRUST from outside."""
    return govrl("verify", pdf, "--policy", policy, *extra, env={**NO_TRUST, **(env or {})})


def pdfsig(pdf: Path) -> str:
    return subprocess.run(["pdfsig", str(pdf)], capture_output=True, text=True).stdout


@pytest.fixture(autouse=True)
def _no_project_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test runs in an empty folder of its own, so no govrl.toml above it applies."""
    work = tmp_path / "work"
    work.mkdir()
    (work / ".git").mkdir()  # the search for govrl.toml stops at a repository's top
    monkeypatch.chdir(work)
    monkeypatch.delenv("GOVRL_TRUST", raising=False)


@dataclass(frozen=True)
class Forgery:
    """The shared approval re-signed by an attacker's own CA and look-alike reviewers."""

    pdf: Path
    attacker: Pki


@pytest.fixture(scope="module")
def forgery(unsigned_approval: Path, tmp_path_factory: pytest.TempPathFactory) -> Forgery:
    folder = tmp_path_factory.mktemp("forgery")
    attacker = make_pki(folder / "pki", name="Test Org CA")  # the organisation CA's very name
    fakes = {
        role: attacker.reviewer(name, role)
        for name, role in (
            ("Olive Owner", "owner"),
            ("Dana Domain", "domain-expert"),
            ("Ivan Independent", "independent-validator"),
        )
    }
    return Forgery(sign_in_turn(unsigned_approval, folder, attacker, fakes, ROLES), attacker)


# ---------------------------------------------------------------- (a) no anchors, no verdict


def test_a_self_made_ca_forgery_without_trust_anchors_is_refused_with_the_how_to(
    forgery: Forgery,
) -> None:
    """It used to print VERIFIED, with "trust not checked" in a column as the only hint."""
    result = verify(forgery.pdf)
    assert result.exit_code == 1, result.output
    assert "VERIFIED" not in result.output
    assert "no trust anchors configured: `govrl verify`" in result.stderr
    for how in ("--trust ORG-CA.cert.pem", "export GOVRL_TRUST=", "govrl.toml", "[trust]"):
        assert how in result.stderr
    assert 'anchors = ["keys/org-ca.cert.pem"]' in result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- (b) the org CA as anchor


def test_with_the_organisation_ca_as_anchor_the_forgery_fails_and_the_genuine_verifies(
    forgery: Forgery, signed_approval: Path, pki: Pki
) -> None:
    forged = verify(forgery.pdf, "--trust", pki.ca.cert)
    assert forged.exit_code == 1
    assert f"{forgery.pdf}: FAILED (trust anchors from --trust {pki.ca.cert})" in forged.stdout
    assert "the certificate does not chain to a trusted CA" in forged.stderr
    assert "required roles not validly signed: owner, domain-expert" in forged.stderr
    genuine = verify(signed_approval, "--trust", pki.ca.cert)
    assert genuine.exit_code == 0, genuine.output
    assert f"{signed_approval}: VERIFIED (trust anchors from --trust {pki.ca.cert})" in (
        genuine.stdout
    )
    assert genuine.stdout.count(", trusted, ") == 3


# ---------------------------------------------------------------- (c) flag > env > file


def _project(root: Path, anchor: Path) -> Path:
    """A project folder whose committed govrl.toml names ``anchor`` by a relative path."""
    keys = root / "keys"
    keys.mkdir(parents=True)
    shutil.copy(anchor, keys / "org-ca.cert.pem")
    (root / "govrl.toml").write_text('[trust]\nanchors = ["keys/org-ca.cert.pem"]\n')
    (root / "docs" / "reviews").mkdir(parents=True)
    return root


def test_govrl_trust_in_the_environment_is_honoured(signed_approval: Path, pki: Pki) -> None:
    result = verify(signed_approval, env={"GOVRL_TRUST": str(pki.ca.cert)})
    assert result.exit_code == 0, result.output
    assert "VERIFIED (trust anchors from $GOVRL_TRUST)" in result.stdout
    several = os.pathsep.join([str(make_pki(Path("other")).ca.cert), str(pki.ca.cert)])
    assert verify(signed_approval, env={"GOVRL_TRUST": several}).exit_code == 0


def test_a_committed_govrl_toml_is_found_from_a_subfolder(
    signed_approval: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(Path("project").resolve(), pki.ca.cert)
    monkeypatch.chdir(project / "docs" / "reviews")
    result = verify(signed_approval, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["verdict"] == "VERIFIED"
    assert report["trust"] == {"checked": True, "anchors_from": str(project / "govrl.toml")}


def test_govrl_toml_above_the_repository_top_is_not_used(
    signed_approval: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    outer = _project(Path("outer").resolve(), pki.ca.cert)
    inner = outer / "repo"
    (inner / ".git").mkdir(parents=True)
    monkeypatch.chdir(inner)
    result = verify(signed_approval)
    assert result.exit_code == 1 and "no trust anchors configured" in result.stderr


def test_precedence_is_flag_then_environment_then_file(
    signed_approval: Path, pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stranger = make_pki(tmp_path / "stranger", name="Someone Else CA").ca.cert
    project = _project(Path("project").resolve(), stranger)
    monkeypatch.chdir(project)
    # the file alone names the wrong CA: the genuine approval does not chain to it
    from_file = verify(signed_approval)
    assert from_file.exit_code == 1
    assert f"trust anchors from {project / 'govrl.toml'}" in from_file.stdout
    # the environment overrides the file...
    env = {"GOVRL_TRUST": str(pki.ca.cert)}
    assert "VERIFIED (trust anchors from $GOVRL_TRUST)" in verify(signed_approval, env=env).stdout
    # ...and the flag overrides both
    flagged = verify(signed_approval, "--trust", stranger, env=env)
    assert flagged.exit_code == 1
    assert f"FAILED (trust anchors from --trust {stranger})" in flagged.stdout
    assert (
        verify(
            signed_approval, "--trust", pki.ca.cert, env={"GOVRL_TRUST": str(stranger)}
        ).exit_code
        == 0
    )


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ('[trust]\nanchors = ["keys/ca.pem",,]\n', "govrl.toml:2", "not valid TOML"),
        ('[trust]\nanchors = ["keys/ca.pem"\n', "govrl.toml:2", "Unclosed array"),
        ('[trust]\nanchors = ["keys/missing.pem"]\n', "govrl.toml:2 trust.anchors[0]", "no such"),
        ('[trust]\nanchor = ["keys/ca.pem"]\n', "govrl.toml:2 trust.anchor", "unknown key"),
        ('[trust]\nanchors = "keys/ca.pem"\n', "govrl.toml:2 trust.anchors", "must be a list"),
    ],
)
def test_a_broken_govrl_toml_is_named_with_its_line(
    signed_approval: Path, text: str, where: str, message: str
) -> None:
    Path("govrl.toml").write_text(text)
    result = verify(signed_approval)
    assert result.exit_code == 1
    assert where in result.stderr and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_file_in_govrl_trust_is_named(signed_approval: Path) -> None:
    result = verify(signed_approval, env={"GOVRL_TRUST": "nowhere.pem"})
    assert result.exit_code == 1 and "$GOVRL_TRUST: no such certificate file" in result.stderr


# ---------------------------------------------------------------- (d) --no-trust-check


def test_no_trust_check_says_so_and_never_passes_a_tier_three_approval(
    signed_approval: Path, forgery: Forgery
) -> None:
    for pdf in (signed_approval, forgery.pdf):
        result = verify(pdf, "--no-trust-check")
        assert result.exit_code == 1
        first = result.stdout.splitlines()[0]
        assert first == f"{pdf}: FAILED, NOT TRUST-CHECKED (--no-trust-check)"
        assert "a tier-3 approval is never accepted without checking" in result.stderr
        report = json.loads(verify(pdf, "--no-trust-check", "--json").stdout)
        assert report["verdict"] == "FAILED, NOT TRUST-CHECKED" and report["ok"] is False
        assert report["trust"] == {"checked": False, "anchors_from": "--no-trust-check"}
        assert all(s["trusted"] is None for s in report["signatures"])


def test_no_trust_check_below_tier_three_passes_but_never_says_verified(
    tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    pdf = tmp_path / "tier2.pdf"
    assert render_approval(write_record(tmp_path / "r.yaml", tier=2), pdf).exit_code == 0
    signed = sign_in_turn(pdf, tmp_path, pki, reviewers, ["owner", "domain-expert"])
    result = verify(signed, "--no-trust-check")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"{signed}: NOT TRUST-CHECKED (--no-trust-check)"
    assert "VERIFIED" not in result.output
    assert result.stdout.count("NOT TRUST-CHECKED") == 3  # the verdict and each signature


def test_trust_and_no_trust_check_together_is_a_usage_error(
    signed_approval: Path, pki: Pki
) -> None:
    result = verify(signed_approval, "--trust", pki.ca.cert, "--no-trust-check")
    assert result.exit_code == 2 and "not both" in result.stderr


# ---------------------------------------------------------------- (e) the archive


def archive(*args: str | Path) -> Result:
    """`govrl archive ARGS`; an add writes its checkpoint unsigned (archive keys are not the
    subject here)."""
    extra = ("--unsigned-checkpoint",) if args[0] == "add" else ()
    return govrl("archive", *args, *extra, env=NO_TRUST)


def test_archive_add_without_trust_refuses_and_stores_nothing(
    signed_approval: Path, forgery: Forgery, pki: Pki
) -> None:
    store = Path("store")
    for pdf in (signed_approval, forgery.pdf):
        refused = archive("add", pdf, "--store", store, "--policy", THREE)
        assert refused.exit_code == 1
        assert "no trust anchors configured: `govrl archive add`" in refused.stderr
        assert not store.exists()
        unchecked = archive("add", pdf, "--store", store, "--policy", THREE, "--no-trust-check")
        assert unchecked.exit_code == 1 and "tier-3 approval is never accepted" in unchecked.stderr
        assert not (store / "log.jsonl").exists()
    forged = archive(
        "add", forgery.pdf, "--store", store, "--policy", THREE, "--trust", pki.ca.cert
    )
    assert forged.exit_code == 1 and "does not chain to a trusted CA" in forged.stderr
    assert not (store / "log.jsonl").exists()
    added = archive(
        "add", signed_approval, "--store", store, "--policy", THREE, "--trust", pki.ca.cert
    )
    assert added.exit_code == 0, added.output
    assert f"approve; trust anchors from --trust {pki.ca.cert})" in added.stdout
    entry = json.loads((store / "log.jsonl").read_text())
    assert entry["verification"]["trust_checked"] is True


def test_archive_verify_needs_trust_to_judge_signatures(signed_approval: Path, pki: Pki) -> None:
    store = Path("store")
    added = archive(
        "add", signed_approval, "--store", store, "--policy", THREE, "--trust", pki.ca.cert
    )
    assert added.exit_code == 0, added.output
    refused = archive("verify", "--store", store)
    assert refused.exit_code == 1 and "no trust anchors configured" in refused.stderr
    assert archive("verify", "--store", store, "--no-signatures").exit_code == 0
    checked = archive("verify", "--store", store, "--trust", pki.ca.cert)
    assert "signatures of 1 document re-verified" in checked.stdout
    assert f"trust anchors from --trust {pki.ca.cert})" in checked.stdout
    report = json.loads(
        archive("verify", "--store", store, "--trust", pki.ca.cert, "--json").stdout
    )
    assert report["trust"] == {"checked": True, "anchors_from": f"--trust {pki.ca.cert}"}
    assert report["signatures_checked"] == 1
    assert not [e for e in report["errors"] if e["code"] == "signature"], report["errors"]


def test_publish_refuses_a_forged_approval_before_writing_anything(
    forgery: Forgery, unsigned_approval: Path, pki: Pki
) -> None:
    record = unsigned_approval.with_name("record.yaml")
    args = ("publish", record, "--tracking-uri", "http://127.0.0.1:9", "--model", "m/1")
    untrusted = govrl(*args, "--pdf", forgery.pdf, "--policy", THREE, env=NO_TRUST)
    assert untrusted.exit_code == 1
    assert "no trust anchors configured: `govrl publish --pdf`" in untrusted.stderr
    forged = govrl(*args, "--pdf", forgery.pdf, "--policy", THREE, "--trust", pki.ca.cert)
    assert forged.exit_code == 1  # refused before MLflow is asked (that would be exit 3)
    assert "not published: signature 'owner' by Olive Owner: the certificate does not chain" in (
        forged.stderr
    )


# ---------------------------------------------------------------- (f) years later


def _long_policy(folder: Path, *, require_timestamp: bool = False) -> Path:
    """The three-signer policy with approvals valid three years (and timestamps if asked)."""
    text = THREE.read_text().replace("validity_days: 30", "validity_days: 1095")
    text = text.replace("id: three-signers", "id: three-signers-long")
    if require_timestamp:
        text = text.replace(
            "    validity_days: 1095\n", "    validity_days: 1095\n    require_timestamp: true\n"
        )
    path = folder / ("long-ts.yaml" if require_timestamp else "long.yaml")
    path.write_text(text)
    return path


@dataclass(frozen=True)
class LongLived:
    policy: Path
    plain: Path  # signed by the three reviewers, no timestamps
    stamped: Path  # the same, each signature timestamped
    tsa_root: Path


@pytest.fixture(scope="module")
def long_lived(
    tmp_path_factory: pytest.TempPathFactory, pki: Pki, reviewers: dict[str, Reviewer]
) -> LongLived:
    folder = tmp_path_factory.mktemp("long")
    policy = _long_policy(folder)
    unsigned = folder / "approval.pdf"
    record = write_record(folder / "record.yaml", tier=3)
    rendered = govrl("render", record, "--kind", "approval", "--policy", policy, "-o", unsigned)
    assert rendered.exit_code == 0, rendered.output
    (folder / "plain").mkdir()
    plain = sign_in_turn(unsigned, folder / "plain", pki, reviewers, ROLES)
    stamped_folder = folder / "stamped"
    stamped_folder.mkdir()
    with timestamp_authority() as tsa:
        current = unsigned
        for n, role in enumerate(ROLES):
            out = stamped_folder / f"signed-{n}.pdf"
            done = sign(current, out, reviewers[role], pki, "--tsa", tsa.url)
            assert done.exit_code == 0, done.stderr
            current = out
    assert len(tsa.served) >= 3  # pyHanko also asks once per signature to size the token
    return LongLived(policy, plain, current, tsa.write_cert(folder / "tsa.pem"))


def run_at(moment: dt.datetime, *command: str | Path) -> subprocess.CompletedProcess[str]:
    """``command`` in a real process whose clock libfaketime moves to ``moment``."""
    if shutil.which("faketime") is None:  # a skipped clock test would prove nothing
        pytest.fail("libfaketime's faketime is needed: apt-get install faketime (as .ci/run does)")
    env = {k: v for k, v in os.environ.items() if k != "GOVRL_TRUST"} | {"TZ": "UTC"}
    clock = moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    return subprocess.run(
        ["faketime", clock, *map(str, command)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


def govrl_at(moment: dt.datetime, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """`python -m govrl ARGS` with the process's clock at ``moment``."""
    return run_at(moment, sys.executable, "-m", "govrl", *args)


def test_a_genuine_approval_still_verifies_two_years_later(
    long_lived: LongLived, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    from cryptography import x509

    later = dt.datetime.now(dt.UTC) + TWO_YEARS
    for reviewer in reviewers.values():  # every signer's certificate has expired by then
        cert = x509.load_pem_x509_certificate(reviewer.cert.read_bytes())
        assert cert.not_valid_after_utc < later
    clock = run_at(later, sys.executable, "-c", "import time; print(time.time())")
    assert float(clock.stdout) > (later - dt.timedelta(hours=1)).timestamp()  # really moved
    result = govrl_at(
        later, "verify", long_lived.plain, "--trust", pki.ca.cert, "--policy", long_lived.policy
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{long_lived.plain}: VERIFIED (trust anchors from --trust" in result.stdout
    assert result.stdout.count("signing time claimed, not proven") == 3
    assert "signing time claimed, not proven" in result.stderr  # the warning, on screen too
    report = json.loads(
        govrl_at(
            later, "verify", long_lived.plain, "--trust", pki.ca.cert,
            "--policy", long_lived.policy, "--json",
        ).stdout
    )  # fmt: skip
    assert [s["signing_time"] for s in report["signatures"]] == [
        "signing time claimed, not proven"
    ] * 3
    assert not any(s["time_proven"] for s in report["signatures"])


def test_a_timestamped_approval_verifies_two_years_later_with_its_time_proven(
    long_lived: LongLived, pki: Pki
) -> None:
    later = dt.datetime.now(dt.UTC) + TWO_YEARS
    anchors = ("--trust", pki.ca.cert, "--trust", long_lived.tsa_root)
    result = govrl_at(
        later, "verify", long_lived.stamped, *anchors, "--policy", long_lived.policy, "--json"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "VERIFIED"
    assert [s["signing_time"] for s in report["signatures"]] == [
        "signing time proven by a timestamp from Test TSA"
    ] * 3
    assert all(s["time_proven"] for s in report["signatures"])
    assert not any("claimed, not proven" in w for w in report["warnings"])


def test_a_timestamp_from_an_untrusted_authority_proves_nothing(
    long_lived: LongLived, pki: Pki
) -> None:
    result = verify(long_lived.stamped, "--trust", pki.ca.cert, "--json", policy=long_lived.policy)
    report = json.loads(result.stdout)
    assert result.exit_code == 0, report["problems"]
    assert not any(s["time_proven"] for s in report["signatures"])
    assert any("claimed, not proven" in w for w in report["warnings"])


def _sign_at(
    moment: dt.datetime, pdf: Path, out: Path, reviewer: Reviewer, policy: Path
) -> subprocess.CompletedProcess[str]:
    """Sign through the library with the signer's clock at ``moment`` (a lying or wrong clock);
    the gate is judged as of today, so only the claimed signing time moves."""
    script = (
        "import datetime, sys\n"
        "from pathlib import Path\n"
        "from govrl.documents import keys, signing\n"
        "from govrl.review.checklist import ChecklistLibrary\n"
        "from govrl.review.policy import load_policy\n"
        "pdf, out, key, cert, role, policy, today = sys.argv[1:]\n"
        f"creds = keys.load_credentials(Path(key), Path(cert), {PASSPHRASE!r})\n"
        "signing.sign_pdf(Path(pdf), Path(out), creds, role, policy=load_policy(Path(policy)),\n"
        "    library=ChecklistLibrary.discover(), today=datetime.date.fromisoformat(today))\n"
    )
    args = [pdf, out, reviewer.key, reviewer.cert, reviewer.role, policy, dt.date.today()]
    return run_at(moment, sys.executable, "-c", script, *args)


def test_a_signature_claimed_after_the_approval_expired_fails(
    unsigned_approval: Path, tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    """Signed on day 60 of an approval valid 30 days, with a certificate valid a year."""
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=60)
    out = tmp_path / "late.pdf"
    done = _sign_at(later, unsigned_approval, out, reviewers["owner"], THREE)
    assert done.returncode == 0, done.stderr
    result = govrl_at(
        later, "verify", out, "--trust", pki.ca.cert, "--policy", THREE,
        "--at", dt.date.today().isoformat(),  # expiry itself judged as of today
    )  # fmt: skip
    assert result.returncode == 1
    assert "signature 'owner' by Olive Owner: signed on" in result.stderr
    assert "after the approval's validity ended on" in result.stderr
    assert "claimed signing time" not in result.stderr  # not in the future, not outside the cert


def test_a_signature_claimed_outside_its_certificate_fails(
    unsigned_approval: Path, tmp_path: Path, pki: Pki
) -> None:
    """A certificate not valid until next week cannot have made a signature today, and a
    signature claiming a time past its certificate's end fails as well."""
    from govrl.documents import keys
    from govrl.documents.signing import sign_pdf
    from govrl.documents.verification import verify_pdf
    from govrl.review.checklist import ChecklistLibrary
    from govrl.review.policy import load_policy

    early = pki.reviewer(
        "Early Owner", "owner", not_before=dt.datetime.now(dt.UTC) + dt.timedelta(days=7)
    )
    out = tmp_path / "early.pdf"
    policy = load_policy(THREE)
    creds = keys.load_credentials(early.key, early.cert, PASSPHRASE)
    sign_pdf(
        unsigned_approval, out, creds, "owner", policy=policy, library=ChecklistLibrary.discover()
    )
    report = verify_pdf(out, policy=policy, trust=[keys.load_certificates(pki.ca.cert)[0]])
    assert any(
        "its claimed signing time" in p and "outside its certificate's validity" in p
        for p in report.problems
    ), report.problems
    assert "owner" in report.missing_roles

    short = pki.reviewer("Brief Owner", "owner", days=30)
    late = tmp_path / "late.pdf"
    done = _sign_at(
        dt.datetime.now(dt.UTC) + dt.timedelta(days=40), unsigned_approval, late, short, THREE
    )
    assert done.returncode == 0, done.stderr
    result = verify(late, "--trust", pki.ca.cert, "--at", dt.date.today().isoformat())
    assert result.exit_code == 1
    assert "is in the future" in result.stderr
    assert "outside its certificate's validity" in result.stderr


def test_an_injected_clock_judges_the_same_as_a_moved_one(long_lived: LongLived, pki: Pki) -> None:
    from govrl.documents.keys import load_certificates
    from govrl.documents.verification import verify_pdf
    from govrl.review.policy import load_policy

    later = dt.datetime.now(dt.UTC) + TWO_YEARS
    report = verify_pdf(
        long_lived.plain,
        policy=load_policy(long_lived.policy),
        trust=load_certificates(pki.ca.cert),
        now=later,
    )
    assert report.ok and report.verdict == "VERIFIED", report.problems
    expired = verify_pdf(
        long_lived.plain,
        policy=load_policy(long_lived.policy),
        trust=load_certificates(pki.ca.cert),
        now=later + dt.timedelta(days=400),
    )
    assert not expired.ok and any("the approval expired on" in p for p in expired.problems)


def test_sign_with_anchors_checks_the_chain_and_embeds_it(
    unsigned_approval: Path, tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    """PAdES B-LT: the document carries its signers' chains, so it verifies without them."""
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from govrl.documents.keys import load_certificates
    from govrl.documents.pdffile import open_pdf

    current = unsigned_approval
    for n, role in enumerate(ROLES):
        out = tmp_path / f"lt-{n}.pdf"
        done = sign(current, out, reviewers[role], pki, "--trust", str(pki.ca.cert))
        assert done.exit_code == 0, done.stderr
        assert "PAdES B-LT: the chain to trust anchors from --trust" in done.stdout
        current = out
    dss = open_pdf(current).reader.root["/DSS"]
    embedded = {asn1_x509.Certificate.load(c.get_object().data).dump() for c in dss["/Certs"]}
    assert load_certificates(pki.ca.cert)[0].public_bytes(Encoding.DER) in embedded
    result = verify(current, "--trust", pki.ca.cert)
    assert result.exit_code == 0, result.output
    assert pdfsig(current).count("Signature is Valid.") == 3

    stranger = make_pki(tmp_path / "stranger", name="Someone Else CA")
    refused = sign(
        unsigned_approval,
        tmp_path / "no.pdf",
        reviewers["owner"],
        pki,
        "--trust",
        str(stranger.ca.cert),
    )
    assert refused.exit_code == 1 and "could not be validated" in refused.stderr
    assert not (tmp_path / "no.pdf").exists()
    with timestamp_authority() as tsa:
        unknown_tsa = sign(
            unsigned_approval, tmp_path / "ts.pdf", reviewers["owner"], pki,
            "--trust", str(pki.ca.cert), "--tsa", tsa.url,
        )  # fmt: skip
    assert unknown_tsa.exit_code == 1
    assert "the timestamp authority's certificate does not chain" in unknown_tsa.stderr


# ---------------------------------------------------------------- (g) timestamps required


def test_a_policy_that_requires_timestamps_fails_an_untimestamped_signature(
    long_lived: LongLived, pki: Pki, tmp_path: Path
) -> None:
    strict = _long_policy(tmp_path, require_timestamp=True)
    plain = verify(long_lived.plain, "--trust", pki.ca.cert, policy=strict)
    assert plain.exit_code == 1
    assert (
        "signature 'owner': policy three-signers-long requires a timestamp from a trusted "
        "authority at tier 3 (signing time claimed, not proven)" in plain.stderr
    )
    assert "required roles not validly signed: owner, domain-expert, independent-validator" in (
        plain.stderr
    )
    stamped = verify(
        long_lived.stamped, "--trust", pki.ca.cert, "--trust", long_lived.tsa_root, policy=strict
    )
    assert stamped.exit_code == 0, stamped.output
    untrusted_stamp = verify(long_lived.stamped, "--trust", pki.ca.cert, policy=strict)
    assert untrusted_stamp.exit_code == 1 and "requires a timestamp" in untrusted_stamp.stderr


# ---------------------------------------------------------------- (h) other verifiers agree


def test_pdfsig_still_calls_the_honest_signatures_valid(
    signed_approval: Path, long_lived: LongLived
) -> None:
    for pdf in (signed_approval, long_lived.plain, long_lived.stamped):
        listing = pdfsig(pdf)
        assert listing.count("Signature is Valid.") == 3, listing
