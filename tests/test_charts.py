"""Charts: every label placed by its start, aligned from the font's widths, so a document
carries no Form XObject per label, however many subgroups and gates it charts."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import io
import re
from typing import Any

import pytest
from pypdf import PdfReader

from govrl.documents import charts
from govrl.documents.render import Kind, render
from govrl.record import AssessmentRecord
from govrl.review.checklist import ChecklistLibrary
from govrl.review.policy import load_policy
from govrl.yamlio import load
from tests.support.paths import EXAMPLES

DATE = dt.date(2026, 5, 1)
GRID = EXAMPLES / "grid-frequency-control.yaml"
GRID_POLICY = load_policy(EXAMPLES / "policies" / "grid.yaml")
LIBRARY = ChecklistLibrary.discover()
TEXT = re.compile(r'<text (?:transform="[^"]*" )?x="([-\d.]+)" y="([-\d.]+)" font-size="([\d.]+)"'
                  r'[^>]*font-weight="(\w+)"[^>]*>([^<]*)</text>')  # fmt: skip


@dataclasses.dataclass
class Point:
    step: int
    value: float


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&#39;", "'").replace(
        "&#34;", '"').replace("&amp;", "&")  # fmt: skip


def labels(svg: str) -> list[tuple[float, float, float, str, str]]:
    """(x, y, size, weight, text) of every label in ``svg``."""
    return [
        (float(x), float(y), float(size), weight, unescape(text))
        for x, y, size, weight, text in TEXT.findall(svg)
    ]


def right_edge(label: tuple[float, float, float, str, str]) -> float:
    x, _, size, weight, text = label
    return x + charts.text_width(text, size=size, weight=weight)


CURVE = charts.learning_curve(
    [Point(i * 25_000, 8.0 - 1 / (i + 1)) for i in range(20)],
    y_label="expected return per episode, undiscounted, on the held-out cohort",
    band=(7.5, 8.2),
)
BARS = charts.interval_bars(
    [
        charts.Bar("sex: female", 0.208, 0.16, 0.26),
        charts.Bar(
            "age band: 80 and over, with a label far longer than its column", 0.28, 0.2, 0.4
        ),
        charts.Bar('region: <north> & "east"', 0.12, 0.06, 0.17, band=(0.1, None)),
        charts.Bar("no estimate", None, None, None),
    ],
    reference=0.2,
    reference_label="overall",
)
MARGINS = charts.gate_margins(
    [
        charts.Margin("↑ a gate · metrics/x", 0.4, "+0.4", True),
        charts.Margin("↓ another gate · metrics/y (against its direction)", -0.3, "-3", False),
        charts.Margin("a gate without evidence · metrics/z", None, "", False),
    ]
)


# ---------------------------------------------------------------- the SVG


@pytest.mark.parametrize("svg", [CURVE, BARS, MARGINS], ids=["curve", "bars", "margins"])
def test_no_label_is_anchored_at_its_end_or_middle(svg: str) -> None:
    assert 'text-anchor="end"' not in svg and 'text-anchor="middle"' not in svg
    assert svg.count("<text ") == svg.count('text-anchor="start"') > 0


def test_right_aligned_labels_end_together_before_the_plot() -> None:
    rows = [lb for lb in labels(BARS) if lb[1] in (31, 51, 71, 91) and lb[0] < 240]  # row labels
    assert len(rows) == 4
    for label in rows:
        assert label[0] >= 0  # nothing cut off at the left edge
        assert right_edge(label) == pytest.approx(240 - 6, abs=0.1)  # the plot starts at 240
    assert [r[2] for r in rows] == [9, rows[1][2], 9, 9] and rows[1][2] < 9
    assert rows[1][4] == "age band: 80 and over, with a label far longer than its column"
    assert rows[2][4] == 'region: <north> & "east"'
    gates = [label for label in labels(MARGINS) if "·" in label[4]]  # not the axis ticks
    assert {round(right_edge(label), 1) for label in gates} == {294.0}


def test_tick_labels_and_titles_are_centred() -> None:
    found = labels(CURVE)
    title = next(label for label in found if label[4] == "training step")
    assert (title[0] + right_edge(title)) / 2 == pytest.approx((62 + 640 - 16) / 2, abs=0.1)
    zero = next(label for label in labels(MARGINS) if label[4] == "0")
    assert (zero[0] + right_edge(zero)) / 2 == pytest.approx(300 + (640 - 300 - 56) / 2, abs=0.1)
    # The rotated axis title is centred on the plot's height: it starts half its width up.
    axis = next(label for label in found if label[4].startswith("expected return"))
    assert axis[4] == "expected return per episode, undiscounted, on the held-out cohort"
    assert axis[2] < 8.5  # made smaller to fit the plot's height, never cut short
    assert charts.text_width(axis[4], size=axis[2]) <= 2 * ((14 + 210 - 34) / 2 - 4)
    assert axis[0] == pytest.approx(-charts.text_width(axis[4], size=axis[2]) / 2, abs=0.1)


@pytest.mark.parametrize("svg", [CURVE, BARS, MARGINS], ids=["curve", "bars", "margins"])
def test_no_label_is_cut_short(svg: str) -> None:
    assert "…" not in svg and "..." not in svg


def test_widths_come_from_the_font() -> None:
    assert charts.text_width("WWWW", size=10) > 2 * charts.text_width("iiii", size=10)
    assert charts.text_width("0", size=10) == pytest.approx(10 * 1760 / 2816)  # Inter Regular
    assert charts.text_width("0", size=10, weight="bold") > charts.text_width("0", size=10)


def test_the_forest_plot_marks_its_reference() -> None:
    svg = charts.interval_bars(
        [charts.Bar("a", 2.0, 1.0, 3.0), charts.Bar("b", 8.0, 7.0, 9.0)],
        reference=5.0,
        reference_label="behaviour policy",
    )
    line = re.search(r'<line class="reference" x1="([\d.]+)" x2="([\d.]+)"', svg)
    assert line and line.group(1) == line.group(2)
    assert float(line.group(1)) == pytest.approx(240 + (640 - 240 - 56) / 2, abs=0.1)  # 5 of 10
    assert "behaviour policy 5" in svg
    assert 'class="reference"' not in charts.interval_bars([charts.Bar("a", 2.0, 1.0, 3.0)])


def test_a_long_chart_comes_in_parts_that_fit_a_page() -> None:
    margins = [charts.Margin(f"gate {n}", 0.5, "+1", True) for n in range(300)]
    svg = charts.gate_margins(margins)
    heights = [float(h) for h in re.findall(r'<svg [^>]*height="([\d.]+)"', svg)]
    assert len(heights) > 1 and max(heights) <= charts.PART_HEIGHT
    assert [label[4] for label in labels(svg) if label[4].startswith("gate ")] == [
        f"gate {n}" for n in range(300)
    ]  # every row once, in order


# ---------------------------------------------------------------- the PDF


def grid_with_subgroups(count: int) -> AssessmentRecord:
    """The grid example with ``count`` subgroup results for one metric, each judged by a gate."""
    data: dict[str, Any] = copy.deepcopy(load(GRID).data)
    first = data["evaluation"]["subgroups"][0]
    data["evaluation"]["subgroups"] = [
        {**first, "attribute": "feeder", "group": f"F{n:03d}",
         "value": 35.0 + n % 9, "ci_low": 33.0 + n % 9, "ci_high": 37.5 + n % 9}
        for n in range(count)
    ]  # fmt: skip
    return AssessmentRecord.model_validate(data)


def form_xobjects(pdf: bytes) -> int:
    """How many Form XObjects the PDF holds, wherever they are referenced from."""
    reader = PdfReader(io.BytesIO(pdf))
    count = 0
    for number in range(1, int(reader.trailer["/Size"])):
        try:
            obj = reader.get_object(number)
        except Exception:  # a free entry in the cross-reference table
            continue
        if hasattr(obj, "get") and obj.get("/Subtype") == "/Form":
            count += 1
    return count


@pytest.mark.pdf
@pytest.mark.slow
@pytest.mark.parametrize("kind", [Kind.APPROVAL, Kind.MODEL_CARD])
def test_the_number_of_form_xobjects_does_not_grow_with_the_subgroups(kind: Kind) -> None:
    counts = {}
    for subgroups in (10, 300):
        rendered = render(
            grid_with_subgroups(subgroups), kind=kind, policy=GRID_POLICY, library=LIBRARY, on=DATE
        )
        counts[subgroups] = form_xobjects(rendered.content)
    # What remains is not charts': the approval's signature field appearances.
    assert counts[300] == counts[10] <= 4, counts
