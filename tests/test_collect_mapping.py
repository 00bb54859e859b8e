"""A team's mapping is remembered in govrl.toml; a dry run shows the changes and writes nothing."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from click.testing import CliRunner, Result

from govrl.cli import main

EVIDENCE = (
    "runs:\n"
    "  - id: train-3\n"
    "    experiment: shelf-ranker/train\n"
    "    tags: {govrl.metric.return.name: Simulated return}\n"
    "    metrics:\n"
    "      eval/return/value: 38.5\n"
    "      train/td_loss: 0.0421\n"
)
MAPPING = (
    "metrics:\n  - {key: train/td_loss, id: td-loss, name: TD loss, direction: lower-is-better}\n"
)


def govrl(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def setup(record: Path) -> tuple[Path, Path]:
    """The evidence file and a mapping kept in the project's govrl/ folder."""
    evidence = record.parent / "evidence.yaml"
    evidence.write_text(EVIDENCE)
    mapping = record.parent / "govrl" / "mapping.yaml"
    mapping.parent.mkdir()
    mapping.write_text(MAPPING)
    return evidence, mapping


def metric_ids(record: Path) -> list[str]:
    from govrl.record.files import load_record

    return [m.id for m in load_record(record).record.evaluation.metrics]


def test_a_mapping_given_once_is_remembered_and_maps_the_next_collect(
    minimal_record: Path,
) -> None:
    evidence, mapping = setup(minimal_record)
    first = govrl("collect", "file", minimal_record, "--from", evidence, "--mapping", mapping)
    assert first.exit_code == 0, first.output
    config = minimal_record.parent / "govrl.toml"
    assert tomllib.loads(config.read_text()) == {"collect": {"mapping": "govrl/mapping.yaml"}}
    assert f"remembered for the next collect: {config} [collect] mapping" in first.output
    assert "td-loss" in metric_ids(minimal_record)

    # the next collect, without the flag, maps the same way: nothing is removed or changed
    before = minimal_record.read_bytes()
    again = govrl("collect", "file", minimal_record, "--from", evidence, "--json")
    assert again.exit_code == 0, again.output
    report = json.loads(again.output)
    assert report["mapping"] == str(mapping.resolve())
    assert (report["added"], report["changed"], report["removed"]) == (0, 0, 0)
    assert report["mapping_remembered_in"] is None  # already there
    assert minimal_record.read_bytes() == before


def test_without_the_remembered_mapping_its_entry_would_be_removed(minimal_record: Path) -> None:
    """The control for the test above: the mapping is what keeps td-loss."""
    evidence, mapping = setup(minimal_record)
    first = govrl("collect", "file", minimal_record, "--from", evidence, "--mapping", mapping)
    assert first.exit_code == 0, first.output
    (minimal_record.parent / "govrl.toml").unlink()
    result = govrl("collect", "file", minimal_record, "--from", evidence, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "- evaluation.metrics[td-loss]" in result.output


def test_an_existing_govrl_toml_keeps_its_tables_and_gains_the_mapping(
    minimal_record: Path,
) -> None:
    evidence, mapping = setup(minimal_record)
    config = minimal_record.parent / "govrl.toml"
    team = "# the team's settings\n[policy]\npinned = []\n\n[collect] # evidence\n"
    config.write_text(team)
    result = govrl("collect", "file", minimal_record, "--from", evidence, "--mapping", mapping)
    assert result.exit_code == 0, result.output
    text = config.read_text()
    assert text.startswith("# the team's settings\n[policy]\npinned = []\n")
    assert tomllib.loads(text)["collect"] == {"mapping": "govrl/mapping.yaml"}


def test_a_different_mapping_given_once_is_used_but_the_teams_stays(minimal_record: Path) -> None:
    evidence, mapping = setup(minimal_record)
    config = minimal_record.parent / "govrl.toml"
    config.write_text('[collect]\nmapping = "govrl/mapping.yaml"\n')
    other = minimal_record.parent / "one-off.yaml"
    other.write_text("metrics:\n  - {key: train/td_loss, id: loss-once, name: Loss}\n")
    result = govrl("collect", "file", minimal_record, "--from", evidence, "--mapping", other)
    assert result.exit_code == 0, result.output
    assert "loss-once" in metric_ids(minimal_record) and "td-loss" not in metric_ids(minimal_record)
    assert config.read_text() == '[collect]\nmapping = "govrl/mapping.yaml"\n'
    assert "remembered" not in result.output


def test_a_govrl_toml_naming_a_missing_mapping_is_refused_with_its_place(
    minimal_record: Path,
) -> None:
    evidence, _ = setup(minimal_record)
    config = minimal_record.parent / "govrl.toml"
    config.write_text('[collect]\nmapping = "gone.yaml"\n')
    before = minimal_record.read_bytes()
    result = govrl("collect", "file", minimal_record, "--from", evidence)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert f"{config}:2" in result.output and "collect.mapping" in result.output
    assert "no such mapping file" in result.output
    assert minimal_record.read_bytes() == before


def test_a_dry_run_shows_exactly_the_changes_and_writes_nothing(minimal_record: Path) -> None:
    evidence, mapping = setup(minimal_record)
    before = minimal_record.read_bytes()
    args = ("collect", "file", minimal_record, "--from", evidence, "--mapping", mapping)
    dry = govrl(*args, "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    assert minimal_record.read_bytes() == before
    assert not (minimal_record.parent / "govrl.toml").exists()  # nothing remembered either
    shown = json.loads(dry.output)
    assert shown["dry_run"] is True and shown["written"] is False

    done = json.loads(govrl(*args, "--json").output)
    assert done["written"] is True
    assert shown["changes"] == done["changes"]  # the dry run showed what the real run did
    assert {c["entry"] for c in done["changes"]} == {
        "evaluation.metrics[return]",
        "evaluation.metrics[td-loss]",
    }

    # a dry run over a changed source names each field old -> new, and still writes nothing
    evidence.write_text(EVIDENCE.replace("38.5", "40.25"))
    after_collect = minimal_record.read_bytes()
    changed = govrl("collect", "file", minimal_record, "--from", evidence, "--dry-run")
    assert changed.exit_code == 0, changed.output
    assert "~ evaluation.metrics[return]" in changed.output
    assert "value: 38.5 -> 40.25" in changed.output
    assert "dry run: the file was not changed" in changed.output
    assert minimal_record.read_bytes() == after_collect
