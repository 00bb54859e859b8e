"""Model cards for where people already look: Hugging Face cards and CycloneDX ML-BOMs."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from govrl import __version__
from govrl.record import AssessmentRecord
from govrl.record.base import Bounds
from govrl.record.identity import record_digest

CDX_NAMESPACE = uuid.UUID("6f1c3a2e-6b0d-4f0a-9a57-0c9e4d3b7a11")


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _interval(b: Bounds) -> str:
    if b.ci_low is None and b.ci_high is None:
        return "–"
    level = f" ({b.ci_level:.0%})" if b.ci_level else ""
    return f"[{_num(b.ci_low)}, {_num(b.ci_high)}]{level}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "evaluation"


def _cell(text: object) -> str:
    """Markdown table cell: one line, pipes and HTML neutralised."""
    plain = " ".join(str(text).split())
    return plain.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _row(*cells: object) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


# ---------------------------------------------------------------- Hugging Face


def hf_metadata(record: AssessmentRecord) -> dict[str, Any]:
    """The card's YAML header: tags and a model-index with every evaluation result."""
    results: dict[str, list[dict[str, Any]]] = {}
    for m in record.evaluation.metrics:
        if m.value is None:
            continue
        entry = {"type": m.id, "name": m.name, "value": m.value}
        results.setdefault(m.split or "evaluation", []).append(entry)
    for e in record.evaluation.off_policy:
        if e.value is not None:
            entry = {
                "type": f"ope/{e.id}",
                "name": f"{e.estimator.value} {e.target}",
                "value": e.value,
            }
            results.setdefault("off-policy evaluation", []).append(entry)
    model_index = [
        {
            "name": record.system.id,
            "results": [
                {
                    "task": {"type": "reinforcement-learning", "name": "Reinforcement Learning"},
                    "dataset": {"name": split, "type": _slug(split)},
                    "metrics": metrics,
                }
                for split, metrics in results.items()
            ],
        }
    ]
    return {
        "tags": ["reinforcement-learning", "govrl", record.system.domain.value,
                 f"risk-tier-{int(record.system.risk_tier)}"],
        "model-index": model_index,
    }  # fmt: skip


def hf_card(record: AssessmentRecord) -> str:
    """A Hugging Face README.md: YAML metadata, then the card's prose and tables."""
    from govrl.record.files import dump_yaml

    s, use, model, ev = record.system, record.intended_use, record.model, record.evaluation
    autonomy = use.autonomy.value if use.autonomy else "not stated"
    lines = [
        "---",
        dump_yaml(hf_metadata(record)).rstrip(),
        "---",
        "",
        f"# {_cell(s.name)} {_cell(s.version)}",
        "",
        _cell(s.description),
        "",
        f"Risk tier {int(s.risk_tier)}; autonomy: {autonomy}. Assessment record"
        f" `{record_digest(record)}` (govrl {__version__}).",
        "",
        "## Intended use",
        "",
        _cell(use.purpose),
        "",
        *[f"- Out of scope: {_cell(x)}" for x in use.out_of_scope],
        *[f"- Foreseeable misuse: {_cell(x)}" for x in use.foreseeable_misuse],
        "",
        "## Model",
        "",
        f"{_cell(model.algorithm)} ({model.family.value}); observations"
        f" {_cell(model.observation_space.shape)}, actions {_cell(model.action_space.shape)};"
        f" discount {model.discount:g}.",
        "",
        "## Reward",
        "",
        "| term | weight | proxy for | gaming risks |",
        "|---|---|---|---|",
        *[_row(t.name, f"{t.weight:g}", t.proxy_for, "; ".join(t.gaming_risks))
          for t in record.reward.terms],
        "",
        "## Evaluation",
        "",
        "| metric | value | interval |",
        "|---|---|---|",
        *[_row(m.name, _num(m.value), _interval(m)) for m in ev.metrics],
        *[_row(f"OPE {e.estimator.value}: {e.target} (ESS {_num(e.ess)})", _num(e.value),
               _interval(e)) for e in ev.off_policy],
        "",
        "## Limitations",
        "",
        *[f"- {_cell(x)}" for x in [*ev.limitations, *ev.negative_results]],
        "",
    ]  # fmt: skip
    return "\n".join(lines)


# ---------------------------------------------------------------- CycloneDX


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
                 "harms": f"{g.metric} {_num(g.value)} {_interval(g)}"}
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
