"""The convention that turns runs (metric keys, tags, artifact tables) into record entries.

docs/collect.md states the rules; a mapping file (govrl.evidence.mapping) overrides them.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import defaultdict
from typing import Any

from govrl.errors import InputError, Problem
from govrl.evidence.collected import Collected, Harvest, slug
from govrl.evidence.fields import (
    DESCRIPTIVE_FIELDS,
    EVIDENCE_FIELDS,
    IDENTITY_FIELDS,
    METRICS,
    OFF_POLICY,
    OOD,
    SOURCE_FIELDS,
    STRESS,
    SUBGROUPS,
    BadField,
    layer,
    nest,
)
from govrl.evidence.interface import Evidence, FetchPlan, Point, RunEvidence
from govrl.evidence.mapping import Mapping
from govrl.evidence.tables import BOOL_FIELDS, SAMPLE_TABLES, read_table
from govrl.vocabulary import Estimator, SourceKind, StressKind

TODO = {
    "target": "TODO: what this estimates, e.g. expected return per episode",
    "metric": "TODO: the metric this stress test reports",
    "method": "TODO: how out-of-distribution states are detected",
    "evaluated_on": "TODO: the in- and out-of-distribution data it was evaluated on",
    "on_detection": "TODO: what the system does when a state is flagged",
}
_TAG_SECTIONS = {"metric": METRICS, "ope": OFF_POLICY, "stress": STRESS}
_TAG_NAMES = {section: name for name, section in _TAG_SECTIONS.items()}
_ARTIFACT_SECTIONS = {"metrics": METRICS, "ope": OFF_POLICY, "stress": STRESS}
_ARTIFACT_SECTIONS |= {"subgroups": SUBGROUPS, "ood": OOD}
_TAG = re.compile(r"^govrl\.(metric|ope|stress)\.(.+)\.([a-z_]+)$")
_ESTIMATORS = {e.value.lower(): e.value for e in Estimator}
_KINDS = {k.value for k in StressKind}


def _descriptors(run: RunEvidence) -> dict[tuple[str, str], dict[str, Any]]:
    """Descriptions from tags: ``govrl.<metric|ope|stress>.<id>.<field>``, ``govrl.ood.<field>``."""
    flat: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
    for key, value in run.tags.items():
        match = _TAG.match(key)
        if match and match[3] in SOURCE_FIELDS[_TAG_SECTIONS[match[1]]]:
            flat[(_TAG_SECTIONS[match[1]], match[2])][match[3]] = value
        elif key.startswith("govrl.ood.") and key[10:] in SOURCE_FIELDS[OOD]:
            flat[(OOD, "")][key[10:]] = value
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for (section, entry_id), fields in flat.items():
        try:
            found[(section, entry_id)] = nest(section, fields)
        except BadField as bad:
            tag = f"govrl.{_TAG_NAMES[section]}.{entry_id}" if entry_id else "govrl.ood"
            raise InputError(
                [Problem(f"run {run.label}: tag {tag}.{bad.field} {bad.message}")], what="evidence"
            ) from None
        if "estimator" in fields:
            found[(section, entry_id)]["estimator"] = _ESTIMATORS.get(
                fields["estimator"].lower(), "other"
            )
    return found


class Convention:
    """Reads evidence into entries the way docs/collect.md describes, as ``mapping`` adjusts."""

    def __init__(self, mapping: Mapping | None = None) -> None:
        self.mapping = mapping or Mapping()
        p = self.mapping.prefixes
        self._prefix = {p.eval: METRICS, p.ope: OFF_POLICY, p.stress: STRESS}
        self._prefix |= {p.subgroup: SUBGROUPS, p.ood: OOD}

    def plan(self) -> FetchPlan:
        stems = (*_ARTIFACT_SECTIONS, *SAMPLE_TABLES)
        names = {f"{stem}.{ext}" for stem in stems for ext in ("json", "csv")}
        return FetchPlan(self.wants_history, self.mapping.artifact_dir, frozenset(names))

    def wants_history(self, key: str) -> bool:
        if self.mapping.ignored(key):
            return False
        rule = self.mapping.rule_for(key)
        if rule is not None:
            return rule.history
        parsed = self.classify(key)
        return parsed is not None and parsed[0] == METRICS and parsed[2] == "value"

    def classify(self, key: str) -> tuple[str, tuple[str, ...], str] | None:
        """(section, path, field) for a key in the convention, or None."""
        head, _, rest = key.partition("/")
        section = self._prefix.get(head)
        parts = tuple(rest.split("/")) if rest else ()
        if section is None or not parts or "" in parts:
            return None
        fields = EVIDENCE_FIELDS[section]
        if section == OOD:
            return (OOD, (), parts[0]) if len(parts) == 1 and parts[0] in fields else None
        path, name = (
            (parts[:-1], parts[-1]) if len(parts) > 1 and parts[-1] in fields else (parts, "value")
        )
        if section == SUBGROUPS and len(path) != 3:
            return None
        return section, path, name

    # ------------------------------------------------------------------ harvest

    def harvest(self, evidence: Evidence, fetched_at: dt.datetime) -> Harvest:
        """Every entry the evidence supports, each with its provenance."""
        from govrl.evidence import computed  # which builds on this module's Collected

        out = Harvest()
        for run in evidence.runs:
            described = _descriptors(run)
            start = len(out.entries)
            self._from_keys(evidence, run, described, fetched_at, out)
            self._from_tables(evidence, run, described, fetched_at, out)
            for entry in out.entries[start:]:
                entry.run = run
            sampled = computed.from_samples(self, evidence, run, described, fetched_at, out)
            out.entries[start:] = computed.combine(out.entries[start:], sampled, out.warnings)
        out.entries = computed.across_runs(self, evidence, out, fetched_at)
        seen: dict[tuple[str, tuple[str, ...]], str] = {}
        clashes = []
        for entry in out.entries:
            key = (entry.section, entry.identity)
            if key in seen:
                clashes.append(f"{entry.label} comes from both {seen[key]} and {entry.origin}")
            seen.setdefault(key, entry.origin)
        if clashes:
            raise InputError(
                [
                    Problem(
                        c + "; select one run, or rename one with --mapping (seeds of one "
                        "configuration are aggregated when every run has a seed tag or param "
                        "and the same govrl.config tag)"
                    )
                    for c in clashes
                ],
                what="evidence",
            )
        return out

    def provenance(
        self,
        evidence: Evidence,
        run: RunEvidence,
        fetched_at: dt.datetime,
        *,
        key: str | None = None,
        artifact: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        found = {
            "source": evidence.source.value,
            "tracking_uri": evidence.location if evidence.source is SourceKind.MLFLOW else None,
            "experiment": run.experiment,
            "run_id": run.run_id,
            "model_name": run.model_name,
            "model_version": run.model_version,
            "metric_key": key,
            "artifact_path": artifact[0] if artifact else run.evidence_path,
            "artifact_sha256": artifact[1] if artifact else None,
            "fetched_at": fetched_at,
        }
        return {k: v for k, v in found.items() if v is not None}

    def finish(
        self,
        entry: Collected,
        run: RunEvidence,
        described: dict[tuple[str, str], dict[str, Any]],
        given: dict[str, Any] | None = None,
    ) -> Collected:
        """Add descriptive fields (mapping > source row > tags) and check the interval's level."""
        entry_id = entry.identity[0] if entry.identity and entry.section != SUBGROUPS else ""
        describe = self.mapping.describe
        sections: dict[str, dict[str, Any]] = {
            METRICS: describe.metrics,
            OFF_POLICY: describe.off_policy,
            STRESS: describe.stress_tests,
        }
        by_id = sections.get(entry.section, {})
        override = describe.ood_detection if entry.section == OOD else by_id.get(entry_id)
        layer(entry.section, entry.data, described.get((entry.section, entry_id), {}))
        layer(entry.section, entry.data, given or {})
        if override is not None:
            layer(entry.section, entry.data, override.model_dump(mode="json", exclude_none=True))
        self._level(entry, run, entry.data, "ci_level")
        difference = entry.data.get("difference")
        if isinstance(difference, dict):
            self._level(entry, run, difference, "difference_ci_level")
        return entry

    def _level(self, entry: Collected, run: RunEvidence, bounds: dict[str, Any], name: str) -> None:
        """Give an interval without a level the run's ``govrl.ci_level`` or the mapping's."""
        if ("ci_low" not in bounds and "ci_high" not in bounds) or "ci_level" in bounds:
            return
        level = run.tags.get("govrl.ci_level") or self.mapping.ci_level
        if level is None:
            what = "an interval" if name == "ci_level" else "a difference interval"
            raise InputError(
                [Problem(f"{entry.label} from {entry.origin} has {what} but no {name}", path=name)],
                what="evidence",
            )
        try:
            bounds["ci_level"] = float(level)
        except ValueError:
            raise InputError(
                [Problem(f"run {run.label}: tag govrl.ci_level is not a number: {level!r}")],
                what="evidence",
            ) from None

    def _from_keys(
        self,
        evidence: Evidence,
        run: RunEvidence,
        described: dict[tuple[str, str], dict[str, Any]],
        fetched_at: dt.datetime,
        out: Harvest,
    ) -> None:
        groups: dict[tuple[str, tuple[str, ...]], dict[str, tuple[float, str]]] = defaultdict(dict)
        for key in sorted(run.metrics):
            value = run.metrics[key]
            if self.mapping.ignored(key):
                continue
            rule = self.mapping.rule_for(key)
            if not math.isfinite(value) and (rule or self.classify(key)):
                out.warnings.append(f"{run.label}: {key} is {value}; left out")
                continue
            if rule is not None:
                entry_id = rule.id or slug(tuple(key.split("/")))
                name = key
                if rule.per_run:  # seeds or variants that log the same key
                    entry_id += "-" + slug((run.name or run.run_id or "run",))
                    name += f" ({run.label})"
                entry = Collected(
                    METRICS,
                    (entry_id,),
                    {"id": entry_id, "value": value},
                    {"name": name},
                    f"run {run.label} metric {key}",
                    self._points(run, key, out) if rule.history else None,
                    rule.value,
                )
                entry.data["provenance"] = self.provenance(evidence, run, fetched_at, key=key)
                given = rule.model_dump(
                    mode="json",
                    exclude_none=True,
                    include={"name", "description", "unit", "split", "direction", "target"},
                )
                out.entries.append(self.finish(entry, run, described, given))
                continue
            parsed = self.classify(key)
            if parsed is None:
                out.unmapped.append(key)
                continue
            section, path, name = parsed
            if name in groups[(section, path)]:
                out.warnings.append(
                    f"{run.label}: {key} repeats {groups[(section, path)][name][1]}"
                )
                continue
            groups[(section, path)][name] = (value, key)
        for (section, path), fields in groups.items():
            out.entries.append(
                self.finish(
                    self._entry(evidence, run, section, path, fields, fetched_at, out),
                    run,
                    described,
                )
            )

    def _points(self, run: RunEvidence, key: str, out: Harvest) -> list[Point] | None:
        points = run.histories.get(key)
        if not points:
            return None
        kept = [p for p in points if p[0] >= 0 and math.isfinite(p[2])]
        if len(kept) < len(points):
            dropped = len(points) - len(kept)
            out.warnings.append(f"{run.label}: {key} history: {dropped} non-finite points left out")
        return kept if len(kept) > 1 else None

    def _entry(
        self,
        evidence: Evidence,
        run: RunEvidence,
        section: str,
        path: tuple[str, ...],
        fields: dict[str, tuple[float, str]],
        fetched_at: dt.datetime,
        out: Harvest,
    ) -> Collected:
        key = fields["value"][1] if "value" in fields else min(k for _, k in fields.values())
        prefix = key.rsplit("/", 1)[0] if key.rsplit("/", 1)[-1] in fields else key
        data: dict[str, Any] = {}
        for name, (value, source_key) in fields.items():
            if name in BOOL_FIELDS:
                if value not in (0.0, 1.0):
                    raise InputError(
                        [Problem(f"run {run.label}: {source_key} must be 0 or 1, not {value}")],
                        what="evidence",
                    )
                data[name] = value == 1.0
            elif name in ("n", "episodes"):
                if not value.is_integer():
                    raise InputError(
                        [Problem(f"run {run.label}: {source_key} must be whole, not {value}")],
                        what="evidence",
                    )
                data[name] = int(value)
            else:
                data[name] = value
        points = None
        identity: tuple[str, ...] = ()
        if section == OFF_POLICY and path[0].lower() in _ESTIMATORS:
            data["estimator"] = _ESTIMATORS[path[0].lower()]
        if section == STRESS and len(path) > 1 and path[0] in _KINDS:
            data["kind"], path = path[0], path[1:]
        if section == SUBGROUPS:
            identity = path
            data |= dict(zip(IDENTITY_FIELDS[SUBGROUPS], path, strict=True))
        elif section != OOD:
            identity = (slug(path),)
            data["id"] = identity[0]
        defaults = self._defaults(section, identity, " ".join(path).replace("_", " "))
        if section == METRICS and "value" in fields:
            points = self._points(run, fields["value"][1], out)
        data = nest(section, data)  # numbers only: an off-policy difference
        data["provenance"] = self.provenance(evidence, run, fetched_at, key=key)
        sources = {name: f"run {run.label} key {k}" for name, (_, k) in fields.items()}
        origin = f"run {run.label} {prefix}"
        return Collected(section, identity, data, defaults, origin, points, sources=sources)

    def _from_tables(
        self,
        evidence: Evidence,
        run: RunEvidence,
        described: dict[tuple[str, str], dict[str, Any]],
        fetched_at: dt.datetime,
        out: Harvest,
    ) -> None:
        for path in sorted(run.artifacts):
            artifact = run.artifacts[path]
            stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
            section = _ARTIFACT_SECTIONS.get(stem)
            if section is None:
                continue  # the sample tables are govrl.evidence.computed's
            allowed = frozenset(
                IDENTITY_FIELDS[section] + SOURCE_FIELDS[section] + EVIDENCE_FIELDS[section]
            )
            source = f"{run.label}:{path}"
            rows = read_table(path, artifact.content, source=source, allowed=allowed)
            if section == OOD and len(rows) > 1:
                raise InputError([Problem("holds more than one OOD result", source)])
            for index, row in enumerate(rows, start=1):
                missing = [f for f in IDENTITY_FIELDS[section] if f not in row]
                if missing:
                    raise InputError(
                        [Problem(f"{', '.join(missing)} missing", source, None, f"row {index}")]
                    )
                try:
                    shaped = nest(section, row)
                except BadField as bad:
                    place = f"row {index} {bad.field}"
                    raise InputError([Problem(bad.message, source, None, place)]) from None
                identity = tuple(str(row[f]) for f in IDENTITY_FIELDS[section])
                descriptive = DESCRIPTIVE_FIELDS[section]
                evidence_part = {k: v for k, v in shaped.items() if k not in descriptive}
                given = {k: v for k, v in shaped.items() if k in descriptive}
                defaults = self._defaults(section, identity)
                entry = Collected(
                    section, identity, evidence_part, defaults, f"{source} row {index}"
                )
                entry.sources = {k: f"{source} row {index} column {k}" for k in row}
                entry.data["provenance"] = self.provenance(
                    evidence, run, fetched_at, artifact=(artifact.path, artifact.sha256)
                )
                out.entries.append(self.finish(entry, run, described, given))

    @staticmethod
    def _defaults(section: str, identity: tuple[str, ...], title: str = "") -> dict[str, Any]:
        """Descriptions to fall back on: a readable name, or a TODO a person must replace."""
        if section == METRICS:
            return {"name": title or identity[0]}
        if section == OFF_POLICY:
            return {"estimator": "other", "target": TODO["target"]}
        if section == STRESS:
            return {"scenario": title or identity[0], "kind": "other", "metric": TODO["metric"]}
        if section == OOD:
            return {k: TODO[k] for k in DESCRIPTIVE_FIELDS[OOD]}
        return {}
