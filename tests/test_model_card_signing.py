"""Signed model cards: fields for the policy's card signers, verified without a validity period,
accepted by pdfsig and by the archive."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from govrl.cli import main
from tests.support.approvals import THREE, govrl, sign, verify
from tests.support.pki import PASSPHRASE, Pki, Reviewer
from tests.support.records import write_record

pytestmark = [pytest.mark.pdf, pytest.mark.slow]

CARD_ROLES = ["owner", "independent-validator"]  # a policy's model_card.signers by default


def render_card(record: Path, out: Path, policy: Path = THREE) -> Result:
    return govrl("render", record, "--kind", "model-card", "--policy", policy, "-o", out)


def pdftotext(pdf: Path) -> str:
    done = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True)
    return done.stdout


@pytest.fixture(scope="module")
def unsigned_card(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("card")
    out = folder / "card.pdf"
    result = render_card(write_record(folder / "record.yaml", tier=3), out)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def signed_card(
    unsigned_card: Path,
    tmp_path_factory: pytest.TempPathFactory,
    pki: Pki,
    reviewers: dict[str, Reviewer],
) -> Path:
    folder = tmp_path_factory.mktemp("signed-card")
    current = unsigned_card
    for n, role in enumerate(CARD_ROLES):
        out = folder / f"card-signed-{n}.pdf"
        done = sign(current, out, reviewers[role], pki)
        assert done.exit_code == 0, done.stderr
        current = out
    return current


def test_a_card_has_an_empty_field_per_card_signer(unsigned_card: Path) -> None:
    from govrl.documents.pdffile import open_pdf
    from govrl.documents.signing import signature_fields

    assert signature_fields(open_pdf(unsigned_card)) == dict.fromkeys(CARD_ROLES, False)


def test_a_signed_card_verifies_without_a_validity_period(signed_card: Path, pki: Pki) -> None:
    result = verify(signed_card, "--json", trust=pki.ca.cert)
    assert result.exit_code == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] and report["verdict"] == "VERIFIED"
    assert report["required_roles"] == CARD_ROLES and report["missing_roles"] == []
    assert report["valid_until"] is None and report["expired"] is None
    assert not any("validity" in p for p in report["problems"])
    assert [s["signer"] for s in report["signatures"]] == ["Olive Owner", "Ivan Independent"]


def test_pdfsig_accepts_a_signed_card(signed_card: Path) -> None:
    listing = subprocess.run(["pdfsig", str(signed_card)], capture_output=True, text=True).stdout
    assert listing.count("Signature is Valid.") == 2, listing
    assert "Olive Owner" in listing and "Ivan Independent" in listing


def test_a_card_signature_names_the_card_and_its_record(signed_card: Path) -> None:
    from govrl.documents.pdffile import open_pdf, reason_of
    from govrl.record.identity import digest_of

    doc = open_pdf(signed_card)
    assert doc.record_json is not None
    digest = digest_of(doc.record_json)
    reasons = [reason_of(s) for s in doc.reader.embedded_signatures]
    assert reasons == [f"govrl model-card, role {role}, record {digest}" for role in CARD_ROLES]


def test_a_card_missing_a_signer_fails(
    unsigned_card: Path, tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    out = tmp_path / "owner-only.pdf"
    assert sign(unsigned_card, out, reviewers["owner"], pki).exit_code == 0
    result = verify(out, "--json", trust=pki.ca.cert)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["missing_roles"] == ["independent-validator"]


def test_a_role_the_card_does_not_ask_for_is_refused(
    unsigned_card: Path, tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    out = tmp_path / "x.pdf"
    refused = sign(unsigned_card, out, reviewers["domain-expert"], pki)
    assert refused.exit_code == 1 and not out.exists()
    assert "asks model cards for role(s) owner, independent-validator" in refused.stderr


def test_the_policy_names_the_card_signers(tmp_path: Path) -> None:
    from govrl.documents.pdffile import open_pdf
    from govrl.documents.signing import signature_fields

    policy = tmp_path / "policy.yaml"
    policy.write_text(
        THREE.read_text(encoding="utf-8") + "model_card:\n  signers: [owner]\n", encoding="utf-8"
    )
    out = tmp_path / "card.pdf"
    result = render_card(write_record(tmp_path / "record.yaml", tier=3), out, policy)
    assert result.exit_code == 0, result.output
    assert signature_fields(open_pdf(out)) == {"owner": False}


def test_the_sign_off_page_has_no_blank_name_or_date_lines(unsigned_card: Path) -> None:
    text = pdftotext(unsigned_card)
    signoff = text[text.index("Sign-off\n") :] if "Sign-off\n" in text else text
    assert "signature field “owner”" in signoff
    lines = [line.strip() for line in signoff.splitlines()]
    assert "Name" not in lines and "Date" not in lines
    assert "name on the signer's certificate and the signing time" in " ".join(text.split())


# ---------------------------------------------------------------- archive


def test_archive_add_accepts_a_signed_card(signed_card: Path, tmp_path: Path, pki: Pki) -> None:
    key = pki.reviewer("Card archive key", "archive")  # a name no other test gives a key
    env = {
        "GOVRL_ARCHIVE_KEY": str(key.key),
        "GOVRL_ARCHIVE_CERT": str(key.cert),
        "GOVRL_KEY_PASSPHRASE": PASSPHRASE.decode(),
    }
    store = tmp_path / "store"
    args = ["archive", "add", str(signed_card), "--store", str(store), "--policy", str(THREE)]
    added = CliRunner().invoke(main, [*args, "--trust", str(pki.ca.cert)], env=env)
    assert added.exit_code == 0, added.output
    entries = [json.loads(line) for line in (store / "log.jsonl").read_text().splitlines()]
    assert entries[-1]["document"]["kind"] == "model-card"
    assert [s["role"] for s in entries[-1]["signers"]] == CARD_ROLES
    checked = CliRunner().invoke(
        main,
        [
            "archive",
            "verify",
            "--store",
            str(store),
            "--trust",
            str(pki.ca.cert),
            "--policy",
            str(THREE),
        ],
        env=env,
    )
    assert checked.exit_code == 0, checked.output
