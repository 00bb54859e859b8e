"""A Hugging Face model card: a README whose model-index carries the evaluation results."""

from __future__ import annotations

import re
from typing import Any

from govrl import __version__
from govrl.exports.numbers import interval, num
from govrl.record import AssessmentRecord
from govrl.record.identity import record_digest


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "evaluation"


def _cell(text: object) -> str:
    """Markdown table cell: one line, pipes and HTML neutralised."""
    plain = " ".join(str(text).split())
    return plain.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _row(*cells: object) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


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
        *[_row(m.name, num(m.value), interval(m)) for m in ev.metrics],
        *[_row(f"OPE {e.estimator.value}: {e.target} (ESS {num(e.ess)})", num(e.value),
               interval(e)) for e in ev.off_policy],
        "",
        "## Limitations",
        "",
        *[f"- {_cell(x)}" for x in [*ev.limitations, *ev.negative_results]],
        "",
    ]  # fmt: skip
    return "\n".join(lines)
