"""Entries govrl computes rather than takes on trust: from per-episode returns, from logged
importance weights, over the seeds of one configuration, and against a baseline.

docs/collect.md states the convention: a ``seed`` tag or param, the ``govrl.config`` and
``govrl.baseline`` tags, and the ``govrl/episodes`` and ``govrl/weights`` tables.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Protocol

from govrl.errors import InputError, Problem
from govrl.evidence.collected import Collected, Harvest
from govrl.evidence.fields import DESCRIPTIVE_FIELDS, METRICS, OFF_POLICY
from govrl.evidence.interface import Evidence, RunEvidence
from govrl.evidence.mapping import Mapping
from govrl.evidence.statistics import Bootstrap, Estimate, improvement, iqm, mean, weighted
from govrl.evidence.tables import SAMPLE_TABLES, read_table
from govrl.vocabulary import Direction


class Convention(Protocol):
    """What the computations need of govrl.evidence.convention.Convention, which calls them."""

    mapping: Mapping

    def provenance(
        self,
        evidence: Evidence,
        run: RunEvidence,
        fetched_at: dt.datetime,
        *,
        key: str | None = None,
        artifact: tuple[str, str] | None = None,
    ) -> dict[str, Any]: ...

    def finish(
        self,
        entry: Collected,
        run: RunEvidence,
        described: dict[tuple[str, str], dict[str, Any]],
        given: dict[str, Any] | None = None,
    ) -> Collected: ...


Described = dict[tuple[str, str], dict[str, Any]]
Key = tuple[str, tuple[str, ...]]
TOLERANCE = 1e-4  # relative: a logged value further than this from govrl's is reported
_TRUE = {"true", "1", "yes"}
_SHARED = ("source", "tracking_uri", "experiment", "model_name", "model_version", "metric_key")


def seed_of(run: RunEvidence) -> str | None:
    """The run's seed: its ``seed`` tag, else its ``seed`` param."""
    return run.tags.get("seed") or run.params.get("seed")


def config_of(run: RunEvidence) -> str:
    return run.tags.get("govrl.config", "")


def is_baseline(run: RunEvidence) -> bool:
    return run.tags.get("govrl.baseline", "").strip().lower() in _TRUE


def bootstrap_for(convention: Convention, run: RunEvidence | None) -> Bootstrap:
    """The level of the run's intervals (tag ``govrl.ci_level``, else the mapping's, else
    0.95) with the mapping's resamples and seed."""
    settings = convention.mapping.bootstrap
    tag = run.tags.get("govrl.ci_level") if run else None
    level = convention.mapping.ci_level or 0.95
    if tag is not None:
        try:
            level = float(tag)
        except ValueError:
            level = math.nan
        if not 0 < level < 1:
            label = run.label if run else "run"
            raise InputError(
                [Problem(f"run {label}: tag govrl.ci_level must be between 0 and 1: {tag!r}")],
                what="evidence",
            )
    return Bootstrap(level, settings.resamples, settings.seed)


def _interval_note(estimate: Estimate) -> str:
    return f"; no interval: {estimate.missing}" if estimate.missing else ""


# ------------------------------------------------------------------ one run's samples


def from_samples(
    convention: Convention,
    evidence: Evidence,
    run: RunEvidence,
    described: Described,
    fetched_at: dt.datetime,
    out: Harvest,
) -> list[Collected]:
    """Entries computed from the run's ``episodes`` and ``weights`` tables."""
    found: list[Collected] = []
    for path in sorted(run.artifacts):
        stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        if stem not in SAMPLE_TABLES:
            continue
        artifact = run.artifacts[path]
        source = f"{run.label}:{path}"
        rows = read_table(path, artifact.content, source=source, allowed=SAMPLE_TABLES[stem])
        column = "metric" if stem == "episodes" else "id"
        groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for index, row in enumerate(rows, start=1):
            missing = [c for c in (column, "return") if c not in row]
            if missing:
                raise InputError(
                    [Problem(f"{', '.join(missing)} missing", source, None, f"row {index}")]
                )
            groups.setdefault(row[column], []).append((index, row))
        how = bootstrap_for(convention, run)
        for entry_id, group in groups.items():
            make = _episodes if stem == "episodes" else _weights
            entry = make(entry_id, group, how, source, out.warnings)
            entry.run = run
            provenance = convention.provenance(
                evidence, run, fetched_at, artifact=(artifact.path, artifact.sha256)
            )
            entry.data["provenance"] = provenance | {"note": entry.data.pop("note")}
            found.append(convention.finish(entry, run, described))
    return found


