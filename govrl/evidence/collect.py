"""Collect evidence into a record: fetch everything, merge by id, report, then write once.

Unchanged evidence leaves the file byte for byte as it was.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from govrl.config import mapping_setting, remember_mapping
from govrl.errors import GovrlError, InputError, Problem
from govrl.evidence.collected import Collected, label
from govrl.evidence.convention import Convention
from govrl.evidence.fields import (
    BOUNDS,
    DESCRIPTIVE_FIELDS,
    IDENTITY_FIELDS,
    METRICS,
    OFF_POLICY,
    OOD,
    SECTIONS,
    STRESS,
    SUBGROUPS,
    layer,
)
from govrl.evidence.history import summarise
from govrl.evidence.interface import Evidence, EvidenceSource, FetchPlan, Selection, Thinning
from govrl.evidence.mapping import Mapping
from govrl.record.base import Bounds, CollectedEvidence
from govrl.record.evaluation import (
    Criterion,
    Evaluation,
    Metric,
    OffPolicyEstimate,
    OODDetection,
    StressTest,
    SubgroupResult,
)
from govrl.record.files import load_record, update_record
from govrl.vocabulary import Direction, SourceKind

MODELS: dict[str, type[BaseModel]] = {
    METRICS: Metric,
    OFF_POLICY: OffPolicyEstimate,
    STRESS: StressTest,
    SUBGROUPS: SubgroupResult,
    OOD: OODDetection,
}
Key = tuple[str, tuple[str, ...]]


class ManualEntryConflict(GovrlError):
    """Collected evidence would overwrite entries someone wrote by hand."""


@dataclass(frozen=True)
class Change:
    kind: Literal["added", "changed", "removed"]
    label: str
    fields: tuple[tuple[str, Any, Any], ...] = ()  # (field path, old, new) when changed


@dataclass
class CollectReport:
    """What a collection found and did (or, in a dry run, would do)."""

    path: Path
    source: str
    runs: list[dict[str, Any]]  # each run read: id, name, experiment, model and params
    changes: list[Change]
    unchanged: int
    written: bool
    dry_run: bool
    warnings: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    mapping: Path | None = None  # the mapping file used, from --mapping or govrl.toml
    remembered: str | None = None  # where --mapping was stored for the next collect

    def count(self, kind: str) -> int:
        return sum(1 for c in self.changes if c.kind == kind)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "source": self.source,
            "runs": self.runs,
            "written": self.written,
            "dry_run": self.dry_run,
            "added": self.count("added"),
            "changed": self.count("changed"),
            "removed": self.count("removed"),
            "unchanged": self.unchanged,
            "changes": [
                {
                    "kind": c.kind,
                    "entry": c.label,
                    "fields": [{"field": f, "old": o, "new": n} for f, o, n in c.fields],
                }
                for c in self.changes
            ],
            "warnings": self.warnings,
            "unmapped_keys": self.unmapped,
            "mapping": str(self.mapping) if self.mapping else None,
            "mapping_remembered_in": self.remembered,
        }


def identity_of(section: str, data: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(data[f]) for f in IDENTITY_FIELDS[section])


def _existing(evaluation: Evaluation) -> dict[Key, dict[str, Any]]:
    found: dict[Key, dict[str, Any]] = {}
    for section in SECTIONS:
        value = getattr(evaluation, section)
        for item in value if isinstance(value, list) else [value] if value else []:
            data = item.model_dump(mode="json", exclude_none=True)
            found[(section, identity_of(section, data))] = data
    return found


def _comparable(data: dict[str, Any]) -> dict[str, Any]:
    """The entry without its fetch time, which alone never makes evidence new."""
    out = dict(data)
    if "provenance" in out:
        out["provenance"] = {k: v for k, v in out["provenance"].items() if k != "fetched_at"}
    return out


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flat(value, f"{prefix}.{key}" if prefix else key))
        return out
    if isinstance(data, list):  # history points: report their count, not each one
        return {prefix: f"{len(data)} points"} if prefix.endswith("points") else {prefix: data}
    return {prefix: data}


def diff(old: dict[str, Any], new: dict[str, Any]) -> tuple[tuple[str, Any, Any], ...]:
    """Changed leaf fields as (path, old, new), fetch time left out."""
    a, b = _flat(_comparable(old)), _flat(_comparable(new))
    keys = sorted(a.keys() | b.keys(), key=lambda k: (k.startswith("provenance."), k))
    changed = [(k, a.get(k), b.get(k)) for k in keys if a.get(k) != b.get(k)]
    if not changed and old.get("history", {}).get("points") != new.get("history", {}).get("points"):
        changed.append(("history.points", "changed", "changed"))
    return tuple(changed)


def merge(
    entry: Collected,
    old: dict[str, Any] | None,
    mapping: Mapping,
    warnings: list[str] | None = None,
) -> dict[str, Any]:
    """The new entry: evidence from the source, descriptions from source, record, then defaults."""
    data = dict(entry.defaults)
    layer(
        entry.section,
        data,
        {k: v for k, v in (old or {}).items() if k in DESCRIPTIVE_FIELDS[entry.section]},
    )
    layer(entry.section, data, entry.data)
    if entry.points:
        band = data.get("target") or {}
        history = summarise(
            entry.points,
            direction=Direction(data["direction"]) if data.get("direction") else None,
            target=(band.get("low"), band.get("high")),
            window=mapping.window,
            max_points=mapping.points,
        )
        data["history"] = history
        if entry.value_from == "best":
            data["value"] = history["best"]
    if entry.section == STRESS:
        note = judge(entry, data)
        if note and warnings is not None:
            warnings.append(note)
    try:
        model = MODELS[entry.section].model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(
                f"{entry.label} from {entry.origin}: "
                + ".".join(map(str, e["loc"]))
                + f" {e['msg'][:1].lower()}{e['msg'][1:]}"
            )
            for e in exc.errors(include_url=False)
        ]
        raise InputError(problems, what="evidence") from None
    data = model.model_dump(mode="json", exclude_none=True)
    digest = model.current_digest() if isinstance(model, CollectedEvidence) else None
    if digest is not None:  # binds the values to their source: a later hand edit shows
        data["provenance"]["value_sha256"] = digest
    return data


def judge(entry: Collected, data: dict[str, Any]) -> str | None:
    """Settle a stress test's ``passed`` by its criterion, judged on the conservative bound.

    Without a logged ``passed`` the criterion decides. A logged pass the criterion refutes
    is refused; a logged failure it would pass is kept (a test may fail for reasons its
    criterion does not state) and returned as a warning.
    """
    if data.get("criterion") is None:
        return None
    try:
        criterion = Criterion.model_validate(data["criterion"])
        bounds = Bounds.model_validate({k: data[k] for k in BOUNDS if k in data})
    except ValidationError:
        return None  # the entry's own validation names what is wrong
    bound, observed = criterion.conservative(bounds)
    if observed is None:
        return None
    rule = f"{criterion.comparator.value} {criterion.threshold}"
    holds = criterion.holds(observed)
    if "passed" not in entry.data:
        data["passed"] = holds
        return None
    where = entry.sources.get("passed", entry.origin)
    if data["passed"] is True and not holds:
        raise InputError(
            [
                Problem(
                    f"{entry.label}: {where} says passed, but its {bound} {observed} does not "
                    f"meet its criterion {rule}; log it as failed, or leave passed out and "
                    "govrl will judge it on the conservative bound"
                )
            ],
            what="evidence",
        )
    if data["passed"] is False and holds:
        return (
            f"{entry.label}: {where} says failed although its {bound} {observed} meets its "
            f"criterion {rule}; kept as logged"
        )
    return None


def unknown_failure_modes(entries: list[Collected], known: set[str]) -> list[Problem]:
    """Failure modes collected stress tests name that the record's reward section lacks."""
    naming: dict[str, list[str]] = {}
    for entry in entries:
        for ref in entry.data.get("failure_modes", []) if entry.section == STRESS else []:
            if ref not in known:
                naming.setdefault(ref, []).append(f"{entry.label} from {entry.origin}")
    return [
        Problem(
            f"failure mode {ref!r} is not the id of any reward.failure_modes entry, but "
            f"{'; '.join(where)} names it; add it to reward.failure_modes (id and "
            "description) first, or correct the id in the source"
        )
        for ref, where in naming.items()
    ]


