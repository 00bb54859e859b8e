"""What `govrl validate` builds on its way: one validator for the whole record, and the
section models each on their first use of their own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "grid-frequency-control.yaml"

BUILT_AFTER = """
import sys
from pydantic import BaseModel
from govrl.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    assert exit.code in (0, None), exit.code

def models(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from models(sub)

print(sorted({
    m.__name__ for m in models(BaseModel)
    if m.__module__.startswith('govrl.record.') and m.__pydantic_complete__
}))
"""


def test_validate_builds_one_validator_for_the_record_not_one_per_model() -> None:
    done = subprocess.run(
        [sys.executable, "-c", BUILT_AFTER, "validate", str(EXAMPLE)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "['AssessmentRecord']"


def test_a_section_model_validates_on_its_own_and_on_assignment() -> None:
    from govrl.record.base import Bounds
    from govrl.record.files import load_record

    with pytest.raises(ValidationError, match="ci_low"):
        Bounds(value=0.5, ci_low=0.9, ci_high=0.1, ci_level=0.95)
    record = load_record(EXAMPLE).record
    with pytest.raises(ValidationError, match="finite"):
        record.evaluation.metrics[0].value = float("nan")
    with pytest.raises(ValidationError):
        record.system.version = 3  # type: ignore[assignment]
