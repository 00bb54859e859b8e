"""`govrl fill`: the interview through a script, a pipe and a terminal; interruptions, filters,
imports."""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from govrl.cli import main
from govrl.errors import UsageError
from govrl.record.files import load_record, validate_file
from govrl.record.governance import ItemResponse
from govrl.review.checklist import ChecklistLibrary
from govrl.review.fill import (
    ANSWER_HELP,
    ANSWER_PROMPT,
    EVIDENCE_PROMPT,
    NOTES_PROMPT,
    REASON_PROMPT,
    EndOfInput,
    FillReport,
    Stop,
    interview,
    pending_items,
    save_answer,
)
from govrl.vocabulary import Answer
from tests.support.paths import DATA

GOVRL = [sys.executable, "-m", "govrl"]
TIMEOUT = 20.0
HEADER = re.compile(r"^\[(\d+)/(\d+)\] (\S+) (\S+) \|", re.M)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVRL_")}
    env.update({"GOVRL_USER": "ann", "PYTHONUNBUFFERED": "1", **extra})
    return env


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOVRL_CHECKLIST_PATH", raising=False)
    monkeypatch.setenv("GOVRL_USER", "ann")


@pytest.fixture(scope="session")
def scaffolds(tmp_path_factory: pytest.TempPathFactory) -> dict[int, bytes]:
    """Fresh healthcare records from the real `govrl init`, by tier, made once."""
    folder = tmp_path_factory.mktemp("scaffolds")
    made = {}
    for tier in (1, 2, 3):
        out = folder / f"tier{tier}.yaml"
        subprocess.run(
            [*GOVRL, "init", "-o", str(out), "--domain", "healthcare", "--tier", str(tier)],
            check=True,
            capture_output=True,
            env=_env(),
            timeout=TIMEOUT,
        )
        made[tier] = out.read_bytes()
    return made


@pytest.fixture
def record(tmp_path: Path, scaffolds: dict[int, bytes]) -> Callable[[int], Path]:
    def make(tier: int = 3) -> Path:
        path = tmp_path / "assessment.yaml"
        path.write_bytes(scaffolds[tier])
        return path

    return make


def _ids(path: Path) -> list[str]:
    """The ids of the items still to answer, in the order fill asks them."""
    record = load_record(path).record
    return [p.item.id for p in pending_items(record, ChecklistLibrary.discover())]


def _answers(path: Path) -> dict[str, ItemResponse]:
    return {i: r for c in load_record(path).record.checklists for i, r in c.items.items()}


def _headers(output: str) -> list[str]:
    return [m.group(4) for m in HEADER.finditer(output)]


def _assert_intact(path: Path) -> None:
    report = validate_file(path, allow_placeholders=True)
    assert report.ok, report.problems
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


class Script:
    """A prompter that answers from a script, one line per question, and keeps the conversation."""

    width = 100

    def __init__(self, text: str = "", *, then: BaseException | None = None) -> None:
        self.lines = text.splitlines()
        self.then = then  # raised once the lines run out, instead of ending the input
        self.asked: list[str] = []
        self.said: list[str] = []
        self.warned: list[str] = []

    def ask(self, prompt: str) -> str:
        self.asked.append(prompt)
        if self.lines:
            return self.lines.pop(0)
        if self.then is not None:
            raise self.then
        raise EndOfInput

    def say(self, text: str = "", *, emphasis: bool = False) -> None:
        self.said.append(text)

    def warn(self, text: str) -> None:
        self.warned.append(text)

    @property
    def output(self) -> str:
        return "\n".join(self.said)


def _fill(path: Path, script: Script, answered_by: str = "ann", **options: Any) -> FillReport:
    """One interview on the record at ``path``, answered by ``script``."""
    library = ChecklistLibrary.discover()
    return interview(path, library, script, answered_by=answered_by, **options)


# --------------------------------------------------------------- real processes