def _manual(data: dict[str, Any]) -> bool:
    provenance = data.get("provenance")
    return provenance is None or provenance.get("source") == SourceKind.MANUAL.value


def _in_scope(data: dict[str, Any], evidence: Evidence) -> bool:
    """Whether an earlier collected entry belongs to what was collected now."""
    provenance = data.get("provenance") or {}
    if _manual(data) or provenance.get("source") != evidence.source.value:
        return False
    read = {r.run_id for r in evidence.runs if r.run_id}
    if provenance.get("run_id") and provenance["run_id"] in read:
        return True
    if "run_id" not in provenance and evidence.source is SourceKind.MLFLOW:
        # aggregated over seeds: the note names each seed's run as "(run NAME, ID)"
        note = provenance.get("note") or ""
        if any(f", {run_id})" in note for run_id in read):
            return True
    if evidence.model and provenance.get("model_name") == evidence.model.name:
        return True
    paths = {r.evidence_path for r in evidence.runs} | {
        a.path for r in evidence.runs for a in r.artifacts.values()
    }
    return evidence.source is SourceKind.FILE and provenance.get("artifact_path") in paths


@dataclass
class Plan:
    """The merged entries and the changes they make, ready to apply to the YAML tree."""

    new: dict[Key, dict[str, Any]]
    changes: list[Change]
    unchanged: int
    warnings: list[str]


