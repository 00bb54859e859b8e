"""Every kind of document, as PDF and Markdown, shows text whole and numbers to the precision
their evidence supports: nothing cut short with an ellipsis, no raw float."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import govrl.documents.html_to_pdf as html_to_pdf_module
from govrl.documents.numbers import decimals_for, format_number
from govrl.documents.render import Format, Kind, render
from govrl.record import AssessmentRecord
from govrl.record.files import load_record
from govrl.review.checklist import ChecklistLibrary
from govrl.review.policy import Policy, load_policy
from tests.support.paths import EXAMPLES

pytestmark = [pytest.mark.pdf, pytest.mark.slow]

DATE = dt.date(2026, 5, 1)
EXAMPLES_POLICIES = {"sepsis-offline-rl": "sepsis", "grid-frequency-control": "grid"}
KINDS = list(Kind)
LIBRARY = ChecklistLibrary.discover()
# Five or more decimals carrying four or more significant digits is float noise or a computed
# ratio printed raw (0.30000000000000004, 0.0115719), never a reading; 0.00762 is a reading.
DECIMAL = re.compile(r"(?<![\w.:])\d+\.\d{5,}(?![\w.])")
ELLIPSIS = re.compile(r"…|\w\.\.\.(?!\.)")


def _example(name: str) -> tuple[AssessmentRecord, Policy]:
    record = load_record(EXAMPLES / f"{name}.yaml").record
    return record, load_policy(EXAMPLES / "policies" / f"{EXAMPLES_POLICIES[name]}.yaml")


def _pdf_text(content: bytes, folder: Path) -> str:
    pdf = folder / "document.pdf"
    pdf.write_bytes(content)
    done = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True)
    return done.stdout


def _boxes(box: Any, kind: str) -> list[Any]:
    return [b for b in box.descendants() if type(b).__name__ == kind]


def _key_value_rows(document: Any) -> list[tuple[int, str, int, bool]]:
    """Each key-value row of a laid-out document, per page it reaches: the page, the key,
    how many lines the key takes there, and whether any line of the value is beside it."""
    rows = []
    for number, page in enumerate(document.pages, 1):
        for box in page._page_box.descendants():
            if getattr(box, "element_tag", None) != "div" or not hasattr(box, "children"):
                continue
            parts = {getattr(child, "element_tag", None): child for child in box.children}
            if "dt" in parts:
                key = " ".join(t.text.strip() for t in _boxes(parts["dt"], "TextBox"))
                value = parts.get("dd")
                beside = value is not None and bool(_boxes(value, "LineBox"))
                rows.append((number, key, len(_boxes(parts["dt"], "LineBox")), beside))
    return rows


@dataclass
class Rendered:
    texts: dict[tuple[str, Kind, Format], str]
    rows: dict[tuple[str, Kind], list[tuple[int, str, int, bool]]]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """Every kind for both examples: the PDF's text read back, the Markdown, and the key-value
    rows of the PDF as WeasyPrint laid them out."""
    folder = tmp_path_factory.mktemp("typography")
    found = Rendered({}, {})
    laid_out: list[Any] = []
    original = html_to_pdf_module._set_metadata

    def keep(document: Any, *args: Any) -> None:
        laid_out.append(_key_value_rows(document))
        original(document, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(html_to_pdf_module, "_set_metadata", keep)
        for name in EXAMPLES_POLICIES:
            record, policy = _example(name)
            for kind in KINDS:
                for fmt in (Format.PDF, Format.MD):
                    done = render(
                        record, kind=kind, fmt=fmt, policy=policy, library=LIBRARY, on=DATE
                    )
                    if fmt is Format.PDF:
                        found.texts[(name, kind, fmt)] = _pdf_text(done.content, folder)
                        found.rows[(name, kind)] = laid_out.pop()
                    else:
                        found.texts[(name, kind, fmt)] = done.content.decode()
    return found


@pytest.fixture(scope="module")
def texts(rendered: Rendered) -> dict[tuple[str, Kind, Format], str]:
    return rendered.texts


CASES = [
    pytest.param(name, kind, fmt, id=f"{name}-{kind.value}-{fmt.value}")
    for name in EXAMPLES_POLICIES
    for kind in KINDS
    for fmt in (Format.PDF, Format.MD)
]


@pytest.mark.parametrize(("name", "kind", "fmt"), CASES)
def test_no_text_is_cut_short(
    texts: dict[tuple[str, Kind, Format], str], name: str, kind: Kind, fmt: Format
) -> None:
    text = texts[(name, kind, fmt)]
    assert text.strip(), "the document has no text to check"
    found = ELLIPSIS.search(text)
    assert found is None, text[max(0, found.start() - 80) : found.end() + 20]


@pytest.mark.parametrize(("name", "kind", "fmt"), CASES)
def test_no_number_is_printed_raw(
    texts: dict[tuple[str, Kind, Format], str], name: str, kind: Kind, fmt: Format
) -> None:
    text = texts[(name, kind, fmt)]
    raw = [t for t in DECIMAL.findall(text) if len(t.replace(".", "").lstrip("0")) >= 4]
    assert not raw, f"numbers printed with float noise or unrounded: {sorted(set(raw))}"


def _identifiers(record: AssessmentRecord) -> set[str]:
    """Names a reader copies into a query or a mail: monitoring metrics and e-mail addresses."""
    system = record.system
    found = {m.name for m in record.monitoring.metrics}
    found |= {c.email for c in [system.owner, *system.contacts] if c.email}
    return found


def _split_inside_a_word(text: str, token: str) -> str | None:
    """Where ``token`` wraps from one line to the next between two letters or digits."""
    lines = [line.strip() for line in text.splitlines()]
    for before, after in zip(lines, lines[1:], strict=False):
        for cut in range(1, len(token)):
            head, tail = token[:cut], token[cut:]
            joint = head[-1].isalnum() and tail[0].isalnum()
            if joint and before.endswith(head) and after.startswith(tail):
                return f"{head}|{tail}"
    return None


@pytest.mark.parametrize(("name", "kind"), [(n, k) for n in EXAMPLES_POLICIES for k in KINDS])
def test_identifiers_wrap_only_between_their_parts(
    texts: dict[tuple[str, Kind, Format], str], name: str, kind: Kind
) -> None:
    text = texts[(name, kind, Format.PDF)]
    tokens = _identifiers(_example(name)[0])
    assert len(tokens) > 5
    assert any(token in text.replace("\n", "") for token in tokens)
    broken = {t: cut for t in tokens if (cut := _split_inside_a_word(text, t))}
    assert not broken, f"split inside a word: {broken}"


def _noisy(record: AssessmentRecord) -> AssessmentRecord:
    """The record with every estimate that has an interval given float noise beyond it, as a
    computation upstream might leave it: 0.201 recorded as 0.20100000123."""
    data = record.model_dump(mode="json", exclude_none=True)
    ev = data["evaluation"]
    for entry in [*ev["metrics"], *ev["off_policy"], *ev["stress_tests"], *ev["subgroups"]]:
        if "ci_low" in entry and "ci_high" in entry and "value" in entry:
            entry["value"] = entry["value"] + 1.23e-9
            entry.get("provenance", {}).pop("value_sha256", None)
    return AssessmentRecord.model_validate(data)


@pytest.mark.parametrize("name", list(EXAMPLES_POLICIES))
@pytest.mark.parametrize("kind", [Kind.MODEL_CARD, Kind.APPROVAL])
def test_estimates_are_shown_to_their_intervals_precision(name: str, kind: Kind) -> None:
    record, policy = _example(name)
    noisy = _noisy(record)
    text = render(noisy, kind=kind, fmt=Format.MD, policy=policy, library=LIBRARY, on=DATE)
    shown = text.content.decode()
    ev = noisy.evaluation
    checked = 0
    for x in [*ev.metrics, *ev.off_policy, *ev.stress_tests, *ev.subgroups]:
        if x.ci_low is None or x.ci_high is None or x.value is None:
            continue
        assert decimals_for(x.ci_low, x.ci_high) is not None
        assert repr(float(x.value)) not in shown, repr(float(x.value))
        if kind is Kind.MODEL_CARD:
            rounded = format_number(x.value, x.ci_low, x.ci_high)
            assert re.search(rf"(?<![\d.]){re.escape(rounded)}(?!\d)", shown), rounded
        checked += 1
    assert checked, "the example records no estimate with an interval"
    assert not [t for t in DECIMAL.findall(shown) if len(t.replace(".", "").lstrip("0")) >= 4]


@pytest.mark.parametrize(("name", "kind"), [(n, k) for n in EXAMPLES_POLICIES for k in KINDS])
def test_a_key_is_one_line_and_never_left_without_its_value(
    rendered: Rendered, name: str, kind: Kind
) -> None:
    rows = rendered.rows[(name, kind)]
    assert len(rows) > 20, "the document has too few key-value rows to check"
    wrapped = [f"page {page}: {key!r}" for page, key, lines, _ in rows if lines != 1]
    assert not wrapped, f"keys that wrap onto a second line: {wrapped}"
    alone = [f"page {page}: {key!r}" for page, key, _, beside in rows if not beside]
    assert not alone, f"keys left at the foot of a page without their value: {alone}"
