"""Roles are people, refusals stay refusals, untrusted text is printed as text, and -o never
silently replaces what it should not: one test per way around each."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from govrl.cli import main
from govrl.documents import keys
from tests.support.approvals import (
    ROLES,
    THREE,
    govrl,
    render_approval,
    sign,
    sign_in_turn,
    verify,
)
from tests.support.paths import DATA
from tests.support.pki import PASSPHRASE, Pki, Reviewer
from tests.support.records import write_record

ESCAPES = "\x1b]0;owned\x07\x1b[1A\x1b[2K\rVERIFIED\x9b31m\x7f"
BIDI = "\u202e\u2066\u200f\u061c"
UNSAFE = set("\x1b\x07\x9b\x7f\r") | set(BIDI)


def _inert(text: str) -> bool:
    return not UNSAFE & set(text)


def _cert(path: Path) -> object:
    return keys.load_certificates(path)[0]


def _roleless(pki: Pki, name: str = "Rolf Roleless") -> Reviewer:
    """A certificate whose subject title says owner, with no role extension."""
    return pki.issue(name, None, title="owner")


def _bare_sign(pdf: Path, out: Path, who: Reviewer, field: str) -> Path:
    """Sign ``field`` with pyHanko alone, as someone without govrl's refusals would."""
    from pyhanko.keys import load_cert_from_pemder, load_private_key_from_pemder
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    from govrl.documents.pdffile import open_pdf, signature_reason
    from govrl.record.identity import digest_of

    doc = open_pdf(pdf)
    assert doc.record_json is not None
    signer = signers.SimpleSigner(
        signing_cert=load_cert_from_pemder(str(who.cert)),
        signing_key=load_private_key_from_pemder(str(who.key), PASSPHRASE),
        cert_registry=SimpleCertificateStore(),  # type: ignore[no-untyped-call]
    )
    meta = signers.PdfSignatureMetadata(
        field_name=field,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=signature_reason(field, digest_of(doc.record_json)),
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(doc.data), strict=False)
    out.write_bytes(signers.PdfSigner(meta, signer=signer).sign_pdf(writer).getvalue())
    return out


def _bare_sign_all(pdf: Path, folder: Path, signers: dict[str, Reviewer]) -> Path:
    current = pdf
    for n, (field, who) in enumerate(signers.items()):
        current = _bare_sign(current, folder / f"bare-{n}.pdf", who, field)
    return current


def _report(pdf: Path, pki: Pki, *extra: str, policy: Path = THREE) -> dict[str, Any]:
    result = verify(pdf, "--json", *extra, trust=pki.ca.cert, policy=policy)
    report: dict[str, Any] = json.loads(result.stdout)
    assert result.exit_code == (0 if report["ok"] else 1)
    return report


# ---------------------------------------------------------------- roles bound to certificates