def test_piped_answers_are_saved_and_fill_resumes_after_them(
    record: Callable[[int], Path],
) -> None:
    path = record(3)
    first = _ids(path)[:4]
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    answers = (
        "y\nruns:/4f2a9c1d/model\nhttps://wiki.example.org/intended-use\n\nchecked by ann\n"
        "partial\ndocs/classification.md\n\n\n"
        "na\nthe system has no reward committee\n\n\n"
    )
    done = subprocess.run(
        [*GOVRL, "fill", str(path)],
        input=answers,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    assert _headers(done.stdout) == first  # the fourth was asked when input ran out
    assert "3 answers saved" in done.stdout
    saved = _answers(path)
    assert list(saved) == first[:3]
    one, two, three = (saved[i] for i in first[:3])
    assert one.answer is Answer.YES and one.notes == "checked by ann"
    assert one.evidence == ["runs:/4f2a9c1d/model", "https://wiki.example.org/intended-use"]
    assert two.answer is Answer.PARTIAL and two.evidence == ["docs/classification.md"]
    assert two.notes is None
    assert three.answer is Answer.NOT_APPLICABLE
    assert three.reason == "the system has no reward committee"
    for response in (one, two, three):
        assert response.answered_by == "ann"
        assert response.answered_at.utcoffset() == dt.timedelta(0)
        assert response.answered_at.microsecond == 0
        assert before <= response.answered_at <= dt.datetime.now(dt.UTC)
    _assert_intact(path)

    again = subprocess.run(
        [*GOVRL, "fill", str(path)],
        input="q\n",
        capture_output=True,
        text=True,
        env=_env(),
        timeout=TIMEOUT,
    )
    assert again.returncode == 0, again.stderr
    match = HEADER.search(again.stdout)
    assert match is not None and match.group(4) == first[3]
    assert match.group(1) == "1" and int(match.group(2)) == len(_ids(path))
    assert not any(i in again.stdout for i in first[:3])
    assert "stopped: 0 answers saved" in again.stdout


class _Conversation:
    """Reads a child's output with a deadline, so a hang fails instead of blocking CI."""

    def __init__(self, read_fd: int, write: Callable[[bytes], None]) -> None:
        self.read_fd, self.write = read_fd, write
        self.output, self.cursor = b"", 0
        self.deadline = time.monotonic() + TIMEOUT

    def _read(self, wait: float) -> bool:
        ready, _, _ = select.select([self.read_fd], [], [], wait)
        if not ready:
            return True
        try:
            chunk = os.read(self.read_fd, 65536)
        except OSError:  # a pty's reader gets EIO once the child has closed it
            chunk = b""
        self.output += chunk
        return bool(chunk)

    def expect(self, text: str) -> None:
        wanted = text.encode()
        while (found := self.output.find(wanted, self.cursor)) < 0:
            left = self.deadline - time.monotonic()
            if left <= 0 or not self._read(min(left, 0.5)):
                shown = self.output.decode(errors="replace")
                pytest.fail(f"never saw {text!r}; output:\n{shown}")
        self.cursor = found + len(wanted)

    def answer(self, word: str, evidence: list[str], notes: str = "", reason: str = "") -> None:
        self.expect(ANSWER_PROMPT)
        self.write(f"{word}\n".encode())
        if reason:
            self.expect("reason it does not apply (required): ")
            self.write(f"{reason}\n".encode())
        for ref in [*evidence, ""]:
            self.expect("  > ")
            self.write(f"{ref}\n".encode())
        self.expect("notes (blank for none): ")
        self.write(f"{notes}\n".encode())

    def drain(self) -> None:
        while time.monotonic() < self.deadline and self._read(0.1):
            pass


def _wait(pid: int, conversation: _Conversation) -> int:
    while time.monotonic() < conversation.deadline:
        conversation._read(0.05)
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            conversation.drain()
            return os.waitstatus_to_exitcode(status)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail(f"still running; output:\n{conversation.output.decode(errors='replace')}")


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Callable[[list[str]], tuple[int, _Conversation]]]:
    """Run govrl on a real pseudo-terminal, as a person at a keyboard would."""
    children: list[tuple[int, int]] = []

    def spawn(args: list[str]) -> tuple[int, _Conversation]:
        env = _env()
        pid, fd = pty.fork()
        if pid == 0:  # the child: become govrl at once
            try:
                os.chdir(tmp_path)
                os.execve(GOVRL[0], [*GOVRL, *args], env)
            finally:
                os._exit(127)
        children.append((pid, fd))

        def write(data: bytes) -> None:
            os.write(fd, data)

        return pid, _Conversation(fd, write)

    yield spawn
    for pid, fd in children:
        try:
            if os.waitpid(pid, os.WNOHANG) == (0, 0):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        os.close(fd)


