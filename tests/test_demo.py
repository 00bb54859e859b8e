"""`govrl demo` runs the whole flow and leaves documents that stand up on their own."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from govrl.record.files import load_record
from tests.support.paths import EXAMPLES
from tests.support.readme import DemoRun

EXAMPLE = EXAMPLES / "grid-frequency-control.yaml"


def govrl(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "govrl", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def demo(readme_demo: DemoRun) -> tuple[Path, str]:
    """The README's main job, run once per session: its output folder and what it printed."""
    result = readme_demo.result
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return readme_demo.out, result.stdout


def test_every_file_the_summary_names_exists(demo: tuple[Path, str]) -> None:
    out, text = demo
    listed = [line.split()[0] for line in text.split("Produced:\n", 1)[1].splitlines() if line]
    listed = [name for name in listed if name.startswith(f"{out.name}/")]
    assert len(listed) >= 12
    for name in listed:
        assert (out.parent / name).exists(), name
    assert not (out / ".signing").exists()  # the intermediate signed copies are gone


def test_the_step_count_announced_is_the_steps_run(demo: tuple[Path, str]) -> None:
    numbers = re.findall(r"^\[\s*(\d+)/(\d+)\]", demo[1], flags=re.MULTILINE)
    assert numbers, demo[1]
    announced = {int(total) for _, total in numbers}
    assert announced == {len(numbers)}
    assert [int(n) for n, _ in numbers] == list(range(1, len(numbers) + 1))


def test_the_collected_evaluation_is_the_examples_with_provenance_in_the_store(
    demo: tuple[Path, str],
) -> None:
    made = load_record(out_record := demo[0] / "grid-frequency-control.yaml").record
    shipped = load_record(EXAMPLE).record
    for section in ("metrics", "stress_tests", "subgroups"):
        ours = {
            e.model_dump_json(exclude={"provenance", "history"})
            for e in getattr(made.evaluation, section)
        }
        theirs = {
            e.model_dump_json(exclude={"provenance", "history"})
            for e in getattr(shipped.evaluation, section)
        }
        assert ours == theirs, section
        for entry in getattr(made.evaluation, section):
            assert entry.provenance is not None
            assert entry.provenance.tracking_uri.endswith(f"/{demo[0].name}/mlflow/mlflow.db")
            assert entry.provenance.model_name == "grid-sfc-policy"
    curve = next(m for m in made.evaluation.metrics if m.history is not None)
    assert [p.value for p in curve.history.points] == [
        p.value
        for p in next(m for m in shipped.evaluation.metrics if m.id == curve.id).history.points
    ]
    answered = {(c.id, item) for c in made.checklists for item in c.items}
    expected = {(c.id, item) for c in shipped.checklists for item in c.items}
    assert answered == expected and answered
    assert out_record.exists()


def test_the_signed_approval_verifies_with_govrl_and_with_poppler(demo: tuple[Path, str]) -> None:
    out, _ = demo
    signed = out / "approval-signed.pdf"
    result = govrl(
        "verify",
        signed,
        "--trust",
        out / "keys/ca.cert.pem",
        "--policy",
        out / "policy.yaml",
        "--json",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    roles = {s["role"] for s in report["signatures"]}
    assert roles == {"owner", "domain-expert", "ethics-fairness", "independent-validator"}
    assert report["missing_roles"] == [] and report["problems"] == []
    decision = json.loads((out / "gate.json").read_text())
    assert decision["verdict"] == "approve-with-conditions"
    assert report["valid_until"] == decision["valid_until"]
    poppler = subprocess.run(["pdfsig", str(signed)], capture_output=True, text=True).stdout
    assert poppler.count("Signature is Valid.") == 4


def test_the_archive_and_the_bundle_verify(demo: tuple[Path, str]) -> None:
    out, _ = demo
    trust = ("--trust", out / "keys/ca.cert.pem", "--policy", out / "policy.yaml")
    store = govrl("archive", "verify", "--store", out / "archive", *trust)
    assert store.returncode == 0, store.stdout + store.stderr
    bundle = govrl("archive", "verify", out / "regulator-bundle.zip", *trust)
    assert bundle.returncode == 0, bundle.stdout + bundle.stderr


def test_the_exports_parse_and_mlflow_holds_the_decision(demo: tuple[Path, str]) -> None:
    from huggingface_hub import ModelCard
    from mlflow import MlflowClient

    out, _ = demo
    card = ModelCard.load(out / "huggingface/README.md")
    assert card.data.to_dict()["model-index"]
    bom = json.loads((out / "bom.cdx.json").read_text())
    assert bom["specVersion"] == "1.6"
    uri = f"sqlite:///{out / 'mlflow/mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version_by_alias("grid-sfc-policy", "candidate")
    assert version.tags["govrl.decision"] == "approve-with-conditions"
    record_digest = govrl("validate", out / "grid-frequency-control.yaml").stdout.split()[-1]
    assert version.tags["govrl.record_digest"] == record_digest
    copy = govrl(
        "archive",
        "verify",
        "--tracking-uri",
        uri,
        "--model",
        "grid-sfc-policy@candidate",
        "--trust",
        out / "keys/ca.cert.pem",
        "--policy",
        out / "policy.yaml",
    )
    assert copy.returncode == 0, copy.stdout + copy.stderr
    assert "1 entry," in copy.stdout


def test_a_folder_with_something_in_it_is_refused_and_left_alone(tmp_path: Path) -> None:
    keep = tmp_path / "notes.txt"
    keep.write_text("mine")
    result = govrl("demo", "--out", tmp_path)
    assert result.returncode == 2
    assert "exists and is not an empty folder" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_failing_step_names_itself_its_command_and_keeps_its_exit_code(tmp_path: Path) -> None:
    from govrl.demo import Demo, DemoStepFailed
    from govrl.demo.steps import gate

    said: list[str] = []
    demo = Demo(tmp_path, said.append, steps=2)
    rejected = EXAMPLES / "sepsis-offline-rl.yaml"
    with pytest.raises(DemoStepFailed) as caught:
        gate(demo, rejected, None, tmp_path / "gate.json")
    assert caught.value.exit_code == 1
    message = str(caught.value)
    assert "demo step 1 (decide under the policy) failed with exit 1" in message
    assert f"govrl gate {demo.shown(rejected)} --json" in message and "REJECT" in message
    assert re.search(r"blockers \(\d+\):", message) and "GEN-EV-03" in message
    assert said[0] == "[ 1/2] decide under the policy"
    assert said[1].strip().startswith("$ govrl gate")
    assert not (tmp_path / "gate.json").exists()

    unknown = tmp_path / "unknown-checklist.yaml"  # beside a copy of the policy it is bound to
    unknown.write_text(EXAMPLE.read_text().replace("  - id: general-rl", "  - id: veterinary"))
    (tmp_path / "policies").mkdir()
    shutil.copy(EXAMPLES / "policies" / "grid.yaml", tmp_path / "policies")
    with pytest.raises(DemoStepFailed) as caught:
        gate(demo, unknown, None)
    assert caught.value.exit_code == 2  # the usage error's code, as `govrl gate` exits
    assert "demo step 2 (decide under the policy) failed with exit 2" in str(caught.value)
    assert "no checklist 'veterinary'" in str(caught.value)
