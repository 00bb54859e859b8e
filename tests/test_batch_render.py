"""`govrl render` over several records in one command: named outputs, a bad record among
good ones, progress lines, worker processes, and documents identical to those rendered one
at a time."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from govrl.cli import main
from govrl.record.files import dump_yaml
from govrl.yamlio import loads

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DATE = "2026-05-01"


def _copy_examples(folder: Path) -> Path:
    """Both shipped records (and the policies they are bound to) in a folder of their own."""
    folder.mkdir()
    shutil.copytree(EXAMPLES / "policies", folder / "policies")
    for name in ("grid-frequency-control.yaml", "sepsis-offline-rl.yaml"):
        shutil.copy(EXAMPLES / name, folder / name)
    return folder


def _revision(source: Path, version: str, target: Path) -> Path:
    """``source`` as another system version, so it renders under another file name."""
    data = loads(source.read_text()).data
    data["system"]["version"] = version
    data["changelog"][-1]["version"] = version
    target.write_text(dump_yaml(data))
    return target


def _render(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["render", *args, "--date", DATE])
    return result.exit_code, result.stdout, result.stderr


def test_a_folder_renders_each_record_named_by_system_version_and_kind(tmp_path: Path) -> None:
    records = _copy_examples(tmp_path / "records")
    (records / "notes.txt").write_text("not a record")
    out = tmp_path / "out"
    code, stdout, stderr = _render(
        str(records), "--kind", "model-card", "--kind", "approval", "--format", "md", "-o", str(out)
    )
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "aldermere-sfc-rl-1.1.0-approval.md",
        "aldermere-sfc-rl-1.1.0-model-card.md",
        "sepsis-vaso-fluids-2.1.0-approval.md",
        "sepsis-vaso-fluids-2.1.0-model-card.md",
    ]
    assert [line.split()[1] for line in stdout.splitlines()] == [
        str(out / "aldermere-sfc-rl-1.1.0-model-card.md"),
        str(out / "aldermere-sfc-rl-1.1.0-approval.md"),
        str(out / "sepsis-vaso-fluids-2.1.0-model-card.md"),
        str(out / "sepsis-vaso-fluids-2.1.0-approval.md"),
    ]
    assert "Aldermere" in (out / "aldermere-sfc-rl-1.1.0-approval.md").read_text()
    assert "[1/4]" not in stderr  # stderr is no terminal here: no progress unless asked


def test_progress_says_which_document_is_done(tmp_path: Path) -> None:
    records = _copy_examples(tmp_path / "records")
    first, second = sorted(records.glob("*.yaml"))
    code, _, stderr = _render(
        str(first), str(second), "--kind", "approval", "--format", "html",
        "-o", str(tmp_path / "out"), "--progress",
    )  # fmt: skip
    assert code == 0, stderr
    assert stderr.splitlines() == [f"[1/2] {first} (approval)", f"[2/2] {second} (approval)"]


def test_one_bad_record_is_reported_and_the_others_render(tmp_path: Path) -> None:
    records = _copy_examples(tmp_path / "records")
    shutil.copy(ROOT / "tests" / "data" / "invalid-unknown-key.yaml", records / "bad.yaml")
    out = tmp_path / "out"
    code, stdout, stderr = _render(
        str(records), "--kind", "approval", "--format", "md", "-o", str(out)
    )
    assert code == 1  # the check ran and failed, for one record
    assert sorted(p.name for p in out.iterdir()) == [
        "aldermere-sfc-rl-1.1.0-approval.md",
        "sepsis-vaso-fluids-2.1.0-approval.md",
    ]
    assert len(stdout.splitlines()) == 2
    assert str(records / "bad.yaml") in stderr and "system.colour" in stderr
    assert ":9" in stderr or "line 9" in stderr  # where, in the file
    assert "rendered 2 of 3 documents; 1 failed" in stderr
    assert "Traceback" not in stderr
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp file left


def test_json_lists_what_was_written_and_what_failed(tmp_path: Path) -> None:
    import json

    records = _copy_examples(tmp_path / "records")
    shutil.copy(ROOT / "tests" / "data" / "invalid-unknown-key.yaml", records / "bad.yaml")
    code, stdout, _ = _render(
        str(records), "--kind", "approval", "--format", "md", "-o", str(tmp_path / "o"), "--json"
    )
    answer = json.loads(stdout)
    assert code == 1
    assert [Path(d["file"]).name for d in answer["documents"]] == [
        "grid-frequency-control.yaml",
        "sepsis-offline-rl.yaml",
    ]
    assert [(Path(f["file"]).name, f["exit_code"]) for f in answer["failed"]] == [("bad.yaml", 1)]


def test_two_records_of_one_system_version_do_not_overwrite_each_other(tmp_path: Path) -> None:
    records = _copy_examples(tmp_path / "records")
    shutil.copy(records / "sepsis-offline-rl.yaml", records / "sepsis-copy.yaml")
    out = tmp_path / "out"
    code, _, stderr = _render(str(records), "--kind", "approval", "--format", "md", "-o", str(out))
    assert code == 2
    assert "already written by another record of this batch" in stderr
    assert len(list(out.iterdir())) == 2


@pytest.mark.parametrize("output", ["-", "file.md"])
def test_several_documents_need_an_output_folder(tmp_path: Path, output: str) -> None:
    records = _copy_examples(tmp_path / "records")
    (tmp_path / "file.md").write_text("kept")
    target = output if output == "-" else str(tmp_path / output)
    code, stdout, stderr = _render(
        str(records), "--kind", "approval", "--format", "md", "-o", target
    )
    assert code == 2 and "several" in stderr
    assert stdout == "" and (tmp_path / "file.md").read_text() == "kept"


def test_a_folder_without_records_says_so(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, _, stderr = _render(str(tmp_path / "empty"), "--kind", "approval", "-o", str(tmp_path))
    assert code == 2 and "holds no *.yaml record" in stderr


@pytest.mark.pdf
@pytest.mark.slow
def test_a_batch_writes_the_same_pdf_bytes_as_a_single_render(tmp_path: Path) -> None:
    records = _copy_examples(tmp_path / "records")
    later = _revision(records / "sepsis-offline-rl.yaml", "2.1.1", records / "later.yaml")
    (records / "grid-frequency-control.yaml").unlink()
    out = tmp_path / "out"
    code, _, stderr = _render(str(records), "--kind", "approval", "-o", str(out))
    assert code == 0, stderr
    single = tmp_path / "single.pdf"
    code, _, stderr = _render(str(later), "--kind", "approval", "-o", str(single))
    assert code == 0, stderr
    # The second document of the batch reuses what the first one loaded, yet is the same file.
    assert (out / "sepsis-vaso-fluids-2.1.1-approval.pdf").read_bytes() == single.read_bytes()
    assert (out / "sepsis-vaso-fluids-2.1.0-approval.pdf").read_bytes() != single.read_bytes()


FALLBACK = """
import sys
import weasyprint.pdf.fonts as fonts
fonts.harfbuzz_subset = None  # as on a machine without libharfbuzz-subset0
from govrl.cli import main
main(sys.argv[1:])
"""


@pytest.mark.pdf
@pytest.mark.slow
def test_the_fonttools_fallback_is_said_once_per_process(tmp_path: Path) -> None:
    records = _copy_examples(tmp_path / "records")
    done = subprocess.run(
        [sys.executable, "-c", FALLBACK, "render", str(records), "--kind", "model-card",
         "-o", str(tmp_path / "out"), "--date", DATE],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("subset with fontTools") == 1, done.stderr
    assert "libharfbuzz-subset0" in done.stderr
    assert len(list((tmp_path / "out").glob("*.pdf"))) == 2


def test_a_record_named_twice_renders_once(tmp_path: Path) -> None:
    records = _copy_examples(tmp_path / "records")
    again = str(records / "sepsis-offline-rl.yaml")
    out = tmp_path / "out"
    code, stdout, stderr = _render(str(records), again, "--kind", "approval", "--format", "md",
                                   "-o", str(out))  # fmt: skip
    assert code == 0, stderr
    assert len(stdout.splitlines()) == 2 and len(list(out.iterdir())) == 2


@pytest.mark.pdf
@pytest.mark.slow
def test_worker_processes_write_what_one_process_writes(tmp_path: Path) -> None:
    records = _copy_examples(tmp_path / "records")
    shutil.copy(ROOT / "tests" / "data" / "invalid-unknown-key.yaml", records / "bad.yaml")
    grid = records / "grid-frequency-control.yaml"
    for version in ("1.1.1", "1.1.2"):  # five documents: more than two workers keep in flight
        _revision(grid, version, records / f"grid-{version}.yaml")
    outputs = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"jobs-{jobs}"
        code, stdout, stderr = _render(str(records), "--kind", "approval", "-o", str(out),
                                       "--jobs", jobs)  # fmt: skip
        assert code == 1, stderr  # the bad record, and only it, failed
        assert "rendered 4 of 5 documents; 1 failed" in stderr and "system.colour" in stderr
        assert "Traceback" not in stderr
        report = stdout.replace(str(out), "OUT")
        outputs[jobs] = (report, {p.name: p.read_bytes() for p in out.iterdir()})
    assert len(outputs["2"][1]) == 4
    assert outputs["2"] == outputs["1"]  # the same files, bytes and report, in the same order


KILLED = """
import os, signal, sys
import govrl.cli.render_cmds as commands
original = commands.render_job
def render_job(job, *args):
    if job.file.name == "sepsis-offline-rl.yaml":
        os.kill(os.getpid(), signal.SIGKILL)  # as the kernel does when memory runs out
    return original(job, *args)
commands.render_job = render_job
from govrl.cli import main
main(sys.argv[1:])
"""


@pytest.mark.pdf
@pytest.mark.slow
def test_a_worker_that_dies_is_reported_not_a_traceback(tmp_path: Path) -> None:
    records = _copy_examples(tmp_path / "records")
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-c", KILLED, "render", str(records), "--kind", "approval",
         "-o", str(out), "--jobs", "2", "--date", DATE],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert "ended abruptly" in done.stderr and "were not written" in done.stderr
    assert "Traceback" not in done.stderr
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp file left
