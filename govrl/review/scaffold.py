"""A new assessment record, with every field a person still has to write marked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govrl.atomicfile import locked, write_atomic
from govrl.errors import UsageError
from govrl.record import SCHEMA_VERSION
from govrl.record.files import PLACEHOLDER, dump_yaml
from govrl.vocabulary import Autonomy, Domain, RiskTier

if TYPE_CHECKING:
    from govrl.review.checklist import Checklist


DEFAULT_AUTONOMY = {
    RiskTier.LOW: Autonomy.ADVISORY,
    RiskTier.HUMAN_APPROVES: Autonomy.HUMAN_APPROVES,
    RiskTier.HIGH: Autonomy.HUMAN_ON_THE_LOOP,
}


def _todo(what: str) -> str:
    return f"{PLACEHOLDER}: {what}"


def scaffold(
    *,
    domain: Domain,
    tier: RiskTier,
    autonomy: Autonomy | None = None,
    checklists: list[dict[str, Any]] | None = None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """The data of a new record: structure complete, prose left as TODO markers."""
    today = today or dt.date.today()
    return {
        "schema_version": SCHEMA_VERSION,
        "system": {
            "id": "my-rl-system",
            "name": _todo("system name"),
            "version": "0.1.0",
            "description": _todo("what the system does, in two or three sentences"),
            "domain": domain.value,
            "risk_tier": int(tier),
            "owner": {"name": _todo("accountable owner"), "email": "owner@example.org"},
            "regulatory": {
                "framework": "EU AI Act",
                "high_risk": tier is RiskTier.HIGH,
                "basis": _todo("e.g. Annex III point 5(a), or why it is not high-risk"),
            },
        },
        "intended_use": {
            "purpose": _todo("the decision the policy makes and for whom"),
            "users": [_todo("who operates it")],
            "setting": _todo("where and under what conditions it runs"),
            "autonomy": (autonomy or DEFAULT_AUTONOMY[tier]).value,
            "out_of_scope": [_todo("uses it must not be put to")],
            "foreseeable_misuse": [_todo("how it could be misused")],
            "alternatives_considered": [
                {"approach": _todo("a simpler method"), "outcome": _todo("why it was not enough")}
            ],
        },
        "model": {
            "algorithm": _todo("algorithm, e.g. PPO or CQL"),
            "family": "online",
            "observation_space": {
                "kind": "continuous",
                "shape": _todo("dims"),
                "description": _todo("what is observed"),
            },
            "action_space": {
                "kind": "discrete",
                "shape": _todo("choices"),
                "description": _todo("what it can do"),
            },
            "discount": 0.99,
            "simulators": [{"name": _todo("simulator"), "version": _todo("version")}],
        },
        "reward": {
            "description": _todo("what the reward is meant to encourage"),
            "terms": [
                {
                    "name": _todo("term"),
                    "weight": 1.0,
                    "signal": _todo("what the term reads"),
                    "proxy_for": _todo("the outcome it stands in for"),
                    "gaming_risks": [_todo("how it could be gamed")],
                }
            ],
        },
        "evaluation": {"metrics": [], "limitations": [_todo("known limitations")]},
        "checklists": checklists or [],
        "deployment": {
            "human_override": _todo("how a person overrides or stops the policy"),
            "fallback": _todo("what takes over when the policy is off or unsure"),
            "rollback_criteria": [_todo("when to roll back")],
        },
        "monitoring": {
            "metrics": [
                {
                    "name": _todo("metric"),
                    "alarm_when": "<",
                    "threshold": 0.0,
                    "action": _todo("what happens"),
                }
            ],
            "cadence": "weekly",
            "incident_contact": {"name": _todo("on-call contact"), "email": "oncall@example.org"},
            "next_review": (today + dt.timedelta(days=180)).isoformat(),
        },
        "changelog": [
            {
                "version": "0.1.0",
                "date": today.isoformat(),
                "author": _todo("your name"),
                "summary": "Assessment started.",
            }
        ],
    }


def attachments(checklists: Iterable[Checklist]) -> list[dict[str, Any]]:
    """Record entries that attach ``checklists``, with no answers yet."""
    return [{"id": c.id, "version": c.version, "items": {}} for c in checklists]


HEADER = (
    "# govrl assessment record. Replace every TODO, then run `govrl validate` on this file.\n"
    "# Schema: `govrl schema`. Checklists: `govrl fill` asks their questions.\n"
)


def write_scaffold(path: Path, data: dict[str, Any], *, force: bool = False) -> None:
    """Write a new record file; an existing file is kept unless ``force``."""
    with locked(path):
        if path.exists() and not force:
            raise UsageError(f"{path} already exists", hint="use --force to overwrite it")
        write_atomic(path, HEADER + dump_yaml(data))