def test_the_role_is_read_from_the_certificate_extension_never_the_title(
    tmp_path: Path, runner: CliRunner, pki: Pki
) -> None:
    from govrl.documents.roles import certificate_role, role_problems

    made = runner.invoke(
        main,
        ["keys", "new", "--name", "Olga Owner", "--role", "owner", "-o", str(tmp_path),
         "--passphrase-file", str(pki.passphrase_file)],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    issued = _cert(tmp_path / "Olga-Owner.cert.pem")
    assert certificate_role(issued) == "owner"
    assert role_problems(issued, "owner") == []
    titled = _cert(_roleless(pki).cert)
    assert certificate_role(titled) is None
    assert role_problems(titled, "owner") == [
        "signature 'owner': the certificate may not sign for 'owner': "
        "it names no reviewer role (no role extension)"
    ]


def test_a_role_less_ca_or_wrong_role_certificate_fills_no_role(
    pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    from govrl.documents.roles import certificate_problems

    assert certificate_problems(_cert(reviewers["owner"].cert), "owner") == []
    assert certificate_problems(_cert(pki.issue("Nobody", None).cert), "owner") == [
        "it names no reviewer role (no role extension)"
    ]
    ca_own = certificate_problems(_cert(pki.ca.cert), "owner")
    assert "it names no reviewer role (no role extension)" in ca_own
    assert any("CA certificate" in p for p in ca_own)
    assert any("neither digitalSignature nor nonRepudiation" in p for p in ca_own)
    ca_with_role = certificate_problems(_cert(pki.issue("Sub CA", "owner", ca=True).cert), "owner")
    assert ca_with_role == ["it is a CA certificate (basicConstraints cA=true), not a reviewer's"]
    encipher_only = pki.issue("Kim", "owner", usage=("key_encipherment",))
    assert certificate_problems(_cert(encipher_only.cert), "owner") == [
        "its key usage allows neither digitalSignature nor nonRepudiation"
    ]
    assert certificate_problems(_cert(reviewers["domain-expert"].cert), "owner") == [
        "it was issued for role 'domain-expert'"
    ]


def test_one_person_is_found_behind_two_role_certificates(
    pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    from govrl.documents.roles import same_person, shared_signers

    owner = reviewers["owner"]
    same_key = pki.issue("Olive Owner's alias", "domain-expert", key_of=owner)
    same_subject = pki.issue("olive  OWNER", "domain-expert", title="domain-expert")
    other = reviewers["domain-expert"]
    first = _cert(owner.cert)
    assert same_person(first, first) == "the same certificate"
    assert same_person(first, _cert(same_key.cert)) == "the same key under two certificates"
    assert same_person(first, _cert(same_subject.cert)) == "the same subject (Olive Owner)"
    assert same_person(first, _cert(other.cert)) is None
    found = shared_signers([("owner", first), ("domain-expert", _cert(same_key.cert))])
    assert list(found) == ["domain-expert"]
    assert "signed by the person who signed 'owner'" in found["domain-expert"][0]


def test_the_tier_rule_asks_for_distinct_signers_at_tier_3_by_default() -> None:
    from govrl.review.policy import distinct_signers, load_policy
    from govrl.vocabulary import RiskTier

    policy = load_policy(THREE)
    assert [distinct_signers(policy.tiers[t], t) for t in RiskTier] == [False, False, True]
    rule = policy.tiers[RiskTier.HIGH].model_copy(update={"distinct_signers": False})
    assert distinct_signers(rule, RiskTier.HIGH) is False


@pytest.mark.parametrize(
    "kind", ["role-less", "the CA's own key", "a CA with a role", "another role"]
)
@pytest.mark.pdf
@pytest.mark.slow
def test_sign_refuses_a_certificate_that_fills_no_role_even_forced(
    unsigned_approval: Path, tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer], kind: str
) -> None:
    who = {
        "role-less": lambda: dataclasses.replace(_roleless(pki), role="owner"),
        "the CA's own key": lambda: Reviewer("CA", "owner", pki.ca.key, pki.ca.cert),
        "a CA with a role": lambda: pki.issue("Sub CA", "owner", ca=True),
        "another role": lambda: dataclasses.replace(reviewers["domain-expert"], role="owner"),
    }[kind]()
    out = tmp_path / "signed.pdf"
    for extra in ((), ("--force",)):
        refused = sign(unsigned_approval, out, who, pki, *extra)
        assert refused.exit_code == 1, refused.output
        assert "refusing to sign as 'owner' with this certificate" in refused.stderr
        assert not out.exists()


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("role-less", "it names no reviewer role"),
        ("the CA's own key", "it is a CA certificate"),
        ("a CA with a role", "it is a CA certificate"),
        ("another role", "it was issued for role 'domain-expert'"),
    ],
)
@pytest.mark.pdf
@pytest.mark.slow
def test_a_signature_by_a_certificate_that_fills_no_role_fails_verify(
    unsigned_approval: Path,
    tmp_path: Path,
    pki: Pki,
    reviewers: dict[str, Reviewer],
    kind: str,
    reason: str,
) -> None:
    """Signed with pyHanko alone, past govrl's refusals: the owner's field fails, so the role is
    missing, while the two good signatures still hold."""
    bad = {
        "role-less": lambda: _roleless(pki),
        "the CA's own key": lambda: Reviewer("CA", "owner", pki.ca.key, pki.ca.cert),
        "a CA with a role": lambda: pki.issue("Sub CA", "owner", ca=True),
        "another role": lambda: pki.issue("Dirk Domain", "domain-expert"),
    }[kind]()
    signers = {"owner": bad, "independent-validator": reviewers["independent-validator"]}
    pdf = _bare_sign_all(unsigned_approval, tmp_path, signers)
    pdf = sign_in_turn(pdf, tmp_path, pki, reviewers, ["domain-expert"])
    report = _report(pdf, pki)
    assert report["ok"] is False
    problems = "\n".join(report["problems"])
    assert f"signature 'owner': the certificate may not sign for 'owner': {reason}" in problems
    assert "required roles not validly signed: owner" in problems


