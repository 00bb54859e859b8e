"""Page one tells the story, and nothing a document states is cut short or over-precise.

Both shipped examples, both kinds, under the policies they are bound to, as PDF (read back
with pdftotext) and as HTML.
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re
import subprocess
from pathlib import Path

import pytest

from govrl.documents.numbers import PLAIN_DIGITS
from govrl.documents.render import Format, Kind, render
from govrl.documents.view import _legible, _precision, _result_lines, _worst_subgroup
from govrl.record import AssessmentRecord
from govrl.record.files import load_record
from govrl.review.checklist import ChecklistLibrary
from govrl.review.gate import Decision, decide
from govrl.review.policy import Policy, load_policy
from tests.support.paths import EXAMPLES

pytestmark = [pytest.mark.pdf, pytest.mark.slow]

DATE = dt.date(2026, 12, 4)
EXAMPLE_POLICIES = {
    "sepsis-offline-rl": "sepsis",
    "grid-frequency-control": "grid",
}
CASES = [(name, kind) for name in EXAMPLE_POLICIES for kind in (Kind.APPROVAL, Kind.MODEL_CARD)]
LIBRARY = ChecklistLibrary.discover()


def _example(name: str) -> tuple[AssessmentRecord, Policy]:
    record = load_record(EXAMPLES / f"{name}.yaml").record
    return record, load_policy(EXAMPLES / "policies" / f"{EXAMPLE_POLICIES[name]}.yaml")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, Kind], Path]:
    folder = tmp_path_factory.mktemp("examples")
    found = {}
    for name, kind in CASES:
        record, policy = _example(name)
        out = folder / f"{name}-{kind.value}.pdf"
        out.write_bytes(render(record, kind=kind, policy=policy, library=LIBRARY, on=DATE).content)
        found[(name, kind)] = out
    return found


def text_of(pdf: Path, page: int | None = None) -> str:
    pages = ["-f", str(page), "-l", str(page)] if page else []
    done = subprocess.run(
        ["pdftotext", *pages, str(pdf), "-"], capture_output=True, text=True, check=True
    )
    return done.stdout


RUNNING = re.compile(
    r"^\f?(Record sha256:[0-9a-f]{64}|Page \d+ of \d+|govrl · .*|.* · version [\w.+-]+)$",
    re.MULTILINE,
)


def flat(text: str) -> str:
    """Text without running heads and feet, line breaks, spaces or hyphens: a PDF wraps lines
    and breaks pages where it likes."""
    return re.sub(r"[\s\-\u00ad]", "", RUNNING.sub("", text))


def decision_of(name: str) -> tuple[AssessmentRecord, Decision]:
    record, policy = _example(name)
    return record, decide(record, policy, LIBRARY, today=DATE)


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_page_one_tells_the_story(
    rendered: dict[tuple[str, Kind], Path], name: str, kind: Kind
) -> None:
    record, decision = decision_of(name)
    page_one = text_of(rendered[(name, kind)], 1)
    squeezed = flat(page_one)
    assert flat(decision.verdict.value.replace("-", " ")).lower() in squeezed.lower()
    assert "Requestedscope" in squeezed
    assert record.deployment.requested_stage is not None
    assert flat(record.deployment.requested_stage) in squeezed
    results = _result_lines(record, decision.gates)
    assert results
    for line in results:
        assert flat(line.label) in squeezed, line.label
        assert flat(f"{line.estimate} {line.interval}") in squeezed, line
    worst = _worst_subgroup(record)
    assert worst is not None and "Worstsubgroup" in squeezed
    assert flat(worst) in squeezed
    failed = [t for t in record.evaluation.stress_tests if t.passed is False]
    assert failed
    for test in failed:
        assert flat(test.scenario) in squeezed, test.scenario


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_the_summary_states_negatives_and_conditions_in_full_before_any_detail(
    rendered: dict[tuple[str, Kind], Path], name: str, kind: Kind
) -> None:
    record, decision = decision_of(name)
    decision = _legible(decision, _precision(record))  # numbers restated as documents show them
    text = flat(text_of(rendered[(name, kind)]))
    # The first numbered section after the summary is where the detail starts.
    detail = text.index("2Intendeduse" if kind is Kind.MODEL_CARD else "2Decision")
    summary = text[:detail]
    for negative in record.evaluation.negative_results:
        assert flat(negative) in summary, negative
    for item in decision.condition_items:
        reason = re.sub(r" \[[\w.-]+\]$", "", item.text)  # conditions one gate raises share a line
        assert flat(reason) in summary, item.text
    for blocker in decision.blockers:
        assert flat(re.sub(r" \[[\w.-]+\]$", "", blocker)) in summary, blocker


DECIMAL = re.compile(r"(?<![\w.])-?\d[\d,]*\.\d+(?![\w.])")
INTERVAL = re.compile(r"\[(-?[\d,]+(?:\.\d+)?), (-?[\d,]+(?:\.\d+)?)\]")
ELLIPSIS = re.compile(r"…|\w\.\.\.(?!\.)")


def _significant(token: str) -> int:
    digits = token.replace("-", "").replace(",", "").replace(".", "").lstrip("0")
    return len(digits)


def _decimals(token: str) -> int:
    return len(token.partition(".")[2])


@pytest.mark.parametrize(("name", "kind"), CASES)
@pytest.mark.parametrize("fmt", [Format.PDF, Format.HTML])
def test_nothing_is_cut_short_or_over_precise(
    rendered: dict[tuple[str, Kind], Path], name: str, kind: Kind, fmt: Format
) -> None:
    if fmt is Format.PDF:
        text = text_of(rendered[(name, kind)])
    else:
        record, policy = _example(name)
        page = render(record, kind=kind, fmt=fmt, policy=policy, library=LIBRARY, on=DATE)
        text = html_lib.unescape(re.sub(r"<[^>]+>", " ", page.content.decode()))
        text = re.sub(r"<style.*?</style>", "", text, flags=re.DOTALL)
    assert not ELLIPSIS.search(text), ELLIPSIS.search(text)
    too_precise = [t for t in DECIMAL.findall(text) if _significant(t) > PLAIN_DIGITS]
    assert not too_precise
    for low, high in INTERVAL.findall(text):
        # both ends to the same decimals: [0.210, 0.238], never [0.21, 0.238]
        assert _decimals(low) == _decimals(high), (low, high)


def test_a_value_is_shown_to_the_precision_of_its_interval(
    rendered: dict[tuple[str, Kind], Path],
) -> None:
    record, _ = _example("sepsis-offline-rl")
    text = text_of(rendered[("sepsis-offline-rl", Kind.MODEL_CARD)])
    assert "[0.210, 0.238]" in text and "[0.21, 0.238]" not in text
    assert "[6.55, 9.30]" in text