def _episodes(
    entry_id: str,
    group: list[tuple[int, dict[str, Any]]],
    how: Bootstrap,
    source: str,
    warnings: list[str],
) -> Collected:

    returns = [row["return"] for _, row in group]
    estimate = mean(returns, how)
    note = (
        f"govrl computed the mean of {len(returns)} episodes from the table; "
        f"interval: {how.describe()}" + _interval_note(estimate)
    )
    return Collected(
        METRICS,
        (entry_id,),
        {"id": entry_id, **estimate.fields(), "note": note},
        {"name": entry_id.replace("-", " ").replace("_", " ")},
        f"{len(returns)} episodes of {entry_id} in {source}",
        samples=returns,
        unit="episode",
    )


def _weight(row: dict[str, Any], index: int, source: str) -> float:
    def bad(message: str) -> InputError:
        return InputError([Problem(message, source, None, f"row {index}")])

    given = [c for c in ("weight", "behaviour_prob", "target_prob") if c in row]
    if given == ["weight"]:
        weight = float(row["weight"])
    elif given == ["behaviour_prob", "target_prob"]:
        if row["behaviour_prob"] <= 0 or row["target_prob"] < 0:
            raise bad("behaviour_prob must be above 0 and target_prob at least 0")
        weight = row["target_prob"] / row["behaviour_prob"]
    else:
        raise bad(
            "give either weight, or behaviour_prob and target_prob (the episode's "
            f"propensities under each policy); got {', '.join(given) or 'none'}"
        )
    if weight < 0:
        raise bad(f"weight must be at least 0 (got {weight})")
    return weight


def _weights(
    entry_id: str,
    group: list[tuple[int, dict[str, Any]]],
    how: Bootstrap,
    source: str,
    warnings: list[str],
) -> Collected:

    weights = [_weight(row, index, source) for index, row in group]
    returns = [row["return"] for _, row in group]
    if not any(weights):
        raise InputError([Problem(f"every weight of {entry_id} is 0: WIS is undefined", source)])
    found = weighted(weights, returns, how)
    note = (
        f"govrl computed WIS from {found.episodes} episodes' logged weights; "
        f"ESS (sum w)^2/sum w^2 = {found.ess:.6g}, relative ESS {found.relative_ess:.4g}, "
        f"largest weight {found.largest_share:.4g} of the total; "
        f"behaviour value: the mean logged return; interval: {how.describe()}, "
        "episodes resampled with their weights" + _interval_note(found.wis)
    )
    data: dict[str, Any] = {
        "id": entry_id,
        "estimator": "WIS",
        **found.wis.fields(),
        "ess": found.ess,
        "episodes": found.episodes,
        "behaviour_value": found.behaviour,
        "difference": found.difference.fields(),
        "note": note,
    }
    if found.largest_share > 0.5:
        warnings.append(
            f"evaluation.off_policy[{entry_id}]: one episode holds {found.largest_share:.0%} "
            f"of the weight in {source}; the WIS estimate rests on it"
        )
    return Collected(
        OFF_POLICY,
        (entry_id,),
        data,
        {"estimator": "WIS", "target": "expected return per episode of the evaluated policy"},
        f"{found.episodes} weighted episodes of {entry_id} in {source}",
    )


def combine(
    logged: list[Collected], computed: list[Collected], warnings: list[str]
) -> list[Collected]:
    """The run's entries with computed ones in place of what the run logged for the same id.

    A logged value or ESS that differs from the computed one is reported; the logged
    descriptions and learning curve are kept.
    """
    by_key = {(e.section, e.identity): e for e in computed}
    kept: list[Collected] = []
    for entry in logged:
        mine = by_key.get((entry.section, entry.identity))
        if mine is None:
            kept.append(entry)
            continue
        for name in ("value", "ess"):
            theirs, ours = entry.data.get(name), mine.data.get(name)
            if theirs is None or ours is None:
                continue
            if not math.isclose(theirs, ours, rel_tol=TOLERANCE, abs_tol=1e-12):
                where = entry.sources.get(name, entry.origin)
                warnings.append(
                    f"{mine.label}: {where} says {name} {theirs:.6g}, but govrl computes "
                    f"{ours:.6g} from {mine.origin}; the computed value is recorded"
                )
        if entry.section == OFF_POLICY and entry.data.get("estimator") not in (None, "WIS"):
            warnings.append(
                f"{mine.label}: {entry.origin} names estimator {entry.data['estimator']}, but "
                "logged weights give WIS; recorded as WIS"
            )
        if entry.points and not mine.points:
            mine.points = entry.points
        descriptive = set(DESCRIPTIVE_FIELDS[entry.section]) - {"estimator"}
        if entry.section == METRICS and {"direction", "target"} & set(mine.data):
            descriptive -= {"direction", "target"}
        for name in descriptive:
            if name in entry.data and name not in mine.data:
                mine.data[name] = entry.data[name]
    return kept + computed


