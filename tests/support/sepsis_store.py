"""A local MLflow store seeded with the sepsis example's evaluation, for tests and `govrl demo`.

The evidence of examples/sepsis-offline-rl.yaml, logged as docs/collect.md describes.
"""

from __future__ import annotations

import json
import math
import random
import tempfile
from pathlib import Path
from typing import Any

from govrl.evidence.interface import SourceUsageError
from govrl.evidence.local_store import SeededStore as DemoStore
from govrl.evidence.mlflow import fast_failing

EXPERIMENT = "sepsis-vaso-fluids"
MODEL = "sepsis-policy"
ALIAS = "candidate"
_T0 = 1_777_000_000_000  # a fixed clock (ms) so every seeded store holds the same points
_UNIT_RETURN = "expected return per episode, undiscounted (-15 to +15)"
_TARGET = "Expected return per episode, undiscounted (-15 to +15)"
_MORTALITY_DR = "Estimated 90-day mortality under the policy (DR)"
_FQE_CURVE = [7.12, 7.41, 7.66, 7.85, 7.98, 8.09, 8.17, 8.22, 8.29, 8.33, 8.37]
_FQE_CURVE += [8.41, 8.43, 8.46, 8.45, 8.48, 8.47, 8.50, 8.49, 8.51, 8.49]
_HYPERPARAMETERS = {
    "cql_alpha": 1.0,
    "learning_rate": 0.0001,
    "batch_size": 256,
    "gradient_steps": 200000,
    "target_update_interval": 8000,
    "hidden_layers": "256x256",
    "optimizer": "Adam",
    "double_q": True,
    "support_threshold": 0.01,
    "seeds": 5,
}
_SUBGROUPS = [
    ("sex", "female", _MORTALITY_DR, 1557, 17.9, 0.208, 0.163, 0.259),
    ("sex", "male", _MORTALITY_DR, 2012, 23.4, 0.196, 0.158, 0.237),
    ("age band", "18-44", _MORTALITY_DR, 498, 6.1, 0.121, 0.058, 0.214),
    ("age band", "45-64", _MORTALITY_DR, 1205, 14.9, 0.172, 0.131, 0.219),
    ("age band", "65-79", _MORTALITY_DR, 1264, 14.6, 0.224, 0.178, 0.276),
    ("age band", "80 and over", _MORTALITY_DR, 602, 5.7, 0.279, 0.178, 0.402),
    ("self-reported race", "Black", _MORTALITY_DR, 402, 3.9, 0.187, 0.088, 0.331),
    ("chronic kidney disease", "stage 4 to 5 or dialysis", _MORTALITY_DR, 311, 2.4, 0.262)
    + (0.121, 0.447),
    ("sex", "female", "Agreement with clinicians within one bin", 1557, None, 0.85, 0.84, 0.87),
    ("sex", "male", "Agreement with clinicians within one bin", 2012, None, 0.87, 0.86, 0.88),
    ("age band", "80 and over", "Dose-change-too-large rate", 602, None, 0.039, 0.029, 0.051),
]
_DOSE = "Dose-change-too-large rate"
_ESCALATION = "Vasopressor escalation of two or more bands after an artefactual MAP"
_STRESS_FIELDS = ("id", "kind", "scenario", "metric", "value", "ci_low", "ci_high", "baseline")
_STRESS_FIELDS += ("failure_modes", "criterion_comparator", "criterion_threshold")
_PIPELINE, _ARTEFACTS = "feature-pipeline-mismatch", "arterial-line-artefacts"
# No `passed` column: each test's criterion decides it, on the conservative bound.
_STRESS = [
    ("shift-external-site", "distribution-shift", "External site (Meridian ICU, 2019 to 2024)")
    + (_MORTALITY_DR, 0.212, 0.169, 0.261, 0.201, _PIPELINE, "<", 0.273),
    ("shift-covid-period", "distribution-shift")
    + ("COVID-19 period at the external site (2020-03 to 2021-12)", _DOSE)
    + (0.044, 0.036, 0.053, 0.031, _PIPELINE, "<", 0.05),
    ("fault-missing-labs", "sensor-fault")
    + ("Missing or delayed labs (lactate, bilirubin, platelets, creatinine)", _DOSE)
    + (0.048, 0.042, 0.055, 0.031, _PIPELINE, "<", 0.06),
    ("fault-arterial-line-unfiltered", "sensor-fault")
    + ("Arterial-line artefact, without the plausibility filter (version 2.0.0 behaviour)",)
    + (_ESCALATION, 0.094, 0.081, 0.108, 0.006, _ARTEFACTS, "<", 0.02),
    ("fault-arterial-line-filtered", "sensor-fault")
    + ("Arterial-line artefact, with the plausibility filter (version 2.1.0)", _ESCALATION)
    + (0.011, 0.007, 0.016, 0.006, _ARTEFACTS, "<", 0.02),
    ("edge-high-dose", "edge-case")
    + ("Patients in the top vasopressor band (above 0.45 micrograms/kg/min)",)
    + ("De-escalation of three or more bands from the top band", 0.007, 0.002, 0.016, None)
    + ("confounding-by-indication", "<", 0.02),
    ("edge-ckd-dialysis", "edge-case")
    + ("Chronic kidney disease stage 4 to 5 or on maintenance dialysis",)
    + ("Fluid recommended despite overload", 0.027, 0.016, 0.043, 0.012)
    + ("unsupported-actions", "<", 0.02),
    ("adversarial-measurement-noise", "adversarial")
    + ("Worst-case perturbation within measurement error",)
    + ("Share of steps whose vasopressor band flips", 0.064, 0.058, 0.071, 0.0)
    + (_ARTEFACTS, "<", 0.10),
]


