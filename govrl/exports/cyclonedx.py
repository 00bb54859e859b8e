"""A CycloneDX 1.6 ML-BOM: the model as a component with its modelCard, and its data sets."""

from __future__ import annotations

import json
import uuid
from typing import Any

from govrl import __version__
from govrl.exports.numbers import interval, num
from govrl.record import AssessmentRecord
from govrl.record.base import Bounds
from govrl.record.identity import record_digest

CDX_NAMESPACE = uuid.UUID("6f1c3a2e-6b0d-4f0a-9a57-0c9e4d3b7a11")


def _performance(record: AssessmentRecord) -> list[dict[str, Any]]:
    rows: list[tuple[str, Bounds, str | None]] = [
        (m.id, m, m.split) for m in record.evaluation.metrics
    ]
    rows += [
        (f"ope/{e.id}", e, f"off-policy {e.estimator.value}") for e in record.evaluation.off_policy
    ]
    rows += [(f"stress/{t.id}", t, t.scenario) for t in record.evaluation.stress_tests]
    rows += [
        (f"subgroup/{g.metric}", g, f"{g.attribute}={g.group}") for g in record.evaluation.subgroups
    ]
    metrics = []
    for kind, b, slice_ in rows:
        if b.value is None:
            continue
        metric: dict[str, Any] = {"type": kind, "value": f"{b.value:g}"}
        if slice_:
            metric["slice"] = slice_
        if b.ci_low is not None or b.ci_high is not None:
            metric["confidenceInterval"] = {
                k: f"{v:g}"
                for k, v in (("lowerBound", b.ci_low), ("upperBound", b.ci_high))
                if v is not None
            }
        metrics.append(metric)
    return metrics


def cyclonedx_bom(record: AssessmentRecord) -> dict[str, Any]:
    """A CycloneDX 1.6 ML-BOM whose model component carries the model card."""
    digest = record_digest(record)
    model, ev, use = record.model, record.evaluation, record.intended_use
    obs, act = model.observation_space, model.action_space
    data = [
        {
            "type": "data",
            "bom-ref": f"dataset:{d.name}@{d.version}",
            "name": d.name,
            "version": d.version,
            **({"hashes": [{"alg": "SHA-256", "content": d.digest.removeprefix("sha256:")}]}
               if d.digest else {}),
            "data": [{"type": "dataset", "name": d.name, **({"description": d.description}
                      if d.description else {})}],
        }
        for d in model.datasets
    ]  # fmt: skip
    card = {
        "modelParameters": {
            "approach": {"type": "reinforcement-learning"},
            "task": use.purpose,
            "architectureFamily": model.family.value,
            "modelArchitecture": model.algorithm,
            "datasets": [{"ref": d["bom-ref"]} for d in data],
            "inputs": [{"format": f"{obs.kind.value} {obs.shape}: {obs.description}"}],
            "outputs": [{"format": f"{act.kind.value} {act.shape}: {act.description}"}],
        },
        "quantitativeAnalysis": {"performanceMetrics": _performance(record)},
        "considerations": {
            "users": list(use.users),
            "useCases": [use.purpose],
            "technicalLimitations": [*ev.limitations, *ev.negative_results],
            "ethicalConsiderations": [
                {"name": f"reward term {t.name} can be gamed: {risk}",
                 "mitigationStrategy": "oversight metrics outside the reward; see the assessment"}
                for t in record.reward.terms for risk in t.gaming_risks
            ],
            "fairnessAssessments": [
                {"groupAtRisk": f"{g.attribute}: {g.group}",
                 "harms": f"{g.metric} {num(g.value)} {interval(g)}"}
                for g in ev.subgroups
            ],
        },
        "properties": [
            {"name": "govrl:record-digest", "value": digest},
            {"name": "govrl:risk-tier", "value": str(int(record.system.risk_tier))},
        ],
    }  # fmt: skip
    component = {
        "type": "machine-learning-model",
        "bom-ref": f"model:{record.system.id}@{record.system.version}",
        "name": record.system.id,
        "version": record.system.version,
        "description": record.system.description,
        "modelCard": card,
    }
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": f"urn:uuid:{uuid.uuid5(CDX_NAMESPACE, digest)}",
        "version": 1,
        "metadata": {
            "tools": {
                "components": [{"type": "application", "name": "govrl", "version": __version__}]
            },
            "component": component,
        },
        "components": data,
    }


def cyclonedx_json(record: AssessmentRecord) -> str:
    return json.dumps(cyclonedx_bom(record), indent=2, ensure_ascii=False) + "\n"