# ------------------------------------------------------------------ across runs


def across_runs(
    convention: Convention, evidence: Evidence, out: Harvest, fetched_at: dt.datetime
) -> list[Collected]:
    """Seeds of one configuration aggregated, the baseline's metrics renamed, and the
    probability of improvement wherever both sides give samples of the same kind."""
    candidate: list[Collected] = []
    baseline: list[Collected] = []
    for entry in out.entries:
        if entry.run is None or not is_baseline(entry.run):
            candidate.append(entry)
        elif entry.section == METRICS:
            baseline.append(entry)
        else:
            out.warnings.append(
                f"{entry.label} from {entry.origin}: left out; only metrics are read from a "
                "baseline run (tag govrl.baseline)"
            )
    ours = _aggregate_seeds(convention, candidate, fetched_at)
    theirs = _aggregate_seeds(convention, baseline, fetched_at)
    gains = _improvements(convention, evidence, ours, theirs, fetched_at, out.warnings)
    return ours + [_as_baseline(e) for e in theirs] + gains


def _seed_order(entry: Collected) -> tuple[int, float, str]:
    seed = seed_of(entry.run) if entry.run else None
    try:
        return (0, float(seed or ""), "")
    except ValueError:
        return (1, 0.0, seed or "")


def _seeds_of_one_configuration(group: list[Collected]) -> bool:
    runs = [e.run for e in group if e.run is not None and seed_of(e.run) is not None]
    if len(runs) != len(group) or group[0].section != METRICS:
        return False  # not all seeds, or not metrics: harvest names the clash
    if len({config_of(r) for r in runs}) != 1 or len({id(r) for r in runs}) != len(runs):
        return False
    seen: dict[str, RunEvidence] = {}
    for run in runs:
        seed = seed_of(run) or ""
        if seed in seen:
            raise InputError(
                [
                    Problem(
                        f"runs {seen[seed].label} and {run.label} are both seed {seed} of "
                        f"configuration {config_of(run) or '(unnamed)'}; give each seed its own "
                        "seed tag, or a govrl.config tag per configuration"
                    )
                ],
                what="evidence",
            )
        seen[seed] = run
    return True


def _aggregate_seeds(
    convention: Convention, entries: list[Collected], fetched_at: dt.datetime
) -> list[Collected]:
    groups: dict[Key, list[Collected]] = {}
    for entry in entries:
        groups.setdefault((entry.section, entry.identity), []).append(entry)
    result: list[Collected] = []
    for group in groups.values():
        if len(group) > 1 and _seeds_of_one_configuration(group):
            result.append(_aggregate(convention, sorted(group, key=_seed_order), fetched_at))
        else:
            result.extend(group)  # one entry, or a clash that harvest names
    return result


