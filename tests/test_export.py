"""Exports: a Hugging Face card its own parser accepts, a CycloneDX BOM the schema accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from huggingface_hub import ModelCard

from govrl.cli import main
from govrl.record.files import dump_yaml, load_record
from govrl.record.identity import record_digest
from tests.support.paths import EXAMPLES
from tests.support.records import record_data

RECORDS = sorted(EXAMPLES.glob("*.yaml"))


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.name)
def test_hf_card_round_trips_through_huggingface_hub(
    path: Path, tmp_path: Path, runner: CliRunner
) -> None:
    out = tmp_path / "README.md"
    result = runner.invoke(main, ["export", "hf", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    record = load_record(path).record
    card = ModelCard.load(out)
    assert "reinforcement-learning" in card.data.tags
    results = {(r.metric_type, r.metric_value) for r in card.data.eval_results}
    expected = {(m.id, m.value) for m in record.evaluation.metrics if m.value is not None}
    expected |= {
        (f"ope/{e.id}", e.value) for e in record.evaluation.off_policy if e.value is not None
    }
    assert results == expected
    assert all(r.task_type == "reinforcement-learning" for r in card.data.eval_results)
    assert record_digest(record) in card.text


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.name)
def test_cyclonedx_bom_passes_the_official_schema(
    path: Path, tmp_path: Path, runner: CliRunner
) -> None:
    out = tmp_path / "bom.json"
    assert runner.invoke(main, ["export", "cyclonedx", str(path), "-o", str(out)]).exit_code == 0
    text = out.read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    bom = json.loads(text)
    model = bom["metadata"]["component"]
    assert model["type"] == "machine-learning-model"
    card = model["modelCard"]
    assert card["modelParameters"]["approach"]["type"] == "reinforcement-learning"
    record = load_record(path).record
    reported = {m["type"]: m["value"] for m in card["quantitativeAnalysis"]["performanceMetrics"]}
    for metric in record.evaluation.metrics:
        if metric.value is not None:
            assert reported[metric.id] == f"{metric.value:g}"
    refs = {c["bom-ref"] for c in bom["components"]}
    assert {d["ref"] for d in card["modelParameters"]["datasets"]} <= refs
    assert card["considerations"]["technicalLimitations"]


def test_exports_are_reproducible_and_hostile_text_stays_text(
    tmp_path: Path, runner: CliRunner
) -> None:
    data = record_data(tier=1)
    data["system"]["description"] = "<script>x</script> | ---\nmodel-index: []"
    data["evaluation"]["limitations"] = ["| a | b |", "<img src=x onerror=alert(1)>"]
    path = tmp_path / "r.yaml"
    path.write_text(dump_yaml(data))
    first, second = tmp_path / "a.md", tmp_path / "b.md"
    for out in (first, second):
        assert runner.invoke(main, ["export", "hf", str(path), "-o", str(out)]).exit_code == 0
    assert first.read_bytes() == second.read_bytes()
    card = ModelCard.load(first)
    assert "<script>" not in card.text and "<img" not in card.text
    assert card.data.eval_results[0].metric_type == "mean-return"
    boms = [tmp_path / "a.json", tmp_path / "b.json"]
    for out in boms:
        assert (
            runner.invoke(main, ["export", "cyclonedx", str(path), "-o", str(out)]).exit_code == 0
        )
    assert boms[0].read_bytes() == boms[1].read_bytes()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(boms[0].read_text()) is None
