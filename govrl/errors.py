"""Errors that explain themselves: what went wrong, where, and what to do."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located as precisely as we can."""

    message: str
    file: str | None = None
    line: int | None = None
    path: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "")
        if self.path:
            where = f"{where} {self.path}" if where else self.path
        return f"{where}: {self.message}" if where else self.message

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "path": self.path, "message": self.message}


class GovrlError(Exception):
    """The root of every error govrl reports to a user."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def diagnostics(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class UsageError(GovrlError):
    """The command was asked for something it cannot do as given."""

    exit_code = 2


class EnvironmentFailure(GovrlError):
    """Something outside govrl failed: a server, a system library, the disk."""

    exit_code = 3


class InputError(GovrlError):
    """An input file could not be read or parsed."""

    def __init__(self, problems: list[Problem], *, what: str = "input") -> None:
        self.problems = problems
        first = str(problems[0]) if problems else what
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(first + more)

    def diagnostics(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class RecordInvalid(InputError):
    """An assessment record broke the schema or a cross-field rule."""


class RecordUnfinished(RecordInvalid):
    """A record that fails `govrl validate` (placeholders included) and so goes no further."""

    def __init__(self, problems: list[Problem], file: str, *, embedded: bool = False) -> None:
        super().__init__(problems, what="record")
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        todo = (
            "render it again from a record that passes `govrl validate`"
            if embedded
            else f"run `govrl validate {file}` first"
        )
        self.hint = f"the record is not finished ({count}); {todo}"

    def diagnostics(self) -> str:
        return f"{super().diagnostics()}\n{self.hint}"


class LockTimeout(EnvironmentFailure):
    """Another govrl process holds the file for too long."""