def test_ctrl_c_on_a_terminal_keeps_every_earlier_answer(
    record: Callable[[int], Path],
    terminal: Callable[[list[str]], tuple[int, _Conversation]],
) -> None:
    path = record(3)
    first = _ids(path)[:3]
    pid, talk = terminal(["fill", str(path)])
    talk.answer("y", ["docs/intended-use.md"], "first")
    talk.expect(f"saved {first[0]}: yes")
    talk.answer("no", [])
    talk.expect(f"saved {first[1]}: no")
    talk.expect(ANSWER_PROMPT)
    talk.write(b"p\n")
    talk.expect("  > ")
    talk.write(b"docs/half-typed")
    talk.write(b"\x03")
    assert _wait(pid, talk) == 130
    shown = talk.output.decode(errors="replace")
    assert f"stopped: 2 answers saved; run `govrl fill {path}` to continue" in shown
    assert "Traceback" not in shown
    saved = _answers(path)
    assert list(saved) == first[:2]
    assert saved[first[0]].evidence == ["docs/intended-use.md"]
    assert saved[first[1]].answer is Answer.NO
    _assert_intact(path)


def test_kill_9_mid_interview_loses_no_saved_answer(record: Callable[[int], Path]) -> None:
    path = record(3)
    first = _ids(path)[:3]
    child = subprocess.Popen(
        [*GOVRL, "fill", str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=_env(),
    )
    assert child.stdin is not None and child.stdout is not None
    stdin = child.stdin

    def write(data: bytes) -> None:
        stdin.write(data)
        stdin.flush()

    talk = _Conversation(child.stdout.fileno(), write)
    try:
        talk.answer("p", ["runs:/abc/model", "s3://bucket/eval.json"], "partly done")
        talk.expect(f"saved {first[0]}: partial")
        talk.answer("na", [], reason="no clinicians are in the loop")
        talk.expect(f"saved {first[1]}: not-applicable")
        talk.expect(ANSWER_PROMPT)
        write(b"y\ndocs/one.md\n")
        talk.expect("docs/one.md")
        talk.expect("  > ")
    finally:
        child.kill()
        child.wait(TIMEOUT)
        stdin.close()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    saved = _answers(path)
    assert list(saved) == first[:2]
    assert saved[first[0]].evidence == ["runs:/abc/model", "s3://bucket/eval.json"]
    assert saved[first[1]].reason == "no clinicians are in the loop"
    _assert_intact(path)


# ----------------------------------------------------------------- interview


def test_a_bad_word_and_a_missing_reason_are_asked_again(record: Callable[[int], Path]) -> None:
    path = record(3)
    ids = _ids(path)
    talk = Script("maybe\nyess\nna\n\n  \nno ICU use\n\n\n")
    report = _fill(path, talk, answered_by="Bo")
    assert report.stopped is Stop.END_OF_INPUT and report.cut_off is None
    assert talk.output.count(ANSWER_HELP) == 2
    assert talk.output.count("a not-applicable answer needs a reason") == 2
    assert talk.asked == [
        *[ANSWER_PROMPT] * 3,
        *[REASON_PROMPT] * 3,
        EVIDENCE_PROMPT,
        NOTES_PROMPT,
        ANSWER_PROMPT,
    ]
    assert _headers(talk.output) == ids[:2]
    saved = _answers(path)
    assert list(saved) == ids[:1]
    assert saved[ids[0]].answer is Answer.NOT_APPLICABLE
    assert saved[ids[0]].reason == "no ICU use" and saved[ids[0]].answered_by == "Bo"
    assert f"end of input: 1 answer saved; run `govrl fill {path}` to continue" in talk.output


def test_input_ending_mid_item_saves_nothing_of_it(record: Callable[[int], Path]) -> None:
    path = record(3)
    ids = _ids(path)
    report = _fill(path, talk := Script("y\n\n\nn\ndocs/a.md\n"))
    assert report.stopped is Stop.END_OF_INPUT and report.cut_off == ids[1]
    assert list(_answers(path)) == ids[:1]
    assert f"{ids[1]} was cut off and not saved" in talk.output


def test_skip_leaves_an_item_pending_and_quit_stops_cleanly(
    record: Callable[[int], Path],
) -> None:
    path = record(3)
    path.write_text("# reviewed every Monday\n" + path.read_text())
    ids = _ids(path)
    report = _fill(path, talk := Script("s\ny\n\n\nq\n"))
    assert report.stopped is Stop.QUIT
    assert [i for _, i in report.skipped] == ids[:1] and [i for _, i in report.saved] == [ids[1]]
    assert _headers(talk.output) == ids[:3]
    assert list(_answers(path)) == [ids[1]]
    assert "stopped: 1 answer saved" in talk.output
    assert path.read_text().startswith("# reviewed every Monday\n")  # comments survive saving
    _fill(path, again := Script("q\n"))
    assert _headers(again.output) == [ids[0]]


def test_all_asks_answered_items_again_and_replaces_the_answer(
    record: Callable[[int], Path],
) -> None:
    path = record(3)
    ids = _ids(path)
    _fill(path, Script("y\ndocs/old.md\n\n\nq\n"))
    assert _answers(path)[ids[0]].answer is Answer.YES
    _fill(path, plain := Script("q\n"))
    assert _headers(plain.output) == [ids[1]]
    revisit = Script("n\ndocs/new.md\n\ngap found\nq\n")
    report = _fill(path, revisit, answered_by="Cy", include_answered=True)
    assert report.stopped is Stop.QUIT and report.pending == len(ids)
    assert _headers(revisit.output) == ids[:2]
    assert f"[1/{len(ids)}]" in revisit.output
    assert "Current answer: yes (ann" in revisit.output and "- docs/old.md" in revisit.output
    saved = _answers(path)[ids[0]]
    assert (saved.answer, saved.evidence, saved.notes) == (Answer.NO, ["docs/new.md"], "gap found")
    assert saved.answered_by == "Cy"


def test_section_and_checklist_narrow_the_interview(record: Callable[[int], Path]) -> None:
    path = record(3)
    library = ChecklistLibrary.discover()
    reward = [
        i.id
        for c in (library.get("general-rl"), library.get("healthcare"))
        for i in c.applicable(load_record(path).record.system.risk_tier)
        if i.section == "reward"
    ]
    assert any(i.startswith("HC-") for i in reward) and any(i.startswith("GEN-") for i in reward)
    by_section = _fill(path, talk := Script(), section="reward")
    assert by_section.stopped is Stop.END_OF_INPUT
    first = HEADER.search(talk.output)
    assert first is not None and first.group(2) == str(len(reward)) and first.group(4) == reward[0]
    answers = "y\n\n\n" * len(reward)
    assert _fill(path, Script(answers), section="reward").stopped is Stop.DONE
    assert sorted(_answers(path)) == sorted(reward)

    healthcare = [
        i.id
        for i in library.get("healthcare").applicable(load_record(path).record.system.risk_tier)
    ]
    _fill(path, by_checklist := Script("q\n"), checklist_id="healthcare")
    shown = HEADER.search(by_checklist.output)
    pending = [i for i in healthcare if i not in reward]
    assert shown is not None and shown.group(4) == pending[0]
    assert shown.group(2) == str(len(pending)) and shown.group(3) == "healthcare"


def test_an_interruption_keeps_every_earlier_answer_and_says_so_aside(
    record: Callable[[int], Path],
) -> None:
    path = record(3)
    ids = _ids(path)
    talk = Script("y\ndocs/a.md\n\n\np\ndocs/half", then=KeyboardInterrupt())
    report = _fill(path, talk)
    assert report.stopped is Stop.INTERRUPTED and report.cut_off is None
    assert list(_answers(path)) == ids[:1]
    assert talk.warned == [f"\nstopped: 1 answer saved; run `govrl fill {path}` to continue"]
    assert "stopped" not in talk.output
    _assert_intact(path)


def test_text_from_files_and_names_is_shown_without_control_characters(
    record: Callable[[int], Path],
) -> None:
    path = record(3)
    ids = _ids(path)
    _fill(path, Script("y\ndocs/\x1b[2Ja.md\n\n\n"), answered_by="Eve")
    _fill(path, talk := Script("q\n"), answered_by="Eve", include_answered=True)
    assert "    - docs/?a.md" in talk.output and "\x1b" not in talk.output
    assert _answers(path)[ids[0]].evidence == ["docs/\x1b[2Ja.md"]  # kept as given, shown safely
    with pytest.raises(UsageError, match="U\\+001B"):  # a name never holds one
        _fill(path, Script("q\n"), answered_by="Eve\x1b[2J")


def test_unknown_section_or_checklist_is_a_usage_error_naming_the_known_ones(
    runner: CliRunner, record: Callable[[int], Path]
) -> None:
    path = record(3)
    before = path.read_bytes()
    section = runner.invoke(main, ["fill", str(path), "--section", "rewards"], input="y\n")
    assert section.exit_code == 2
    assert "no section 'rewards'" in section.stderr and "reward," in section.stderr
    checklist = runner.invoke(main, ["fill", str(path), "--checklist", "finance"], input="y\n")
    assert checklist.exit_code == 2
    assert "attached: general-rl, healthcare" in checklist.stderr
    assert path.read_bytes() == before


def test_only_items_of_the_records_tier_are_asked(
    runner: CliRunner, record: Callable[[int], Path]
) -> None:
    path = record(1)
    library = ChecklistLibrary.discover()
    pending = pending_items(load_record(path).record, library)
    expected = [i.id for i in library.get("general-rl").items if 1 in i.tiers]
    assert [p.item.id for p in pending] == expected
    result = runner.invoke(main, ["fill", str(path), "--checklist", "healthcare"])
    assert result.exit_code == 0
    assert "nothing to answer" in result.output


def test_a_checklist_govrl_cannot_find_is_a_usage_error(
    runner: CliRunner, record: Callable[[int], Path]
) -> None:
    path = record(3)
    path.write_text(path.read_text().replace("- id: healthcare", "- id: veterinary"))
    with pytest.raises(UsageError, match="veterinary"):
        pending_items(load_record(path).record, ChecklistLibrary.discover())
    result = runner.invoke(main, ["fill", str(path)], input="y\n")
    assert result.exit_code == 2
    assert "veterinary" in result.stderr and "--checklists" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_save_answer_writes_one_answer_and_keeps_the_rest(record: Callable[[int], Path]) -> None:
    path = record(3)
    when = dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC)
    save_answer(
        path,
        "healthcare",
        "HC-01",
        ItemResponse(answer=Answer.YES, answered_by="ann", answered_at=when),
    )
    updated = save_answer(
        path,
        "general-rl",
        "GEN-IU-01",
        ItemResponse(answer=Answer.PARTIAL, evidence=["a.md"], answered_by="bo", answered_at=when),
    )
    assert {i: r.answer for c in updated.checklists for i, r in c.items.items()} == {
        "GEN-IU-01": Answer.PARTIAL,
        "HC-01": Answer.YES,
    }
    assert "answered_at: '2025-03-01T09:30:00Z'" in path.read_text()
    assert "items: {" not in path.read_text().split("GEN-IU-01")[0].split("general-rl")[-1]
    with pytest.raises(UsageError, match="finance"):
        save_answer(
            path,
            "finance",
            "FIN-01",
            ItemResponse(answer=Answer.NO, answered_by="x", answered_at=when),
        )
    _assert_intact(path)