def plan(
    evaluation: Evaluation,
    entries: list[Collected],
    evidence: Evidence,
    mapping: Mapping,
    *,
    replace: bool,
) -> Plan:
    """Merge ``entries`` into ``evaluation``; refuse to overwrite hand-written entries."""
    existing = _existing(evaluation)
    new: dict[Key, dict[str, Any]] = {}
    changes: list[Change] = []
    warnings: list[str] = []
    conflicts: list[str] = []
    unchanged = 0
    for entry in entries:
        key = (entry.section, entry.identity)
        old = existing.get(key)
        if old is not None and _manual(old) and not replace:
            conflicts.append(entry.label)
            continue
        data = merge(entry, old, mapping, warnings)
        for name, value in data.items():
            if isinstance(value, str) and value.startswith("TODO") and entry.defaults.get(name):
                warnings.append(f"{entry.label}.{name}: the source does not say; wrote a TODO")
        if old is None:
            changes.append(Change("added", entry.label))
        elif _comparable(old) == _comparable(data):
            unchanged += 1
            continue
        else:
            changes.append(Change("changed", entry.label, diff(old, data)))
        new[key] = data
    if conflicts:
        raise ManualEntryConflict(
            f"{len(conflicts)} collected entries would overwrite hand-written ones: "
            + ", ".join(conflicts),
            hint="give them another id, or pass --replace to let the collected evidence win "
            "(their descriptions are kept)",
        )
    collected = {(e.section, e.identity) for e in entries}
    for key, old in existing.items():
        if key not in collected and _in_scope(old, evidence):
            changes.append(Change("removed", label(*key)))
            new[key] = {}
    return Plan(new, changes, unchanged, warnings)


# ------------------------------------------------------------------ YAML tree

ORDER = {
    METRICS: ("id", "name", "description", "value", "ci_low", "ci_high", "ci_level")
    + ("direction", "target", "unit", "split", "history", "provenance"),
    OFF_POLICY: ("id", "estimator", "target", "value", "ci_low", "ci_high", "ci_level")
    + ("ess", "episodes", "behaviour_value", "difference", "notes", "provenance"),
    STRESS: ("id", "scenario", "kind", "failure_modes", "description", "metric", "value")
    + ("ci_low", "ci_high", "ci_level", "baseline", "criterion", "passed", "provenance"),
    SUBGROUPS: ("attribute", "group", "metric", "n", "ess", "value", "ci_low", "ci_high")
    + ("ci_level", "provenance"),
    OOD: ("method", "evaluated_on", "auroc", "false_alarm_rate", "detection_rate")
    + ("on_detection", "provenance"),
}


_FLOW = frozenset({"criterion", "target"})  # small maps, written on one line


def _timestamp(text: str) -> Any:
    from ruamel.yaml.timestamp import TimeStamp

    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    stamp = TimeStamp(*moment.timetuple()[:6], tzinfo=dt.timezone(dt.timedelta(0), "Z"))
    stamp._yaml["t"] = True  # written as 2026-04-27T09:14:00Z, like hand-written records
    return stamp


def _node(value: Any, key: str | None = None) -> Any:
    """JSON data as ruamel nodes: block mappings, history points one per line in flow style."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, dict):
        node = CommentedMap()
        for name, item in value.items():
            node[name] = _node(item, name)
        if (key is None and set(value) == {"step", "value"}) or key in _FLOW:
            node.fa.set_flow_style()
        return node
    if isinstance(value, list):
        seq = CommentedSeq(_node(item) for item in value)
        if not any(isinstance(item, dict | list) for item in value):
            seq.fa.set_flow_style()  # failure_modes: [a, b], as people write them
        return seq
    return _timestamp(value) if key == "fetched_at" else value


def _ordered(data: dict[str, Any], section: str) -> list[str]:
    """The fields worth writing, in the record's usual order; defaults go unsaid."""
    order, fields = ORDER[section], MODELS[section].model_fields
    shown = [
        k
        for k in data
        if not (k in fields and data[k] == fields[k].get_default(call_default_factory=True))
    ]
    return sorted(shown, key=lambda k: order.index(k) if k in order else len(order))


