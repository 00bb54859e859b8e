"""Publishing a decision back to MLflow: version tags a release pipeline can search for."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from govrl.cli import GovrlGroup
from govrl.cli.collect_cmds import COMMANDS
from govrl.record.files import load_record
from govrl.record.identity import record_digest
from govrl.review.checklist import ChecklistLibrary
from govrl.review.gate import decide
from govrl.review.policy import load_policy
from tests.support.approvals import THREE
from tests.support.mlflow_server import MlflowServer, free_port
from tests.support.pki import Pki
from tests.support.sepsis_store import DemoStore

pytestmark = [pytest.mark.mlflow, pytest.mark.slow]

APP = GovrlGroup(name="govrl", commands={c.name: c for c in COMMANDS})
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def govrl(*args: object) -> Result:
    return CliRunner().invoke(APP, [str(a) for a in args])


def version_tags(server: MlflowServer, name: str, version: str) -> dict[str, str]:
    from mlflow import MlflowClient

    return dict(MlflowClient(server.url).get_model_version(name, version).tags)


def test_publish_tags_the_version_and_attaches_the_record_to_its_run(
    demo_store: DemoStore, mlflow_server: MlflowServer, sepsis_record: Path, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    loaded = load_record(sepsis_record).record
    digest = record_digest(loaded)
    expected = decide(loaded, load_policy(), ChecklistLibrary.discover())
    model = f"{demo_store.model_name}/{demo_store.model_version}"
    result = govrl("publish", sepsis_record, "--tracking-uri", mlflow_server.url, "--model", model)
    assert result.exit_code == 0, result.output

    client = MlflowClient(mlflow_server.url)
    found = client.search_model_versions(f"tags.`govrl.record_digest` = '{digest}'")
    assert [(v.name, v.version) for v in found] == [(demo_store.model_name, "1")]
    tags = found[0].tags
    assert tags["govrl.decision"] == expected.verdict.value
    assert tags["govrl.valid_until"] == expected.valid_until.isoformat()
    assert tags["govrl.record"] == "governance/sepsis.yaml"
    source_run = demo_store.runs["cql-ensemble-2.1.0"]
    copy = client.download_artifacts(source_run, "governance/sepsis.yaml", str(tmp_path))
    assert Path(copy).read_bytes() == sepsis_record.read_bytes()


def test_publish_takes_a_gate_decision_file_and_pdfs_through_the_server(
    mlflow_server: MlflowServer,
    signed_approval: Path,
    unsigned_approval: Path,
    pki: Pki,
    tmp_path: Path,
) -> None:
    """The record travels with its signed approval, which must verify against the trust anchor."""
    from mlflow import MlflowClient

    record = Path(shutil.copy(unsigned_approval.with_name("record.yaml"), tmp_path / "record.yaml"))
    pdf = Path(shutil.copy(signed_approval, tmp_path / "approval.pdf"))

    client = MlflowClient(mlflow_server.url)  # a fresh experiment: files go via the server
    run = client.create_run(client.create_experiment(f"publish-{uuid.uuid4().hex}"))
    name = f"policy-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    version = client.create_model_version(name, run.info.artifact_uri + "/policy", run.info.run_id)
    client.set_registered_model_alias(name, "candidate", version.version)
    decision = tmp_path / "decision.json"
    digest = record_digest(load_record(record).record)
    decision.write_text(
        json.dumps(
            {"verdict": "approve-with-conditions", "valid_until": "2027-01-31"}
            | {"record_digest": digest}
        )
    )
    result = govrl(
        "publish",
        record,
        "--tracking-uri",
        mlflow_server.url,
        "--model",
        f"{name}@candidate",
        "--decision-json",
        decision,
        "--pdf",
        pdf,
        "--policy",
        THREE,
        "--trust",
        pki.ca.cert,
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["artifacts"] == ["governance/record.yaml", "governance/approval.pdf"]
    assert report["trust"] == {"checked": True, "anchors_from": f"--trust {pki.ca.cert}"}
    tags = version_tags(mlflow_server, name, version.version)
    assert (tags["govrl.decision"], tags["govrl.valid_until"]) == (
        "approve-with-conditions",
        "2027-01-31",
    )
    assert tags["govrl.record_digest"] == digest
    listed = {f.path for f in client.list_artifacts(run.info.run_id, "governance")}
    assert listed == {"governance/record.yaml", "governance/approval.pdf"}
    copy = client.download_artifacts(
        run.info.run_id, "governance/approval.pdf", str(tmp_path / "copy")
    )
    assert Path(copy).read_bytes() == signed_approval.read_bytes()


def test_a_decision_about_another_record_is_refused_before_anything_is_written(
    demo_store: DemoStore, mlflow_server: MlflowServer, sepsis_record: Path, tmp_path: Path
) -> None:
    decision = tmp_path / "decision.json"
    stale = "sha256:" + "0" * 64
    decision.write_text(
        json.dumps({"verdict": "approve", "valid_until": "2027-01-31", "record_digest": stale})
    )
    model = f"{demo_store.model_name}/{demo_store.model_version}"
    before = version_tags(mlflow_server, demo_store.model_name, demo_store.model_version)
    result = govrl(
        "publish",
        sepsis_record,
        "--tracking-uri",
        mlflow_server.url,
        "--model",
        model,
        "--decision-json",
        decision,
    )
    assert result.exit_code == 1
    assert "the record changed" in result.output
    assert version_tags(mlflow_server, demo_store.model_name, demo_store.model_version) == before


def test_a_file_that_is_not_a_pdf_is_refused(
    mlflow_server: MlflowServer, sepsis_record: Path, pki: Pki
) -> None:
    result = govrl(
        "publish",
        sepsis_record,
        "--tracking-uri",
        mlflow_server.url,
        "--model",
        "sepsis-policy/1",
        "--pdf",
        sepsis_record,
        "--trust",
        pki.ca.cert,
    )
    assert result.exit_code == 1 and "is not a PDF" in result.output


def test_a_pdf_that_is_not_this_records_verified_approval_is_refused(
    demo_store: DemoStore,
    mlflow_server: MlflowServer,
    sepsis_record: Path,
    signed_approval: Path,
    pki: Pki,
    tmp_path: Path,
) -> None:
    model = f"{demo_store.model_name}/{demo_store.model_version}"
    before = version_tags(mlflow_server, demo_store.model_name, demo_store.model_version)
    args = ("publish", sepsis_record, "--tracking-uri", mlflow_server.url, "--model", model)
    trust = ("--policy", THREE, "--trust", pki.ca.cert)
    untrusted = govrl(*args, "--pdf", signed_approval, "--policy", THREE)
    assert untrusted.exit_code == 1 and "no trust anchors configured" in untrusted.output
    other = govrl(*args, "--pdf", signed_approval, *trust)
    assert other.exit_code == 1
    assert "not published: it carries record sha256:" in other.output
    assert "not the published record" in other.output
    fake = tmp_path / "approval.pdf"
    fake.write_bytes(PDF)
    refused = govrl(*args, "--pdf", fake, *trust)
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert version_tags(mlflow_server, demo_store.model_name, demo_store.model_version) == before


@pytest.mark.parametrize(
    ("model", "code", "message"),
    [
        ("sepsis-policy/9", 1, "version=9) not found"),
        ("sepsis-policy@nope", 1, "no alias 'nope'"),
        ("sepsis-policy/1", 3, "cannot reach MLflow"),
    ],
)
def test_publish_fails_fast_with_the_right_exit_code(
    mlflow_server: MlflowServer, sepsis_record: Path, model: str, code: int, message: str
) -> None:
    url = mlflow_server.url if code == 1 else f"http://127.0.0.1:{free_port()}"
    start = time.monotonic()
    result = govrl("publish", sepsis_record, "--tracking-uri", url, "--model", model)
    assert time.monotonic() - start < 15
    assert result.exit_code == code, result.output
    assert message in result.output
