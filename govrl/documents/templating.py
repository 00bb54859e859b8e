"""Sandboxed, autoescaped Jinja2 templates, confined to one folder, with located errors."""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from govrl.documents.numbers import format_number
from govrl.documents.view import (
    direction,
    interval,
    measured,
    percent,
    provenance,
    timestamp,
)
from govrl.errors import GovrlError
from govrl.record.files import PLACEHOLDER

if TYPE_CHECKING:
    from jinja2 import BaseLoader, Environment


class TemplateFailure(GovrlError):
    """A template could not be loaded or rendered; names the template and line."""


def _confined_loader(root: Path) -> BaseLoader:
    from jinja2 import FileSystemLoader, TemplateNotFound

    real_root = os.path.realpath(root)

    class ConfinedLoader(FileSystemLoader):
        """Refuses templates whose real path (after symlinks) leaves the folder."""

        def get_source(
            self, environment: Environment, template: str
        ) -> tuple[str, str, Callable[[], bool]]:
            source, filename, uptodate = super().get_source(environment, template)
            real = os.path.realpath(filename)
            if os.path.commonpath([real, real_root]) != real_root:
                raise TemplateNotFound(
                    f"{template} (its real path {real} is outside the template folder)"
                )
            return source, filename, uptodate

    return ConfinedLoader(str(root), followlinks=False)


def template_digest(root: Path) -> str:
    """The template folder's identity: the SHA-256 of a ``sha256sum`` listing of every file in
    it, by path relative to it, sorted bytewise; links that leave the folder are left out."""
    real_root = os.path.realpath(root)
    listing = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            real = os.path.realpath(path)
            # A link out of the folder is no part of it: rendering never reads it either.
            if path.is_file() and os.path.commonpath([real, real_root]) == real_root:
                relative = path.relative_to(root).as_posix()
                listing.append((relative, hashlib.sha256(path.read_bytes()).hexdigest()))
    text = "".join(f"{digest}  {name}\n" for name, digest in sorted(listing))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _dash_for_none(value: Any) -> Any:
    """None as a dash; a placeholder left from `govrl init` highlighted, so a draft shows it."""
    if value is None:
        return "—"
    if isinstance(value, str) and value.startswith(PLACEHOLDER):
        from markupsafe import Markup, escape

        return Markup('<mark class="placeholder">') + escape(value) + Markup("</mark>")
    return value


_JOINT = re.compile(r"(?<=[A-Za-z0-9][_/])(?=[A-Za-z0-9])")


def breakable(value: Any) -> Any:
    """Text, escaped, that may wrap after the ``_`` and ``/`` inside identifiers and paths.

    A narrow table column then wraps ``soc_hard_violations`` after an underscore instead of
    splitting a word; dots are left alone, so numbers never break.
    """
    from markupsafe import Markup, escape

    if value is None:
        return value
    return Markup(_JOINT.sub("<wbr>", str(escape(value))))


@functools.cache
def environment(root: Path, *, finalize: Callable[[Any], Any] | None = None) -> Environment:
    """An HTML environment (autoescaped) or, given an escaping ``finalize``, a Markdown one.

    Built once per folder and kind per process, so a batch parses each template once; the
    loader still notices a template edited on disk since.
    """
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(
        loader=_confined_loader(root),
        autoescape=finalize is None,
        undefined=StrictUndefined,
        finalize=finalize or _dash_for_none,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        num=format_number,
        ci=interval,
        prov=provenance,
        when=timestamp,
        direction=direction,
        pct=percent,
        measured=measured,
        breakable=breakable,
    )
    return env


def render_template(env: Environment, name: str, root: Path, context: dict[str, Any]) -> str:
    """Render ``name``; any failure becomes a TemplateFailure naming template and line."""
    from jinja2 import TemplateError, TemplateNotFound, TemplateSyntaxError

    try:
        return env.get_template(name).render(context)
    except TemplateSyntaxError as exc:
        where = f"{exc.filename or exc.name or name}:{exc.lineno}"
        raise TemplateFailure(
            f"{where}: template error: {exc.message}",
            hint="fix the template, or render with govrl's shipped templates",
        ) from None
    except TemplateNotFound as exc:
        raise TemplateFailure(
            f"template {exc.name!r} not found in {root}",
            hint="a template folder needs every template govrl renders "
            "(copy govrl's templates folder and edit the copy)",
        ) from None
    except (TemplateError, ArithmeticError, LookupError, TypeError, ValueError) as exc:
        where = _template_frame(exc.__traceback__, root) or name
        raise TemplateFailure(
            f"{where}: template error: {type(exc).__name__}: {exc}",
            hint="fix the template, or render with govrl's shipped templates",
        ) from None


def _template_frame(tb: TracebackType | None, root: Path) -> str | None:
    """``file:line`` of the innermost traceback frame that runs a template in ``root``."""
    real_root = os.path.realpath(root)
    found = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith(real_root) or filename.startswith(str(root)):
            found = f"{filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found