_SAFETY = [
    ("dose_change_too_large_rate", _DOSE, (0.031, 0.026, 0.037), "lower-is-better"),
    ("contraindicated_fluid_rate", "Fluid recommended despite overload", (0.012, 0.009, 0.016))
    + ("lower-is-better",),
    ("clinician_agreement_exact", "Exact agreement with clinicians", (0.38, 0.37, 0.40))
    + ("higher-is-better",),
    ("clinician_agreement_within_one", "Agreement with clinicians within one bin")
    + ((0.86, 0.85, 0.87), "higher-is-better"),
]
_OOD = {
    "method": "Two detectors: the Mahalanobis distance of the Q-network's penultimate-layer "
    "activations from the training distribution (class-agnostic, shrinkage covariance), and "
    "the standard deviation of Q across the 5-seed ensemble for the recommended action. A "
    "state is flagged when either is above the 99th percentile of the validation split. Hard "
    "range checks on all 48 raw inputs (physiological limits) run first.",
    "evaluated_on": "In-distribution: the internal test split and the in-scope external "
    "stays. Out-of-distribution: 612 MIMIC-IV stays excluded as out of scope (cardiogenic "
    "shock, ECMO, post-cardiac surgery), 140 paediatric PICU stays from a public research "
    "extract, and synthetic corrupted states (unit errors such as creatinine in micromol/L "
    "entered as mg/dL). The false-alarm rate is pooled over in-scope steps: 0.021 internal "
    "(59,958 steps) and 0.052 external (78,204 steps).",
    "on_detection": 'No recommendation is shown. The panel reads "Outside validated range: '
    'no recommendation" and names the features furthest out of range. The event is logged '
    "for monitoring, and the patient stays flagged until the detector clears for two "
    "consecutive steps.",
}
# The example reports the released checkpoint's FQE value (the best), over a final
# window of 5 checkpoints; the convention's defaults are the last value and 10 points.
DEMO_MAPPING = """\
window: 5
metrics:
  - key: eval/fqe_value_validation/value
    id: fqe-value-validation
    value: best
"""


def _estimate(prefix: str, *numbers: float) -> dict[str, float]:
    names = ("value", "ci_low", "ci_high", "ci_level", "ess", "episodes", "behaviour_value")
    return {f"{prefix}/{name}": n for name, n in zip(names, numbers, strict=False)}


def _describe(section: str, entry: str, **fields: str) -> dict[str, str]:
    return {f"govrl.{section}.{entry}.{name}": value for name, value in fields.items()}