def _aggregate(
    convention: Convention, group: list[Collected], fetched_at: dt.datetime
) -> Collected:

    lacking = [e.origin for e in group if "value" not in e.data]
    if lacking:
        raise InputError(
            [Problem(f"{group[0].label}: {o} gives no value to aggregate") for o in lacking],
            what="evidence",
        )
    runs = [e.run for e in group if e.run is not None]
    first = runs[0]
    values = [float(e.data["value"]) for e in group]
    how = bootstrap_for(convention, first)
    estimate = mean(values, how)
    config = config_of(first)
    per_seed = "; ".join(
        f"seed {seed_of(r)}: {v:.6g} (run {r.label}, {r.run_id or r.evidence_path})"
        for r, v in zip(runs, values, strict=True)
    )
    units = {e.unit for e in group}
    note = (
        f"govrl computed the mean over {len(values)} seeds"
        + (f" of configuration {config}" if config else "")
        + (", each seed's value the mean of its episodes" if units == {"episode"} else "")
        + f"; interval over seeds: {how.describe()}"
        + _interval_note(estimate)
    )
    if len(values) >= 4:  # with fewer, the interquartile mean is the mean
        middle = iqm(values, how)
        note += f"; IQM {middle.value:.6g}" + (
            f" [{middle.ci_low:.6g}, {middle.ci_high:.6g}]" if middle.ci_low is not None else ""
        )
    note += f"; per seed: {per_seed}"
    provenances = [e.data.get("provenance", {}) for e in group]
    provenance = {
        k: provenances[0][k]
        for k in _SHARED
        if k in provenances[0] and all(p.get(k) == provenances[0][k] for p in provenances)
    } | {"fetched_at": fetched_at, "note": note}
    data = {k: v for k, v in group[0].data.items() if k in DESCRIPTIVE_FIELDS[METRICS]}
    data |= {"id": group[0].identity[0], **estimate.fields(), "provenance": provenance}
    labels = ", ".join(r.label for r in runs)
    return Collected(
        METRICS,
        group[0].identity,
        data,
        group[0].defaults,
        f"seeds {labels}" + (f" of configuration {config}" if config else ""),
        samples=values,
        unit="seed",
    )


def _as_baseline(entry: Collected) -> Collected:
    entry_id = f"{entry.identity[0]}-baseline"
    entry.identity = (entry_id,)
    entry.data["id"] = entry_id
    for fields in (entry.data, entry.defaults):
        if "name" in fields:
            fields["name"] = f"{fields['name']} (baseline)"
    return entry


def _improvements(
    convention: Convention,
    evidence: Evidence,
    ours: list[Collected],
    theirs: list[Collected],
    fetched_at: dt.datetime,
    warnings: list[str],
) -> list[Collected]:

    candidates = {e.identity: e for e in ours if e.section == METRICS}
    found: list[Collected] = []
    for base in theirs:
        mine = candidates.get(base.identity)
        if mine is None:
            continue
        entry_id = f"prob-improvement-{base.identity[0]}"
        if mine.samples is None or base.samples is None or mine.unit != base.unit:
            warnings.append(
                f"{entry_id}: not computed; the candidate gives {_kind(mine)} and the "
                f"baseline {_kind(base)}; log both per seed or both per episode"
            )
            continue
        direction = mine.data.get("direction")
        if direction == Direction.BAND.value:
            warnings.append(f"{entry_id}: not computed for a within-band metric")
            continue
        stated = direction is not None
        higher = direction != Direction.LOWER.value
        how = bootstrap_for(convention, mine.run or base.run)
        estimate = improvement(mine.samples, base.samples, how, higher=higher)
        better = "higher" if higher else "lower"
        note = (
            f"govrl computed P(X {'>' if higher else '<'} Y) + P(X = Y)/2 over every pair of "
            f"a candidate {mine.unit} X ({len(mine.samples)}: {mine.origin}) and a baseline "
            f"{base.unit} Y ({len(base.samples)}: {base.origin}); "
            + ("" if stated else "no direction stated, so higher is taken as better; ")
            + f"interval: {how.describe()}, each side resampled on its own"
            + _interval_note(estimate)
        )
        if not stated:
            warnings.append(
                f"{entry_id}: the source states no direction for {mine.label}; higher is taken "
                "as better (state it with a govrl.metric.<id>.direction tag)"
            )
        name = str(mine.data.get("name") or mine.defaults.get("name") or base.identity[0])
        provenance = {
            "source": evidence.source.value,
            "tracking_uri": evidence.location if evidence.source.value == "mlflow" else None,
            "fetched_at": fetched_at,
            "note": note,
        }
        data = {
            "id": entry_id,
            "name": f"Probability of improvement in {name} over the baseline"[:200],
            "description": f"The chance that a candidate {mine.unit} scores {better} than a "
            f"baseline {base.unit} (ties count half), Agarwal et al. (2021).",
            "direction": Direction.HIGHER.value,
            "unit": "probability",
            **estimate.fields(),
            "provenance": {k: v for k, v in provenance.items() if v is not None},
        }
        origin = f"{mine.origin} against {base.origin}"
        found.append(Collected(METRICS, (entry_id,), data, {}, origin))
    return found


def _kind(entry: Collected) -> str:
    if entry.samples is None:
        return "one logged value"
    return f"{len(entry.samples)} {entry.unit}s"
