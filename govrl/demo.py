"""`govrl demo`: the whole assessment, start to finish, on the shipped grid example.

Every step after seeding the store is an ordinary govrl command, run in this
process with the arguments it shows, so each line of the demo is also a line a
team could put in its own release pipeline. Everything lands in one folder.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shlex
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govrl.errors import GovrlError, UsageError

EXAMPLE = "grid-frequency-control.yaml"
POLICY = "policies/grid.yaml"
EXPERIMENT = "grid-frequency-control"
MODEL = "grid-sfc-policy"
DEMO_ORGANISATION = "govrl demo"


class DemoStepFailed(GovrlError):
    """A step of the demo failed; its command and its output are in the message."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Produced:
    path: Path
    what: str


@dataclass
class Demo:
    """The folder the demo fills, and what it has written so far."""

    out: Path
    say: Callable[[str], None]
    produced: list[Produced] = field(default_factory=list)
    step: int = 0
    steps: int = 0

    def file(self, name: str, what: str) -> Path:
        path = self.out / name
        self.produced.append(Produced(path, what))
        return path

    def shown(self, path: Path) -> str:
        """A path as the user would type it from where they ran the demo."""
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)

    def begin(self, title: str) -> float:
        self.step += 1
        self.say(f"[{self.step:>2}/{self.steps}] {title}")
        return time.perf_counter()

    def end(self, started: float, summary: str) -> None:
        self.say(f"        {summary} ({time.perf_counter() - started:.1f} s)")

    def govrl(self, title: str, *args: str | Path, summary: Callable[[str], str]) -> str:
        """Run one govrl command in this process; its stdout goes to ``summary``."""
        words = [str(a) if not isinstance(a, Path) else self.shown(a) for a in args]
        started = self.begin(title)
        self.say("        $ govrl " + shlex.join(words))
        code, out, err = _invoke([str(a) for a in args])
        if code != 0:
            detail = (err or out).strip()
            raise DemoStepFailed(
                f"demo step {self.step} ({title}) failed with exit {code}:\n"
                f"  govrl {shlex.join(words)}\n{detail}",
                exit_code=code,
            )
        self.end(started, summary(out))
        return out