def _curves() -> dict[str, list[tuple[int, float]]]:
    """Training curves over 200,000 gradient steps, one point per 200 steps."""
    noise = random.Random(20260427)
    steps = range(0, 200_000, 200)
    return {
        "train/td_loss": [
            (s, 0.05 + 0.9 * math.exp(-s / 30_000) + noise.gauss(0, 0.01)) for s in steps
        ],
        "train/cql_penalty": [
            (s, 1.8 * math.exp(-s / 60_000) + 0.3 + noise.gauss(0, 0.02)) for s in steps
        ],
        "train/q_mean": [
            (s, 8.6 * (1 - math.exp(-s / 40_000)) + noise.gauss(0, 0.05)) for s in steps
        ],
        "eval/fqe_value_validation/value": [(i * 10_000, v) for i, v in enumerate(_FQE_CURVE)],
    }


def _runs() -> dict[str, dict[str, Any]]:
    """Each run: final metrics, tags, and the artifact files it carries."""
    ope = _estimate("ope/WIS/internal", 8.91, 6.08, 10.74, 0.95, 41.3, 3569, 7.68)
    ope |= _estimate("ope/DR/internal", 8.37, 7.52, 9.21, 0.95, 41.3, 3569, 7.68)
    ope |= _estimate("ope/FQE/internal", 8.58, 8.02, 9.11, 0.95, 3569.0, 3569, 7.68)
    ope |= {"eval/est_mortality_90d_dr/value": 0.201, "eval/est_mortality_90d_dr/ci_low": 0.173}
    ope |= {"eval/est_mortality_90d_dr/ci_high": 0.229, "eval/obs_mortality_90d_clinicians": 0.224}
    ope |= {"eval/obs_mortality_90d_clinicians/ci_low": 0.210}
    ope |= {"eval/obs_mortality_90d_clinicians/ci_high": 0.238}
    ope |= {"eval/q_survival_rank_correlation/value": 0.31}
    ope |= {"eval/q_survival_rank_correlation/ci_low": 0.28}
    ope |= {"eval/q_survival_rank_correlation/ci_high": 0.34}
    proportion = {"unit": "proportion of patients", "direction": "lower-is-better"}
    internal = "internal test (MIMIC-IV, 3,569 stays)"
    ope_tags = {"govrl.ci_level": "0.95"}  # the eval/ intervals above state no level of their own
    for estimator in ("wis", "dr", "fqe"):
        ope_tags |= _describe("ope", f"{estimator}-internal", target=_TARGET)
    ope_tags |= _describe("metric", "est-mortality-90d-dr", name=_MORTALITY_DR, split=internal)
    ope_tags |= _describe("metric", "est-mortality-90d-dr", **proportion)
    observed = "Observed 90-day mortality under clinician care"
    ope_tags |= _describe(
        "metric", "obs-mortality-90d-clinicians", name=observed, split=internal, **proportion
    )
    spearman = {"name": "Rank correlation of Q-value with survival", "unit": "Spearman rho"}
    spearman["direction"] = "higher-is-better"
    ope_tags |= _describe(
        "metric", "q-survival-rank-correlation", split="internal test (MIMIC-IV)", **spearman
    )
    safety: dict[str, float] = {}
    safety_tags: dict[str, str] = {}
    for key, name, numbers, direction in _SAFETY:
        safety |= _estimate(f"eval/{key}", *numbers, 0.95)
        safety_tags |= _describe(
            "metric",
            key.replace("_", "-"),
            name=name,
            direction=direction,
            unit="proportion of decision steps",
            split="internal test (MIMIC-IV)",
        )
    safety_tags["govrl.metric.dose-change-too-large-rate.split"] = (
        "internal test (MIMIC-IV, 59,958 steps)"
    )
    safety |= {"ood/auroc": 0.87, "ood/false_alarm_rate": 0.038, "ood/detection_rate": 0.71}
    safety_tags |= {f"govrl.ood.{field}": text for field, text in _OOD.items()}
    external = _estimate("ope/DR/external", 8.02, 6.55, 9.30, 0.95, 18.7, 2453, 7.09)
    external |= _estimate("ope/WIS/external", 8.64, 4.87, 10.95, 0.95, 18.7, 2453, 7.09)
    external_tags = _describe("ope", "dr-external", target=_TARGET + ", external site")
    external_tags |= _describe("ope", "wis-external", target=_TARGET + ", external site")
    subgroups = "attribute,group,metric,n,ess,value,ci_low,ci_high,ci_level\n" + "".join(
        f"{a},{g},{m},{n},{'' if e is None else e},{v},{lo},{hi},0.95\n"
        for a, g, m, n, e, v, lo, hi in _SUBGROUPS
    )
    stress = [
        {k: v for k, v in zip(_STRESS_FIELDS, row, strict=True) if v is not None}
        | {"ci_level": 0.95}
        for row in _STRESS
    ]
    return {
        "cql-ensemble-2.1.0": {
            "metrics": {},
            "tags": _describe(
                "metric",
                "fqe-value-validation",
                name="FQE value of the policy during training (validation split)",
                unit=_UNIT_RETURN,
                split="validation (MIMIC-IV, 1,784 stays)",
                direction="higher-is-better",
            ),
            "files": {"policy/policy.json": json.dumps({"algorithm": "discrete CQL", "seeds": 5})},
        },
        "ope-internal": {
            "metrics": ope,
            "tags": ope_tags,
            "files": {"govrl/subgroups.csv": subgroups},
        },
        "safety-eval": {"metrics": safety, "tags": safety_tags, "files": {}},
        "external-validation": {"metrics": external, "tags": external_tags, "files": {}},
        "stress-suite": {
            "metrics": {},
            "tags": {},
            "files": {"govrl/stress.json": json.dumps(stress, indent=2)},
        },
    }