@pytest.mark.pdf
@pytest.mark.slow
def test_one_person_cannot_fill_two_roles_at_tier_3(
    unsigned_approval: Path, tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    owner = reviewers["owner"]
    (tmp_path / "last").mkdir()
    first = sign_in_turn(unsigned_approval, tmp_path, pki, reviewers, ["owner"])
    alias = pki.issue("Olive O.", "domain-expert", key_of=owner)
    refused = sign(first, tmp_path / "two.pdf", alias, pki)
    assert refused.exit_code == 1 and "a different person for each role" in refused.stderr
    assert "'owner' (the same key under two certificates)" in refused.stderr
    forced = sign(first, tmp_path / "two.pdf", alias, pki, "--force")
    assert forced.exit_code == 0, forced.stderr
    pdf = sign_in_turn(
        tmp_path / "two.pdf", tmp_path / "last", pki, reviewers, ["independent-validator"]
    )
    report = _report(pdf, pki, "--accept-forced")  # the refusal accepted, the person is not
    assert report["ok"] is False
    assert report["missing_roles"] == ["domain-expert"]
    assert any("signed by the person who signed 'owner'" in p for p in report["problems"])
    # The same certificate in two fields, signed past every refusal with pyHanko alone.
    same = _bare_sign_all(
        unsigned_approval,
        tmp_path,
        {"owner": owner, "domain-expert": owner, "independent-validator": owner},
    )
    report = _report(same, pki)
    assert report["missing_roles"] == ["domain-expert", "independent-validator"]


@pytest.mark.pdf
@pytest.mark.slow
def test_one_person_may_fill_two_roles_below_tier_3_unless_the_policy_says_otherwise(
    tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    record = write_record(tmp_path / "r.yaml", tier=2)
    pdf = tmp_path / "a.pdf"
    assert render_approval(record, pdf).exit_code == 0
    signers = {
        "owner": reviewers["owner"],
        "domain-expert": pki.issue("Olive again", "domain-expert", key_of=reviewers["owner"]),
    }
    signed = _bare_sign_all(pdf, tmp_path, signers)
    assert _report(signed, pki)["ok"] is True
    strict = tmp_path / "strict.yaml"
    strict.write_text(
        THREE.read_text(encoding="utf-8").replace(
            "signers: [owner, domain-expert], validity_days: 30}",
            "signers: [owner, domain-expert], validity_days: 30, distinct_signers: true}",
        ),
        encoding="utf-8",
    )
    assert "distinct_signers: true" in strict.read_text(encoding="utf-8")
    report = _report(signed, pki, policy=strict)
    assert report["ok"] is False and report["missing_roles"] == ["domain-expert"]


# ---------------------------------------------------------------- refusals stay refusals


@pytest.fixture(scope="module")
def rejected_approval(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The approval of a tier-3 record whose gate rejects it."""
    folder = tmp_path_factory.mktemp("rejected")
    out = folder / "rejected.pdf"
    record = write_record(folder / "r.yaml", tier=3, ci_low=10.0)
    assert render_approval(record, out).exit_code == 0
    return out


@pytest.mark.pdf
@pytest.mark.slow
def test_forced_signatures_fail_verify_unless_accepted(
    rejected_approval: Path, tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    current = rejected_approval
    for n, role in enumerate(ROLES):
        out = tmp_path / f"forced-{n}.pdf"
        done = sign(current, out, reviewers[role], pki, "--force")
        assert done.exit_code == 0, done.stderr
        current = out
    failed = verify(current, trust=pki.ca.cert)
    assert failed.exit_code == 1
    verdict = failed.stdout.splitlines()[0]
    assert "FAILED (refused: the document's decision is reject, not approve" in verdict
    assert "forced past a refusal: signature(s) 'owner', 'domain-expert'" in verdict
    accepted = verify(current, "--accept-forced", trust=pki.ca.cert)
    assert accepted.exit_code == 0, accepted.stdout + accepted.stderr
    assert "VERIFIED (accepted with --accept-forced: " in accepted.stdout.splitlines()[0]
    report = _report(current, pki, "--accept-forced")
    assert report["refusals_accepted"] is True and len(report["refusals"]) == 2
    assert str(report["verdict"]).startswith("VERIFIED (accepted with --accept-forced")


@pytest.mark.pdf
@pytest.mark.slow
def test_an_approval_of_a_rejected_record_fails_even_unforced(
    rejected_approval: Path, tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    """Signed with pyHanko alone, so no signature carries govrl's FORCED mark."""
    pdf = _bare_sign_all(rejected_approval, tmp_path, {r: reviewers[r] for r in ROLES})
    report = _report(pdf, pki)
    assert report["ok"] is False
    assert report["refusals"] == ["the document's decision is reject, not approve"]
    assert not any(s["forced"] for s in report["signatures"])


# ---------------------------------------------------------------- untrusted text printed as text


def test_terminal_text_is_made_inert() -> None:
    from govrl.safetext import json_safe, name_problem, one_line, printable

    assert printable(f"Eve{ESCAPES}{BIDI}\nnext\tline") == "Eve????VERIFIED??????\nnext\tline"
    assert one_line("a\nb\u2028c\td") == "a b c d"
    assert name_problem("Zoë Ødegård") is None
    assert "U+202E" in (name_problem("Eve\u202e") or "")
    as_json = json.dumps({"n": ESCAPES + BIDI}, ensure_ascii=False)
    assert _inert(json_safe(as_json)) and json.loads(json_safe(as_json)) == {"n": ESCAPES + BIDI}


def test_names_with_bidi_or_control_characters_fail_validation_with_their_path(
    tmp_path: Path, runner: CliRunner
) -> None:
    from govrl.errors import InputError
    from govrl.review.policy import parse_policy

    text = (DATA / "valid-minimal.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bidi.yaml"
    bad.write_text(
        text.replace("name: Ada Byron", 'name: "Ada \\u202eByron"').replace(
            "name: Shelf ranker", 'name: "Shelf \\e]0;owned\\a ranker"'
        ),
        encoding="utf-8",
    )
    result = runner.invoke(main, ["validate", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:11 system.owner.name: the name contains the bidi control U+202E" in result.stderr
    assert f"{bad}:5 system.name: the name contains the control character U+001B" in result.stderr
    assert _inert(result.output)
    policy = THREE.read_text(encoding="utf-8").replace("id: three-signers", 'id: "thr\\u202eee"')
    with pytest.raises(InputError, match=r"policy.yaml:\d+ id: the name contains the bidi"):
        parse_policy(policy, "policy.yaml")


def test_keys_new_refuses_a_name_with_control_or_bidi_characters(
    tmp_path: Path, runner: CliRunner, pki: Pki
) -> None:
    for name in (f"Mallory{ESCAPES}", f"Mallory{BIDI}"):
        result = runner.invoke(
            main,
            ["keys", "new", "--name", name, "--role", "owner", "-o", str(tmp_path),
             "--passphrase-file", str(pki.passphrase_file)],
        )  # fmt: skip
        assert result.exit_code == 2 and "the reviewer name" in result.stderr
        assert _inert(result.output)
    assert list(tmp_path.iterdir()) == []


def test_checklist_text_and_file_names_are_printed_inert(tmp_path: Path, runner: CliRunner) -> None:
    from govrl.yamlio import load

    folder = tmp_path / "mine"
    folder.mkdir()
    hostile = load(Path(__file__).parent.parent / "checklists" / "recommender.yaml").data
    hostile["id"] = "hostile"
    hostile["items"][0]["question"] = f"Has the {ESCAPES}{BIDI} reward been checked?"
    (folder / "hostile.yaml").write_text(json.dumps(hostile), encoding="utf-8")
    shown = runner.invoke(main, ["checklists", "show", "hostile", "--checklists", str(folder)])
    assert shown.exit_code == 0, shown.output
    assert "Has the ??? VERIFIED?????? reward" in shown.stdout and _inert(shown.output)
    as_json = runner.invoke(
        main, ["checklists", "show", "hostile", "--checklists", str(folder), "--json"]
    )
    assert _inert(as_json.stdout)
    question = json.loads(as_json.stdout)["items"][0]["question"]
    assert question == f"Has the {ESCAPES}{BIDI} reward been checked?"  # the exact text
    named = tmp_path / f"evil{ESCAPES}.yaml"
    shutil.copy(DATA / "valid-minimal.yaml", named)
    checked = runner.invoke(main, ["validate", str(named)])
    assert checked.exit_code == 0 and "valid" in checked.stdout and _inert(checked.output)
    broken = tmp_path / f"broken{BIDI}.yaml"
    broken.write_text("system: [\n", encoding="utf-8")
    failed = runner.invoke(main, ["gate", str(broken), "--policy", str(THREE)])
    assert failed.exit_code == 1 and "error: " in failed.stderr and _inert(failed.output)


@pytest.mark.pdf
@pytest.mark.slow
def test_an_escape_laden_common_name_is_printed_inert(
    unsigned_approval: Path, tmp_path: Path, pki: Pki
) -> None:
    name = f"Mallory{ESCAPES}{BIDI} Owner"
    mallory = pki.issue(name, "owner")
    out = tmp_path / "signed.pdf"
    refused = sign(unsigned_approval, out, mallory, pki)  # its name would not show as stored
    assert refused.exit_code == 1 and "its subject name 'Mallory????VERIFIED" in refused.stderr
    assert _inert(refused.output) and not out.exists()
    _bare_sign(unsigned_approval, out, mallory, "owner")
    checked = verify(out, trust=pki.ca.cert)
    assert checked.exit_code == 1  # two roles are still missing
    assert _inert(checked.output)
    lines = checked.stdout.splitlines()
    assert lines[0].startswith(f"{out}: FAILED")
    assert "Mallory??? VERIFIED" in checked.stdout  # the carriage return, a space on one line
    assert not any(line.lstrip().startswith("VERIFIED") for line in lines)
    as_json = verify(out, "--json", trust=pki.ca.cert)
    assert _inert(as_json.stdout)
    assert json.loads(as_json.stdout)["signatures"][0]["signer"] == name  # the exact name


# ---------------------------------------------------------------- no silent overwrites


def test_o_onto_the_input_record_is_refused_unless_overwrite(
    minimal_record: Path, runner: CliRunner
) -> None:
    before = minimal_record.read_bytes()
    refused = runner.invoke(main, ["export", "hf", str(minimal_record), "-o", str(minimal_record)])
    assert refused.exit_code == 2
    assert "is this command's input" in refused.stderr and "--overwrite" in refused.stderr
    assert minimal_record.read_bytes() == before
    done = runner.invoke(
        main, ["export", "hf", str(minimal_record), "-o", str(minimal_record), "--overwrite"]
    )
    assert done.exit_code == 0, done.output
    assert minimal_record.read_bytes() != before


@pytest.mark.pdf
@pytest.mark.slow
def test_o_onto_the_input_or_a_signed_pdf_is_refused_unless_overwrite(
    unsigned_approval: Path,
    signed_approval: Path,
    tmp_path: Path,
    pki: Pki,
    reviewers: dict[str, Reviewer],
) -> None:
    pdf = Path(shutil.copy(unsigned_approval, tmp_path / "approval.pdf"))
    kept = Path(shutil.copy(signed_approval, tmp_path / "signed.pdf"))
    before, signed_before = pdf.read_bytes(), kept.read_bytes()
    onto_input = sign(pdf, pdf, reviewers["owner"], pki)
    assert onto_input.exit_code == 2 and "is this command's input" in onto_input.stderr
    assert pdf.read_bytes() == before
    onto_signed = sign(pdf, kept, reviewers["owner"], pki)
    assert onto_signed.exit_code == 2 and "is a signed PDF" in onto_signed.stderr
    record = write_record(tmp_path / "r.yaml", tier=3)
    rendered = govrl("render", record, "--kind", "approval", "--policy", THREE, "-o", kept)
    assert rendered.exit_code == 2 and "destroy its signatures" in rendered.stderr
    assert kept.read_bytes() == signed_before
    forced = sign(pdf, pdf, reviewers["owner"], pki, "--overwrite")
    assert forced.exit_code == 0, forced.stderr
    assert pdf.read_bytes().startswith(before) and len(pdf.read_bytes()) > len(before)
    rendered = govrl(
        "render", record, "--kind", "approval", "--policy", THREE, "-o", kept, "--overwrite"
    )
    assert rendered.exit_code == 0 and kept.read_bytes() != signed_before