def _invoke(args: list[str]) -> tuple[int, str, str]:
    import click

    from govrl.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            result = main.main(args=args, prog_name="govrl", standalone_mode=False)
            code = result if isinstance(result, int) else 0
        except click.exceptions.Exit as exc:
            code = exc.exit_code
        except click.ClickException as exc:
            exc.show()
            code = exc.exit_code
        except click.Abort:
            code = 1
        except SystemExit as exc:  # commands that judged and failed exit this way
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


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
    from govrl.documents.keys import file_stem
    from govrl.evidence.local_store import seed_record_store
    from govrl.record.files import dump_yaml, load_record
    from govrl.resources import data_dir
    from govrl.review.policy import load_policy

    _prepare(out)
    out = out.resolve()
    examples = data_dir("examples")
    policy_file = examples / POLICY
    policy = load_policy(policy_file)
    full = load_record(examples / EXAMPLE).record
    roles = list(policy.tiers[full.system.risk_tier].signers)
    demo = Demo(out, say, steps=17 + 2 * len(roles))
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

    def collected(text: str) -> str:
        report = json.loads(text)
        return (
            f"{report['added']} entries added from {len(report['runs'])} runs, "
            "each with its provenance"
        )

    demo.govrl(
        "collect the evaluation evidence from MLflow",
        *("collect", "mlflow", record, "--tracking-uri", store.tracking_uri),
        *("--model", store.model_ref, "--with-children", "--mapping", store.mapping, "--json"),
        summary=collected,
    )
    demo.govrl(
        "fill the checklists from the scripted answers",
        *("fill", record, "--answers", answer_file, "--as", "govrl demo", "--json"),
        summary=lambda text: f"{len(json.loads(text)['new'])} answers recorded",
    )
    demo.govrl(
        "validate the record",
        "validate",
        record,
        summary=lambda text: text.strip().split(": ", 1)[-1],
    )
    gate_file = demo.file("gate.json", "the gate's decision, every gate with its evidence")
    decision = json.loads(
        demo.govrl(
            "decide under the policy",
            *("gate", record, "--policy", policy_copy, "--json"),
            summary=lambda text: _verdict(json.loads(text)),
        )
    )
    gate_file.write_text(json.dumps(decision, indent=2) + "\n", encoding="utf-8")
    for kind, what in (("model-card", "model card"), ("approval", "deployment approval")):
        target = demo.file(f"{kind}.pdf", f"{what} (PDF/A-3b, record attached)")
        demo.govrl(
            f"render the {what}",
            *("render", record, "--kind", kind, "--policy", policy_copy, "-o", target, "--json"),
            summary=lambda text: f"{json.loads(text)['pages']} pages",
        )
    keys = out / "keys"
    keys.mkdir()
    passphrase = keys / "passphrase.txt"
    passphrase.write_text(secrets.token_urlsafe(24) + "\n", encoding="utf-8")
    os.chmod(passphrase, 0o600)
    secret = ("--passphrase-file", passphrase)
    demo.govrl(
        "create an organisation CA for the demo",
        *("keys", "ca", "--name", "govrl demo CA", "-o", keys, *secret),
        summary=_says("CA key and certificate"),
    )
    ca_key, ca_cert = keys / "ca.key.pem", keys / "ca.cert.pem"
    demo.produced.append(
        Produced(keys, "demo CA, a key and certificate per reviewer, their passphrase")
    )
    credentials: dict[str, tuple[Path, Path]] = {}
    for role in roles:
        name = f"Demo {role.replace('-', ' ')}"
        demo.govrl(
            f"create a key for the {role} reviewer",
            *("keys", "new", "--name", name, "--role", role, "-o", keys),
            *("--organisation", DEMO_ORGANISATION, "--ca-key", ca_key, "--ca-cert", ca_cert),
            *secret,
            summary=_says("ECDSA P-256 key, certificate issued by the demo CA"),
        )
        stem = file_stem(name)
        credentials[role] = (keys / f"{stem}.key.pem", keys / f"{stem}.cert.pem")
    signing = out / ".signing"
    signing.mkdir()
    current = out / "approval.pdf"
    for number, role in enumerate(roles, 1):
        key, cert = credentials[role]
        target = signing / f"{number}-{role}.pdf"
        demo.govrl(
            f"sign the approval as {role}",
            *("sign", current, "--key", key, "--cert", cert, "--role", role),
            *("--policy", policy_copy, "-o", target, *secret),
            summary=_says(f"signature {number} of {len(roles)}, an incremental update"),
        )
        current = target
    signed = demo.file("approval-signed.pdf", f"the approval signed by {len(roles)} reviewers")
    current.replace(signed)
    shutil.rmtree(signing)
    demo.govrl(
        "verify the signed approval",
        *("verify", signed, "--trust", ca_cert, "--policy", policy_copy, "--json"),
        summary=lambda text: _verified(json.loads(text)),
    )
    archive = demo.file("archive", "the tamper-evident archive (objects, log, head)")
    trust = ("--trust", ca_cert)
    demo.govrl(
        "archive the signed approval",
        *("archive", "add", signed, "--store", archive, "--policy", policy_copy, *trust),
        *("--by", "govrl demo"),
        summary=_says("stored by content, chained into the log"),
    )
    demo.govrl(
        "verify the archive",
        *("archive", "verify", "--store", archive, *trust),
        summary=lambda text: text.strip().splitlines()[0] if text.strip() else "intact",
    )
    bundle = demo.file("regulator-bundle.zip", "the self-verifying bundle for a regulator")
    demo.govrl(
        "export the bundle for the regulator",
        *("archive", "export", "--store", archive, "--system", full.system.id, "-o", bundle),
        *("--by", "govrl demo"),
        summary=_says("documents, records, log excerpt, manifest and README"),
    )
    card = demo.file("huggingface/README.md", "Hugging Face model card")
    card.parent.mkdir()
    demo.govrl(
        "export a Hugging Face model card",
        *("export", "hf", record, "-o", card),
        summary=_says("YAML metadata with model-index, and the card's text"),
    )
    bom = demo.file("bom.cdx.json", "CycloneDX 1.6 ML-BOM")
    demo.govrl(
        "export a CycloneDX ML-BOM",
        *("export", "cyclonedx", record, "-o", bom),
        summary=_says("model card with parameters, quantitative analysis, considerations"),
    )
    demo.govrl(
        "write the decision back to MLflow",
        *("publish", record, "--tracking-uri", store.tracking_uri, "--model", store.model_ref),
        *("--decision-json", gate_file, "--pdf", signed, "--json"),
        summary=_says("model version tagged; record and approval logged on its run"),
    )
    demo.govrl(
        "keep a copy of the archive on the model's run",
        *("archive", "push", "--store", archive, "--tracking-uri", store.tracking_uri),
        *("--model", store.model_ref, "--json"),
        summary=lambda text: f"govrl-archive/ on the run, head {json.loads(text)['head'][:20]}…",
    )
    return demo


def _says(text: str) -> Callable[[str], str]:
    """A step summary that does not depend on the command's output."""
    return lambda _output: text


def _verdict(decision: dict[str, Any]) -> str:
    return (
        f"{decision['verdict']}: {len(decision['blockers'])} blockers, "
        f"{len(decision['conditions'])} conditions, valid until {decision['valid_until']}"
    )


def _verified(report: dict[str, Any]) -> str:
    signatures = report.get("signatures", [])
    return (
        f"{len(signatures)} signatures intact and trusted, every required role signed, "
        f"valid until {report.get('valid_until')}"
    )
