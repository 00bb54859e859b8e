"""Where a command may write: never over its own input or a signed document unless asked."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from govrl.errors import UsageError
from govrl.safetext import printable

OVERWRITE_FLAG = "--overwrite"
_CHUNK = 1 << 20
# Every PDF signature dictionary has one; a file that holds it is treated as signed.
_SIGNATURE_KEY = b"/ByteRange"


def is_signed_pdf(path: Path) -> bool:
    """Whether ``path`` is a PDF that holds a signature (judged from its bytes, quickly)."""
    try:
        with path.open("rb") as handle:
            if b"%PDF-" not in handle.read(1024):
                return False
            handle.seek(0)
            tail = b""
            while chunk := handle.read(_CHUNK):
                if _SIGNATURE_KEY in tail + chunk:
                    return True
                tail = chunk[-len(_SIGNATURE_KEY) :]
    except OSError:
        return False
    return False


def _same(one: Path, other: Path) -> bool:
    try:
        return os.path.samefile(one, other)
    except OSError:
        return False


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):
        return False


def check_output(
    output: Path,
    *,
    inputs: Iterable[Path] = (),
    folders: Iterable[Path] = (),
    overwrite: bool = False,
) -> None:
    """Refuse to write ``output`` over an input file, into an input folder, or over a signed
    PDF, unless ``overwrite``."""
    if overwrite or str(output) == "-":
        return
    shown = printable(str(output))
    hint = f"choose another -o, or pass {OVERWRITE_FLAG} to replace it"
    for given in inputs:
        if output.exists() and _same(output, given):
            raise UsageError(
                f"{shown} is this command's input; writing there would replace it", hint=hint
            )
    for folder in folders:
        if _inside(output, folder):
            raise UsageError(
                f"{shown} is inside {printable(str(folder))}, which this command reads",
                hint=hint,
            )
    if output.is_file() and is_signed_pdf(output):
        raise UsageError(
            f"{shown} is a signed PDF; writing there would destroy its signatures", hint=hint
        )