def _update(node: Any, data: dict[str, Any], section: str) -> None:
    """Edit a mapping in place, so comments and key order around unchanged fields survive."""
    order = ORDER[section]
    for name in [k for k in node if k not in data]:
        del node[name]
    shown = _ordered(data, section)
    for name, value in data.items():
        if name in node:
            if isinstance(value, dict) or node[name] != value:
                # nested maps are replaced, never edited: a YAML alias may share them
                node[name] = _node(value, name)
        elif name in shown:
            rank = order.index(name) if name in order else len(order)
            position = sum(1 for k in node if k in order and order.index(k) < rank)
            node.insert(position, name, _node(value, name))


def apply_plan(tree: Any, new: dict[Key, dict[str, Any]]) -> None:
    """Write each merged entry into the round-trip tree (an empty entry is a removal)."""
    from ruamel.yaml.comments import CommentedSeq

    evaluation = tree["evaluation"]
    fields = list(Evaluation.model_fields)
    for (section, identity), data in new.items():
        if section not in evaluation:
            if not data:
                continue
            position = sum(
                1 for k in evaluation if k in fields and fields.index(k) < fields.index(section)
            )
            evaluation.insert(position, section, CommentedSeq() if section != OOD else None)
        if section == OOD:
            if not data:
                del evaluation[OOD]
            elif evaluation[OOD] is None:
                evaluation[OOD] = _node({k: data[k] for k in _ordered(data, OOD)})
            else:
                _update(evaluation[OOD], data, OOD)
            continue
        items = evaluation[section]
        items.fa.set_block_style()  # `metrics: []` would otherwise grow as one flow line
        index = next(
            (i for i, item in enumerate(items) if identity_of(section, item) == identity), None
        )
        if not data:
            if index is not None:
                del items[index]
        elif index is None:
            items.append(_node({k: data[k] for k in _ordered(data, section)}))
        else:
            _update(items[index], data, section)


def fetch_plan(convention: Convention) -> FetchPlan:
    """What collect fetches: the convention's plan, each history thinned as it streams in to
    what the summary the mapping asks for needs, so that memory does not grow with its length."""
    mapping = convention.mapping
    return replace(convention.plan(), thinning=Thinning(mapping.window, mapping.points))


def collect(
    path: Path,
    source: EvidenceSource,
    selection: Selection,
    *,
    mapping: Mapping | None = None,
    replace: bool = False,
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> CollectReport:
    """Fetch the selected evidence and merge it into the record at ``path``."""
    record = load_record(path).record  # a broken record fails before any network call
    convention = Convention(mapping)
    evidence = source.fetch(selection, fetch_plan(convention))
    fetched_at = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    harvest = convention.harvest(evidence, fetched_at)
    unknown = unknown_failure_modes(harvest.entries, {m.id for m in record.reward.failure_modes})
    if unknown:
        raise InputError(unknown, what="evidence")
    if not harvest.entries:
        harvest.warnings.append("the selected runs hold nothing the convention maps")
    result = plan(record.evaluation, harvest.entries, evidence, convention.mapping, replace=replace)
    written = bool(result.changes) and not dry_run
    if written:
        update_record(path, lambda tree: apply_plan(tree, result.new))
    return CollectReport(
        path=path,
        source=evidence.location or evidence.source.value,
        runs=[
            {
                "run_id": r.run_id,
                "name": r.name,
                "experiment": r.experiment,
                "model": f"{r.model_name}/{r.model_version}" if r.model_name else None,
                "params": r.params,
            }
            for r in evidence.runs
        ],
        changes=result.changes,
        unchanged=result.unchanged,
        written=written,
        dry_run=dry_run,
        warnings=harvest.warnings + result.warnings,
        unmapped=sorted(set(harvest.unmapped)),
    )


def collect_from(
    path: Path,
    location: str,
    selection: Selection,
    *,
    kind: str | None = None,
    timeout: float | None = None,
    mapping_path: Path | None = None,
    replace: bool = False,
    dry_run: bool = False,
    remember: bool = True,
) -> CollectReport:
    """Open the source at ``location`` and collect its selected evidence into ``path``.

    A file source reads relative paths from the record's folder.
    A mapping given as ``mapping_path`` is remembered in the project's govrl.toml when it
    names none yet (unless ``remember`` is false), so the next collect maps the same way.
    """
    from govrl.evidence import open_source
    from govrl.evidence.mapping import load_mapping

    setting = mapping_setting(path, mapping_path)
    mapping = load_mapping(setting.path)
    source = open_source(location, kind=kind, timeout=timeout, base=path.parent)
    report = collect(path, source, selection, mapping=mapping, replace=replace, dry_run=dry_run)
    report.mapping = setting.path
    if remember and not dry_run:
        report.remembered = remember_mapping(setting)
    return report
