"""The record's identity, its schema, atomic locked saving, and init."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from govrl.atomicfile import locked
from govrl.cli import main
from govrl.errors import LockTimeout, RecordInvalid
from govrl.record.files import load_record, update_record
from govrl.record.identity import canonical_json, record_digest
from govrl.yamlio import loads
from tests.support.paths import DATA, EXAMPLES

MINIMAL = DATA / "valid-minimal.yaml"


def _digest_of_text(text: str) -> str:
    from govrl.record.files import parse_record

    return record_digest(parse_record(loads(text)))


def test_digest_ignores_comments_order_and_style(minimal_record_text: str) -> None:
    data = loads(minimal_record_text).data
    reordered = dict(reversed(list(data.items())))
    reordered["system"] = dict(reversed(list(data["system"].items())))
    as_json = json.dumps(reordered, default=str)  # JSON is YAML: same record, other spelling
    commented = "# a comment\n" + minimal_record_text.replace("risk_tier: 1", "risk_tier: 1  # low")
    base = _digest_of_text(minimal_record_text)
    assert _digest_of_text(as_json) == base
    assert _digest_of_text(commented) == base


def test_digest_changes_with_any_field(minimal_record_text: str) -> None:
    changed = minimal_record_text.replace("value: 41.2", "value: 41.3")
    assert _digest_of_text(changed) != _digest_of_text(minimal_record_text)


def test_canonical_json_is_rfc8785(minimal_record_text: str) -> None:
    from govrl.record.files import parse_record

    raw = canonical_json(parse_record(loads(minimal_record_text)))
    data = json.loads(raw)
    assert (
        raw == json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert data["evaluation"]["metrics"][0]["ci_low"] == 39.8
    assert "horizon" in data["model"] and "description" not in data["evaluation"]["metrics"][0]


@pytest.mark.parametrize("path", [MINIMAL, *sorted(EXAMPLES.glob("*.yaml"))], ids=lambda p: p.name)
def test_schema_validates_records(runner: CliRunner, path: Path) -> None:
    result = runner.invoke(main, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    data = json.loads(json.dumps(loads(path.read_text()).data, default=str))
    jsonschema.Draft202012Validator(schema).validate(data)


def test_schema_rejects_what_validate_rejects(runner: CliRunner) -> None:
    schema = json.loads(runner.invoke(main, ["schema"]).stdout)
    for name in ("unknown-key", "wrong-type", "missing-section", "bad-digest"):
        data = json.loads(
            json.dumps(loads((DATA / f"invalid-{name}.yaml").read_text()).data, default=str)
        )
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(data, schema)


def test_update_keeps_comments_and_validates(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(MINIMAL.read_text())

    def bump(tree: dict) -> None:  # type: ignore[type-arg]
        tree["evaluation"]["metrics"][0]["value"] = 40.0

    record = update_record(path, bump)
    assert record.evaluation.metrics[0].value == 40.0
    text = path.read_text()
    assert text.startswith("# The smallest complete record")
    assert load_record(path).record.evaluation.metrics[0].value == 40.0


def test_update_that_breaks_the_record_leaves_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(MINIMAL.read_text())
    before = path.read_bytes()

    def break_it(tree: dict) -> None:  # type: ignore[type-arg]
        tree["evaluation"]["metrics"][0]["ci_low"] = 99.0

    with pytest.raises(RecordInvalid) as caught:
        update_record(path, break_it)
    assert "ci_low (99.0) is above ci_high" in caught.value.diagnostics()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".r.yaml.lock")] == [
        "r.yaml"
    ]


def _hold_lock(
    path: str, ready: multiprocessing.synchronize.Event, release: multiprocessing.synchronize.Event
) -> None:
    with locked(Path(path)):
        ready.set()
        release.wait(10)


def test_concurrent_writer_waits_for_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(MINIMAL.read_text())
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(path), ready, release))
    holder.start()
    try:
        assert ready.wait(20)
        with pytest.raises(LockTimeout), locked(path, timeout=0.3):
            pass
    finally:
        release.set()
        holder.join(10)
    with locked(path, timeout=1):
        pass


def test_init_scaffold_lists_what_to_write(tmp_path: Path, runner: CliRunner) -> None:
    out = tmp_path / "new.yaml"
    result = runner.invoke(main, ["init", "-o", str(out), "--domain", "healthcare", "--tier", "3"])
    assert result.exit_code == 0, result.output
    strict = runner.invoke(main, ["validate", str(out)])
    assert strict.exit_code == 1
    assert f"{out}:6 system.name: still a placeholder" in strict.stderr
    loose = runner.invoke(main, ["validate", "--allow-placeholders", str(out)])
    assert loose.exit_code == 0, loose.output
    record = load_record(out).record
    assert record.system.domain.value == "healthcare" and int(record.system.risk_tier) == 3


def test_init_refuses_to_overwrite(tmp_path: Path, runner: CliRunner) -> None:
    out = tmp_path / "new.yaml"
    out.write_text("mine\n")
    result = runner.invoke(main, ["init", "-o", str(out)])
    assert result.exit_code == 2
    assert "already exists" in result.stderr
    assert out.read_text() == "mine\n"


def test_light_commands_do_not_import_heavy_libraries() -> None:
    code = (
        "import sys\n"
        "from govrl.cli import main\n"
        "for args in (['validate', sys.argv[1]], ['schema'], ['--help']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = ('mlflow', 'weasyprint', 'pyhanko', 'ruamel', 'jinja2')\n"
        "print('HEAVY', [m for m in heavy if m in sys.modules])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(MINIMAL)], capture_output=True, text=True, timeout=60
    )
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr


def test_version(runner: CliRunner) -> None:
    from govrl import __version__

    assert runner.invoke(main, ["--version"]).stdout.strip() == f"govrl, version {__version__}"


def test_unknown_option_is_a_usage_error(runner: CliRunner) -> None:
    assert runner.invoke(main, ["validate", "--frobnicate", str(MINIMAL)]).exit_code == 2


def test_verbose_shows_traceback_only_when_asked(tmp_path: Path, runner: CliRunner) -> None:
    target = tmp_path / "x.yaml"
    target.write_text("mine\n")
    quiet = runner.invoke(main, ["init", "-o", str(target)], catch_exceptions=False)
    loud = runner.invoke(main, ["--verbose", "init", "-o", str(target)], catch_exceptions=False)
    assert quiet.exit_code == loud.exit_code == 2
    assert "Traceback" not in quiet.stderr and "already exists" in quiet.stderr
    assert "Traceback" in loud.stderr and "already exists" in loud.stderr