# -------------------------------------------------------------------- import


def test_import_yaml_then_csv_reports_new_changed_and_unchanged(
    runner: CliRunner, record: Callable[[int], Path]
) -> None:
    path = record(3)
    yaml_run = runner.invoke(
        main, ["fill", str(path), "--answers", str(DATA / "answers-good.yaml"), "--as", "Ann Lee"]
    )
    assert yaml_run.exit_code == 0, yaml_run.output
    assert "3 answers: 3 new, 0 changed, 0 unchanged" in yaml_run.output
    saved = _answers(path)
    assert saved["GEN-IU-01"].evidence == ["docs/intended-use.md", "runs:/4f2a9c1d/model"]
    assert saved["GEN-IU-01"].answered_by == "Ann Lee"
    assert saved["GEN-RW-01"].evidence == ["docs/reward-spec.md"]
    assert saved["HC-01"].answered_by == "Grace Hopper"
    assert saved["HC-01"].reason == "Decision support only; not a medical device."
    first_time = saved["GEN-IU-01"].answered_at

    csv_run = runner.invoke(
        main, ["fill", str(path), "--answers", str(DATA / "answers-good.csv"), "--as", "Bo"]
    )
    assert csv_run.exit_code == 0, csv_run.output
    assert "3 answers: 1 new, 1 changed, 1 unchanged" in csv_run.output
    saved = _answers(path)
    assert saved["GEN-IU-01"].answered_by == "Ann Lee"  # unchanged: first author kept
    assert saved["GEN-IU-01"].answered_at == first_time
    assert saved["GEN-RW-01"].answer is Answer.YES and saved["GEN-RW-01"].answered_by == "Bo"
    assert saved["GEN-RW-01"].evidence[1] == "mlflow-artifacts:/7/4f2a9c1d/artifacts/reward.json"
    assert saved["HC-02"].evidence == ["s3://evidence/shift report.pdf"]
    assert saved["HC-02"].notes == "Shift study covers two sites;\na third is planned."
    _assert_intact(path)

    before = path.read_bytes()
    repeat = runner.invoke(
        main, ["fill", str(path), "--answers", str(DATA / "answers-good.csv"), "--json"]
    )
    assert repeat.exit_code == 0, repeat.output
    report = json.loads(repeat.output)
    assert report["new"] == report["changed"] == []
    assert report["unchanged"] == [
        "general-rl/GEN-IU-01",
        "general-rl/GEN-RW-01",
        "healthcare/HC-02",
    ]
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "answers-bad.yaml",
            [
                ":6 [1].item: no item 'GEN-IU-99' in checklist 'general-rl'",
                ":10 [2].answer: 'maybe' is not an answer",
                ":11 [3].reason: an item answered not-applicable needs a reason",
                ":15 [4].item: GEN-IU-04 does not apply at this record's tier 2",
                ":17 [5].checklist: checklist 'finance' is not attached",
                ":23 [6].evidance: is not a known field",
                ":24 [7].item: is required but missing",
                ":25 [7].answer: must be text",
            ],
        ),
        (
            "answers-bad.csv",
            [
                ":3 row 2 item: no item 'GEN-IU-99' in checklist 'general-rl'",
                ":4 row 3 answer: 'maybe' is not an answer",
                ":5 row 4 reason: an item answered not-applicable needs a reason",
                ":6 row 5 item: GEN-IU-04 does not apply at this record's tier 2",
                ":7 row 6 item: answers GEN-IU-01 a second time (first at row 1, line 2)",
                ":8 row 7 item: is required but missing",
            ],
        ),
    ],
)
def test_a_bad_answers_file_reports_every_problem_and_writes_nothing(
    runner: CliRunner, record: Callable[[int], Path], name: str, expected: list[str]
) -> None:
    path = record(2)
    before = path.read_bytes()
    result = runner.invoke(main, ["fill", str(path), "--answers", str(DATA / name)])
    assert result.exit_code == 1
    lines = result.stderr.removeprefix("error: ").splitlines()
    assert len(lines) == len(expected)
    for line, wanted in zip(lines, expected, strict=True):
        assert line.startswith(str(DATA / name) + wanted), line
    assert "Traceback" not in result.output + result.stderr
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("suffix", "text", "message", "code"),
    [
        (".yaml", "- !!python/object/apply:os.system [echo hi]\n", "unsupported YAML tag", 1),
        (".yaml", "checklist: general-rl\n", "must be a YAML list of answers", 1),
        (".csv", "checklist,item,answr\n", "unknown column(s) answr; lacks column(s) answer", 1),
        (".csv", "checklist,item,answer,notes,notes\n", "repeats column(s) notes", 1),
        (".csv", 'checklist,item,answer\ngeneral-rl,"GEN-IU-01"x,yes\n', "malformed CSV", 1),
        (".json", "[]", "must be a .yaml, .yml or .csv file", 2),
    ],
)
def test_an_unreadable_answers_file_is_refused_without_a_traceback(
    runner: CliRunner,
    record: Callable[[int], Path],
    tmp_path: Path,
    suffix: str,
    text: str,
    message: str,
    code: int,
) -> None:
    path = record(3)
    before = path.read_bytes()
    answers = tmp_path / f"answers{suffix}"
    answers.write_text(text)
    result = runner.invoke(main, ["fill", str(path), "--answers", str(answers)])
    assert result.exit_code == code
    assert message in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert path.read_bytes() == before