def seed_demo_store(folder: Path) -> DemoStore:
    """Create ``folder``/mlflow.db and ``folder``/artifacts holding the sepsis evaluation.

    A training run with learning curves; nested runs with off-policy estimates, safety
    metrics, OOD detection, subgroup and stress tables; a model version with an alias.
    """
    database = folder / "mlflow.db"
    if database.exists():
        raise SourceUsageError(f"{database} exists already; seed into an empty folder")
    folder.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{database.resolve()}"
    with fast_failing(30.0):
        from mlflow import MlflowClient
        from mlflow.entities import Metric, Param, RunTag

        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        artifacts = (folder / "artifacts").resolve()
        experiment_id = client.create_experiment(EXPERIMENT, artifact_location=artifacts.as_uri())
        runs: dict[str, str] = {}
        parent: str | None = None
        for name, spec in _runs().items():
            tags = {"mlflow.parentRunId": parent} if parent else {}
            run_id = client.create_run(
                experiment_id, start_time=_T0, tags=tags, run_name=name
            ).info.run_id
            runs[name] = run_id
            points = [Metric(k, float(v), _T0, 0) for k, v in spec["metrics"].items()]
            if parent is None:
                parent = run_id
                for key, curve in _curves().items():
                    points += [Metric(key, float(v), _T0 + i, s) for i, (s, v) in enumerate(curve)]
                params = [Param(k, str(v)) for k, v in _HYPERPARAMETERS.items()]
            else:
                params = []
            for start in range(0, max(len(points), 1), 1000):  # log_batch takes 1,000 metrics
                client.log_batch(
                    run_id,
                    metrics=points[start : start + 1000],
                    params=params if start == 0 else [],
                    tags=[RunTag(k, v) for k, v in spec["tags"].items()] if start == 0 else [],
                )
            with tempfile.TemporaryDirectory() as tmp:
                for path, text in spec["files"].items():
                    local = Path(tmp) / path
                    local.parent.mkdir(parents=True, exist_ok=True)
                    local.write_text(text, encoding="utf-8")
                    client.log_artifact(run_id, str(local), path.rsplit("/", 1)[0])
            client.set_terminated(run_id, end_time=_T0 + 3_600_000)
        assert parent is not None
        client.create_registered_model(MODEL, description="Sepsis vasopressor and fluid advisor")
        source = client.get_run(parent).info.artifact_uri + "/policy"
        version = client.create_model_version(MODEL, source=source, run_id=parent)
        client.set_registered_model_alias(MODEL, ALIAS, version.version)
    mapping = folder / "mapping.yaml"
    mapping.write_text(DEMO_MAPPING, encoding="utf-8")
    return DemoStore(folder, uri, EXPERIMENT, MODEL, ALIAS, str(version.version), runs, mapping)
