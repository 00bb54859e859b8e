"""`govrl demo`: the whole assessment, start to finish, on the shipped grid example.

Each step after seeding the store calls the library functions its govrl command calls and
shows that command, so each line of the demo is also a line a team could put in its own
release pipeline. Everything lands in one folder.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from govrl.demo import steps
from govrl.demo.session import Demo, DemoStepFailed, Produced
from govrl.errors import UsageError

__all__ = ["Demo", "DemoStepFailed", "Produced", "run_demo"]

EXAMPLE = "grid-frequency-control.yaml"
POLICY = "policies/grid.yaml"
EXPERIMENT = "grid-frequency-control"
MODEL = "grid-sfc-policy"


def _prepare(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(
            f"{out} exists and is not an empty folder; the demo writes only into a new one "
            "(choose another --out)"
        )
    out.mkdir(parents=True, exist_ok=True)


def _starting_record(example: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The example without its collected evidence and answers, and those answers."""
    from govrl.yamlio import load

    data = load(example).data
    evaluation = data["evaluation"]
    for section in ("metrics", "off_policy", "stress_tests", "subgroups"):
        evaluation[section] = []
    evaluation.pop("ood_detection", None)
    answers = []
    for checklist in data["checklists"]:
        for item, response in checklist.pop("items", {}).items():
            row = {"checklist": checklist["id"], "item": item}
            for name in ("answer", "evidence", "notes", "reason", "answered_by"):
                if response.get(name) is not None:
                    row[name] = response[name]
            answers.append(row)
        checklist["items"] = {}
    return data, answers


def run_demo(out: Path, say: Callable[[str], None]) -> Demo:
    """Run every step into ``out`` (new or empty), reporting progress through ``say``."""
    from govrl.evidence.local_store import seed_record_store
    from govrl.record.files import dump_yaml, load_record
    from govrl.resources import data_dir
    from govrl.review.gate import rule_for
    from govrl.review.policy import load_policy

    _prepare(out)
    out = out.resolve()
    examples = data_dir("examples")
    policy_file = examples / POLICY
    policy = load_policy(policy_file)
    full = load_record(examples / EXAMPLE).record
    roles = list(rule_for(policy, full).signers)
    demo = Demo(out, say, steps=18 + 2 * len(roles))  # a key and a signature per role
    say(f"govrl demo: {full.system.name} {full.system.version}, tier {full.system.risk_tier}")
    say(f"writing into {demo.shown(out)}/\n")

    started = demo.begin("seed a local MLflow store with the controller's evaluation")
    store = seed_record_store(out / "mlflow", full, experiment=EXPERIMENT, model=MODEL)
    demo.produced.append(Produced(store.folder, "MLflow store (sqlite) and its artifacts"))
    demo.end(
        started, f"{store.tracking_uri}: model {store.model_ref}, version {store.model_version}"
    )

    started = demo.begin("start the record, and script the reviewers' answers")
    data, answers = _starting_record(examples / EXAMPLE)
    record = demo.file(EXAMPLE, "the assessment record")
    record.write_text(dump_yaml(data), encoding="utf-8")
    answer_file = demo.file("answers.yaml", "the scripted checklist answers")
    answer_file.write_text(dump_yaml(answers), encoding="utf-8")
    policy_copy = demo.file("policy.yaml", "the policy the gate decides with")
    shutil.copyfile(policy_file, policy_copy)
    demo.end(started, f"{len(answers)} answers to import; evaluation left for MLflow")

    steps.collect(demo, record, store)
    steps.fill(demo, record, answer_file)
    steps.validate(demo, record)
    gate_file = demo.file("gate.json", "the gate's decision, every gate with its evidence")
    steps.gate(demo, record, policy_copy, gate_file)
    for kind, what in (("model-card", "model card"), ("approval", "deployment approval")):
        target = demo.file(f"{kind}.pdf", f"{what} (PDF/A-3b, record attached)")
        steps.render(demo, record, kind, what, policy_copy, target)

    keys = out / "keys"
    keys.mkdir()
    demo.passphrase = keys / "passphrase.txt"
    demo.passphrase.write_text(secrets.token_urlsafe(24) + "\n", encoding="utf-8")
    os.chmod(demo.passphrase, 0o600)
    ca = steps.keys_ca(demo, keys)
    demo.produced.append(
        Produced(keys, "demo CA, reviewer and archive keys and certificates, their passphrase")
    )
    reviewers = {
        role: steps.keys_new(demo, f"Demo {role.replace('-', ' ')}", role, keys, ca)
        for role in roles
    }
    signing = out / ".signing"
    signing.mkdir()
    current = out / "approval.pdf"
    for number, role in enumerate(roles, 1):
        target = signing / f"{number}-{role}.pdf"
        steps.sign(
            demo,
            current,
            reviewers[role],
            role,
            policy_copy,
            target,
            f"{number} of {len(roles)}",
            ca.cert,
        )
        current = target
    signed = demo.file("approval-signed.pdf", f"the approval signed by {len(roles)} reviewers")
    current.replace(signed)
    shutil.rmtree(signing)
    steps.verify(demo, signed, ca.cert, policy_copy)

    archive = demo.file("archive", "the tamper-evident archive (objects, log, head)")
    archive_key = steps.keys_new(demo, "Demo archive", "archive", keys, ca)
    steps.archive_add(demo, signed, archive, policy_copy, ca.cert, archive_key)
    steps.archive_verify(demo, archive, ca.cert, policy_copy)
    bundle = demo.file("regulator-bundle.zip", "the self-verifying bundle for a regulator")
    steps.archive_export(demo, archive, full.system.id, bundle)
    card = demo.file("huggingface/README.md", "Hugging Face model card")
    card.parent.mkdir()
    steps.export(
        demo,
        "hf",
        "a Hugging Face model card",
        record,
        card,
        "YAML metadata with model-index, and the card's text",
    )
    bom = demo.file("bom.cdx.json", "CycloneDX 1.6 ML-BOM")
    steps.export(
        demo,
        "cyclonedx",
        "a CycloneDX ML-BOM",
        record,
        bom,
        "model card with parameters, quantitative analysis, considerations",
    )
    steps.publish(demo, record, store, gate_file, signed, policy_copy, ca.cert)
    steps.archive_push(demo, archive, store)
    return demo
