"""Records for tests: the minimal example at any tier, with every checklist item answered."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from govrl.record.files import dump_yaml
from govrl.review.checklist import ChecklistLibrary
from govrl.yamlio import load
from tests.support.paths import DATA

LIBRARY = ChecklistLibrary.discover()


def answer_everything(data: dict[str, Any], tier: int) -> None:
    """Attach the domain's checklists with every applicable item answered yes, with evidence."""
    from govrl.vocabulary import Domain, RiskTier

    data["checklists"] = [
        {
            "id": c.id,
            "version": c.version,
            "items": {
                item.id: {
                    "answer": "yes",
                    "evidence": [f"docs/{item.id}.md"],
                    "answered_by": "Ada Byron",
                    "answered_at": "2026-10-01T09:00:00Z",
                }
                for item in c.applicable(RiskTier(tier))
            },
        }
        for c in LIBRARY.for_domain(Domain(data["system"]["domain"]))
    ]


def record_data(tier: int = 1, **changes: Any) -> dict[str, Any]:
    """The minimal record at ``tier``, every checklist item answered, with metric changes."""
    data = copy.deepcopy(load(DATA / "valid-minimal.yaml").data)
    data["system"]["risk_tier"] = tier
    if tier == 3:
        data["deployment"]["fallback"] = "The heuristic ranker takes over."
        data["deployment"]["human_override"] = "Editors pin or remove any slot."
        data["evaluation"]["ood_detection"] = {
            "method": "density of session features",
            "evaluated_on": "held-out shifted sessions",
            "auroc": 0.91,
            "on_detection": "fall back to the heuristic ranker",
        }
    answer_everything(data, tier)
    metric = data["evaluation"]["metrics"][0]
    for key, value in changes.items():
        if value is None:
            metric.pop(key, None)
        else:
            metric[key] = value
    return data


def write_record(path: Path, tier: int = 1, **changes: Any) -> Path:
    path.write_text(dump_yaml(record_data(tier, **changes)), encoding="utf-8")
    return path
