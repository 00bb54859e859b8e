"""Where the shipped templates and checklists live, installed or in a checkout."""

from __future__ import annotations

from pathlib import Path

from govrl.errors import EnvironmentFailure

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The shipped ``templates`` or ``checklists`` folder.

    A wheel carries them under ``govrl/_data``; a source checkout (or an
    editable install) has them beside the package.
    """
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise EnvironmentFailure(f"govrl's {name} folder is missing from this installation")
